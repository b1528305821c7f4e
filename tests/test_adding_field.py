"""README's "Adding a field", followed step by step on a copy of the project, keeps CI green.

The field is the one README's example shows: the test edits the copy as the steps say, builds
it, and runs the tests that take facts from the shipped schema on the copy. A test that
hard-codes a count or a set of the schema's fields fails here, not for the next person who adds
a field. The default run takes the tests that derive counts and sets; `-m adding_field` (run by
.ci/run) takes the whole suite on the copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from codegen.abi.release import Release
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
CLI_DOC_WRITE = "python tests/test_cli_convention.py --write"  # README's step 5
GUARD = "TDX_CODEGEN_ADDING_FIELD"  # set in the inner run: it must not run this test again

# Tests that derive counts and sets of fields from the schema: quick, so the default run has them
DERIVING = [
    "tests/test_catalogue.py",
    "tests/test_intel_json.py",
    "tests/test_sim_profile.py",
    "tests/test_releases.py",
]

pytestmark = pytest.mark.skipif(GUARD in os.environ, reason="the inner run of this test")


def readme_steps() -> tuple[str, str, str]:
    """README's "Adding a field": its text, the file its example names, and the example."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Adding a field\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```toml\n(.*?)```", section, re.S)
    block = "\n".join(line.strip() for line in block.splitlines()) + "\n"
    first, _, field = block.partition("\n")
    assert first.startswith("# schema/"), first
    return section, first[2:], field


def follow_readme(project: Path) -> dict:
    """Apply the steps to project, as a newcomer would; the field as the schema gives it."""
    section, path, field_text = readme_steps()
    for words in (
        "exclude_fields",
        "gate = { release",
        "[values]",
        "unverified",
        "import-json",
        CLI_DOC_WRITE,
    ):
        assert words in section, f"README's 'Adding a field' no longer says {words!r}"
    field = tomllib.loads(field_text)["field"][0]
    # 1. the [[field]] at the end of its class's file
    schema_file = project / path
    schema_file.write_text(schema_file.read_text().rstrip("\n") + "\n\n" + field_text)
    # 2. a field of a kernel struct that the baseline module lacks: the kernel does not read it
    settings = project / "schema" / "settings.toml"
    conf = tomllib.loads(settings.read_text())
    baseline = Release.parse(conf["schema"]["baseline"])
    since = field.get("since")
    if field["struct"] in conf["kernel"]["structs"] and not (
        since and Release.parse(since) <= baseline
    ):
        text = settings.read_text()
        assert text.count("exclude_fields = [\n") == 1
        settings.write_text(
            text.replace("exclude_fields = [\n", f'exclude_fields = [\n    "{field["name"]}",\n')
        )
    # 3. a value in each profile whose module has the field, counted in its table
    cat = compile_or_raise(project / "schema")
    new = cat.field(field["name"])
    for profile in sorted((project / "schema" / "profiles").glob("*.toml")):
        text = profile.read_text()
        release = Release.parse(tomllib.loads(text)["profile"]["release"])
        if new.since is None or not new.since.has(release):
            continue
        n = len(cat.fields_of(release))
        text = re.sub(r" \((\d+) entries\)", f" ({n} entries)", text, count=1)
        profile.write_text(text.replace("\n[values]\n", f"\n[values]\n{field['name']} = 0\n", 1))
    return field


def tracked_copy(dest: Path) -> Path:
    """The project's tracked files (their working-tree state) under dest, a git repository of
    its own (building the sdist, compat and the install tests read git)."""
    if not (ROOT / ".git").exists():
        pytest.skip("needs the project's git checkout (git ls-files)")
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, names):
        src = ROOT / os.fsdecode(name)
        if src.is_file():  # a file deleted in the working tree is not copied
            (dest / src.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / src.relative_to(ROOT))
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the project's tracked files"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=dest,
            check=True,
            capture_output=True,
        )
    return dest


def run(project: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    """python ARGS in the copy, the copy's codegen and readers first on sys.path in it and in
    every process it starts (the CLI by name, init's built-in catalogue).  codegen comes from a
    directory of its own holding a link to it: the copy's root on PYTHONPATH would also show
    the tdx_codegen.egg-info the install tests' sdist build leaves there, which pip takes for
    an installed tdx-codegen."""
    path = project.with_name(project.name + "-path")
    if not path.exists():
        path.mkdir()
        (path / "codegen").symlink_to(project / "codegen", target_is_directory=True)
    env = dict(os.environ, PYTHONPATH=f"{path}{os.pathsep}{project / 'generated' / 'python'}")
    env[GUARD] = "1"
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project with README's field added and built."""
    project = tracked_copy(tmp_path_factory.mktemp("adding-field"))
    field = follow_readme(project)
    build = run(project, "-m", "codegen", "build")
    assert build.returncode == 0, build.stderr
    check = run(project, "-m", "codegen", "build", "--check")
    assert check.returncode == 0, check.stderr
    readers = (project / "generated/python/tdx_metadata/__init__.py").read_text()
    assert field["member"] in readers and field["name"] in readers
    assert field["name"] in (project / "generated/docs/global-metadata.md").read_text()
    return project


def inner_suite(project: Path, *args: str) -> None:
    p = run(
        project,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-m",
        "not kbuild and not browser",
        *args,
    )
    assert p.returncode == 0, (
        f"after README's 'Adding a field':\n{p.stdout[-6000:]}{p.stderr[-2000:]}"
    )


def test_the_field_is_built_and_the_deriving_tests_pass(project):
    inner_suite(project, "-n", "0", *DERIVING)


@pytest.mark.adding_field
def test_the_whole_suite_passes_after_adding_the_field(request, project):
    marks = request.config.getoption("markexpr") or ""
    if "adding_field" not in marks or "not adding_field" in marks:
        pytest.skip("the whole suite again on a copy: run with -m adding_field (.ci/run does)")
    # step 5: docs/cli.md's examples are real output of the schema, so they change with it
    doc = run(project, *CLI_DOC_WRITE.split()[1:])
    assert doc.returncode == 0, doc.stdout + doc.stderr
    inner_suite(project, "-n", "2", "tests")
