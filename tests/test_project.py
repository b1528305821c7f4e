"""The project a command works on: found from the cwd upward, -C, init, never the install."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.commands import run as run_here
from helpers.schema import NEW_FIELD

from codegen import project
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "schema"


def run(*args, cwd):
    p = subprocess.run(
        [sys.executable, "-m", "codegen", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )
    return p.returncode, p.stdout, p.stderr


def schema_summary(schema: Path) -> str:
    catalogue = compile_or_raise(schema)
    return f"{len(catalogue.fields)} fields in {len(catalogue.structs)} structs: schema is valid\n"


def outside_error(start: Path) -> str:
    return (
        f"tdx-codegen: error: no tdx-codegen project in {start.resolve()} or any parent "
        "directory (looked for tdx-codegen.toml or schema/settings.toml); run 'tdx-codegen "
        "init' to start one, use -C DIR to run in another directory, or give the paths "
        "(--schema, --out)\n"
    )


@pytest.fixture
def two_clones(tmp_path):
    """Two projects; B's schema lacks a field A has."""
    a, b = tmp_path / "a", tmp_path / "b"
    for clone in (a, b):
        shutil.copytree(SHIPPED, clone / "schema")
    path = b / "schema" / "31-module-extensions.toml"
    text = path.read_text()
    last = text.rindex("[[field]]")
    path.write_text(text[:last])
    return a, b


def test_outside_any_project_is_a_usage_error_naming_what_was_looked_for(tmp_path):
    for verb in (
        ["validate"],
        ["build"],
        ["build", "--check"],
        ["list"],
        ["explain", "-1"],
        ["sim", "--profile", "2.0.08", "walk"],
        ["compat", "HEAD~1", "HEAD"],
    ):
        assert run(*verb, cwd=tmp_path) == (2, "", outside_error(tmp_path)), verb
    assert list(tmp_path.iterdir()) == []


def test_found_from_a_subdirectory_and_each_clone_uses_its_own(two_clones):
    a, b = two_clones
    (b / "deep" / "er").mkdir(parents=True)
    assert run("validate", cwd=b / "deep" / "er") == (0, schema_summary(b / "schema"), "")
    assert run("validate", cwd=a / "schema") == (0, schema_summary(a / "schema"), "")
    assert schema_summary(a / "schema") != schema_summary(b / "schema")
    code, _, _ = run("build", cwd=b / "deep")
    assert code == 0 and (b / "generated" / "python").is_dir()
    assert not (a / "generated").exists()
    # B is current, A has never been built: --check judges each by its own files
    assert run("build", "--check", cwd=b / "schema")[0] == 0
    assert run("build", "--check", cwd=a)[0] == 1


def test_dash_c_runs_as_if_started_there(two_clones, tmp_path):
    a, b = two_clones
    assert run("-C", b / "schema", "validate", cwd=tmp_path) == (
        0,
        schema_summary(b / "schema"),
        "",
    )
    # paths on the command line are then DIR's, as with git -C and make -C
    assert run("-C", a, "validate", "--schema", "schema", cwd=tmp_path)[0] == 0
    assert run("-C", tmp_path / "nowhere", "validate", cwd=tmp_path) == (
        2,
        "",
        f"tdx-codegen: error: -C {tmp_path / 'nowhere'}: No such file or directory\n",
    )


def test_a_project_file_names_the_paths(tmp_path):
    shutil.copytree(SHIPPED, tmp_path / "meta" / "tdx")
    (tmp_path / "tdx-codegen.toml").write_text('[paths]\nschema = "meta/tdx"\nout = "gen"\n')
    (tmp_path / "src").mkdir()
    found = project.find(tmp_path / "src")
    assert found == project.Project(
        tmp_path, tmp_path / "meta" / "tdx", tmp_path / "gen", tmp_path / "tdx-codegen.toml"
    )
    assert run("build", cwd=tmp_path / "src")[0] == 0
    assert (tmp_path / "gen" / "python").is_dir()


@pytest.mark.parametrize(
    "text, problem",
    [
        (b"[paths\n", ":1:7: invalid TOML: Expected ']' at the end of a table declaration"),
        (
            b"\xef\xbb\xbf[paths]\n",
            ":1:1: invalid TOML: the file starts with a UTF-8 byte order mark (U+FEFF), which "
            "TOML does not allow; save it as UTF-8 without a BOM",
        ),
        (
            b'[paths]\nout = "\xff"\n',
            ":2:8: invalid TOML: not valid UTF-8 (invalid start byte 0xFF); save the file as UTF-8",
        ),
        (
            b"[paths]\nout = " + b"9" * 5000 + b"\n",
            ":2:7: invalid TOML: a number of 5000 digits (at most 4300)",
        ),
        (
            b"[paths]\nschema = 3\n",
            ": [paths] takes schema and out, as non-empty strings (bad: schema)",
        ),
        (
            b'[paths]\nsrc = "x"\n',
            ": [paths] takes schema and out, as non-empty strings (bad: src)",
        ),
        (b'schema = "x"\n', ": expected only a [paths] table (schema, out), found schema"),
        (
            b'[paths]\nout = "schema"\n',
            ":2:7: [paths] out 'schema' is the schema directory 'schema'",
        ),
        (
            b'[paths]\nschema = "generated"\n',
            ":2:10: [paths] out 'generated' is the schema directory 'generated'",
        ),
        (
            b'[paths]\nout = "schema/gen"\n',
            ":2:7: [paths] out 'schema/gen' is inside the schema directory 'schema'",
        ),
        (
            b'[paths]\nschema = "tdx"\nout = "."\n',
            ":3:7: [paths] out '.' holds the schema directory 'tdx'",
        ),
    ],
    ids=[
        "syntax",
        "bom",
        "not-utf8",
        "too-long-for-int",
        "not-a-string",
        "unknown-key",
        "no-table",
        "out-is-schema",
        "schema-is-out",
        "out-in-schema",
        "schema-in-out",
    ],
)
def test_a_bad_project_file_is_a_usage_error(tmp_path, text, problem):
    (tmp_path / "tdx-codegen.toml").write_bytes(text)
    if "directory" in problem:
        problem += ": keep the generated files in a directory of their own"
    code, out, err = run_here("validate", cwd=tmp_path)
    assert (code, out, err) == (
        2,
        "",
        f"tdx-codegen: error: {tmp_path / 'tdx-codegen.toml'}{problem}\n",
    )


@pytest.mark.parametrize(
    "args, problem",
    [
        (("--out", "schema"), "the output directory 'schema' is the schema directory 'schema'"),
        (
            ("--out", "schema/profiles"),
            "the output directory 'schema/profiles' is inside the schema directory 'schema'",
        ),
        (
            ("--schema", "gen/tdx", "--out", "gen"),
            "the output directory 'gen' holds the schema directory 'gen/tdx'",
        ),
    ],
)
def test_build_refuses_an_output_directory_that_holds_or_is_in_the_schema(tmp_path, args, problem):
    shutil.copytree(SHIPPED, tmp_path / "schema")
    shutil.copytree(SHIPPED, tmp_path / "gen" / "tdx")
    before = sorted(p for p in tmp_path.rglob("*"))
    code, out, err = run_here("build", *args, cwd=tmp_path)
    assert (code, out, err) == (
        2,
        "",
        f"tdx-codegen: error: {problem}: keep the generated files in a directory of their own\n",
    )
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written


def test_init_starts_a_project_from_the_built_in_catalogue(tmp_path):
    code, out, err = run("init", "proj", cwd=tmp_path)
    shipped = sorted(p.relative_to(SHIPPED).as_posix() for p in SHIPPED.rglob("*.toml"))
    assert (code, out) == (0, "")
    assert err.startswith(f"created proj/schema: {len(shipped)} files of the built-in catalogue\n")
    proj = tmp_path / "proj"
    assert (
        sorted(p.relative_to(proj / "schema").as_posix() for p in (proj / "schema").rglob("*.toml"))
        == shipped
    )
    for rel in shipped:
        assert (proj / "schema" / rel).read_bytes() == (SHIPPED / rel).read_bytes()
    from codegen.emitters.json_schema import TAPLO

    assert (proj / ".taplo.toml").read_text() == TAPLO  # editors find the JSON Schemas
    # built at once, and the build is current
    assert run("build", "--check", cwd=proj)[0] == 0
    for path in (ROOT / "generated").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert (proj / "generated" / path.relative_to(ROOT / "generated")).is_file(), path
    # a second init changes nothing
    before = sorted(proj.rglob("*"))
    assert run("init", cwd=proj) == (
        2,
        "",
        "tdx-codegen: error: schema exists: . is already a project (nothing was changed)\n",
    )
    assert sorted(proj.rglob("*")) == before


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


def test_compat_reads_revisions_of_the_projects_own_repository(tmp_path):
    """A project nested in a repository: revisions of that repository, at the schema's path."""
    repo = tmp_path / "repo"
    schema = repo / "sub" / "proj" / "schema"
    shutil.copytree(SHIPPED, schema)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "schema")
    path = schema / "18-td-control-structures.toml"
    path.write_text(path.read_text() + NEW_FIELD)
    git(repo, "commit", "-q", "-am", "add")
    code, out, err = run("compat", "HEAD~1", "HEAD", cwd=schema.parent / "schema")
    assert (code, err) == (0, "")
    assert out.startswith("compat HEAD~1 -> HEAD: 0 MODULE_ABI, 0 KERNEL_API, 1 ADDITIVE\n")
    assert "[HEAD:sub/proj/schema/18-td-control-structures.toml:" in out
