"""What CI sees: GitHub annotations of validate, build and compat; the pre-commit hook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


def run(*args, cwd):
    p = subprocess.run(
        [sys.executable, "-m", "codegen", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )
    return p.returncode, p.stdout, p.stderr


def test_validate_annotates_each_diagnostic(tmp_path):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    shutil.copy(DATA / "bad" / "ID-CONTEXT" / "tdmr.toml", tmp_path / "schema" / "tdmr.toml")
    text = (DATA / "bad" / "ID-CONTEXT" / "expected.txt").read_text().split("\n", 1)[1]
    code, out, err = run("validate", "--format", "github", cwd=tmp_path)
    first = text.splitlines()[0]
    where, _, rest = first.partition(": error[ID-CONTEXT]: ")
    file, line, col = where.split(":")
    assert (code, err) == (1, text)  # the text as always, on stderr
    assert out == f"::error file={file},line={line},col={col},title=ID-CONTEXT::{rest}\n"


def test_annotation_text_is_escaped():
    from codegen.annotations import command, location

    assert (
        command("warning", "50% of a\nb", "a,b:c.toml", 3, 4, "R")
        == "::warning file=a%2Cb%3Ac.toml,line=3,col=4,title=R::50%25 of a%0Ab\n"
    )
    assert command("error", "no file") == "::error::no file\n"
    assert location("HEAD~1:schema/x.toml:12") == ("schema/x.toml", 12)
    assert location("schema/x.toml:7") == ("schema/x.toml", 7)


def test_build_check_annotates_each_stale_file(tmp_path):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    assert run("build", cwd=tmp_path)[0] == 0
    path = tmp_path / "schema" / "tdmr.toml"
    path.write_text(path.read_text().replace('description = "', 'description = "Now: ', 1))
    code, out, err = run("build", "--check", "--format", "github", cwd=tmp_path)
    assert code == 1
    stale = re.findall(r"^(generated/\S+): out of date$", err, flags=re.M)
    assert stale and out == "".join(
        f"::error file={f}::out of date: run 'tdx-codegen build' and commit the result\n"
        for f in stale
    )


def test_compat_annotates_each_change_by_category(tmp_path):
    shutil.copytree(ROOT / "schema", tmp_path / "old")
    shutil.copytree(ROOT / "schema", tmp_path / "new")
    path = tmp_path / "new" / "10-cmr-info.toml"
    text = path.read_text()
    start = text.index('name = "CMR_SIZE"')
    path.write_text(
        text[:start]
        + text[start:].replace('id = "0x9000000300000100"', 'id = "0x9000000300000200"', 1)
    )
    line = path.read_text().splitlines().index('id = "0x9000000300000200"') + 1
    code, out, err = run("compat", "old", "new", "--format", "github", cwd=tmp_path)
    assert code == 1 and err.startswith("compat old -> new: 1 MODULE_ABI")
    [annotation] = out.splitlines()
    assert annotation.startswith("::error file=new/10-cmr-info.toml,line=")
    assert annotation.endswith(
        ",title=MODULE_ABI::CMR_SIZE: id 0x9000000300000100 -> 0x9000000300000200"
    )
    assert abs(int(annotation.split("line=")[1].split(",")[0]) - line) <= 3


def test_the_pre_commit_hook_runs_build_check(tmp_path):
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "- id: tdx-codegen-check\n" in text
    entry = re.search(r"^  entry: (.+)$", text, flags=re.M).group(1)
    assert entry == "tdx-codegen build --check"
    assert "  pass_filenames: false\n" in text and "  language: python\n" in text
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    argv = entry.split()[1:]
    assert run(*argv, cwd=tmp_path)[0] == 1  # never built
    assert run("build", cwd=tmp_path)[0] == 0
    assert run(*argv, cwd=tmp_path)[0] == 0


# -- editors: the JSON Schemas of the TOML files ----------------------------------------


def schema_of(name: str) -> dict:
    import json

    return json.loads((ROOT / "generated" / "json-schema" / name).read_text())


def resolve(schema: dict, node: dict) -> list[dict]:
    """The object schemas a node stands for ($ref, anyOf, arrays and maps followed)."""
    if "$ref" in node:
        return resolve(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[1]])
    out = []
    for alt in node.get("anyOf", []):
        out += resolve(schema, alt)
    if "items" in node:
        out += resolve(schema, node["items"])
    return out + ([node] if "properties" in node or "additionalProperties" in node else [])


def check_keys(schema: dict, node: dict, value, where: str) -> None:
    """Every key of value is a described property of node (recursively)."""
    if isinstance(value, list):
        for i, v in enumerate(value):
            check_keys(schema, node, v, f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        return
    objects = resolve(schema, node)
    maps = [
        o["additionalProperties"]
        for o in objects
        if "properties" not in o and isinstance(o.get("additionalProperties"), dict)
    ]
    if maps:  # a table of names (bits, overrides): its values are checked
        for key, v in value.items():
            check_keys(schema, maps[0], v, f"{where}.{key}")
        return
    props = {k: p for o in objects for k, p in o.get("properties", {}).items()}
    for key, v in value.items():
        assert key in props, f"{where}: key '{key}' is not in the JSON Schema"
        assert props[key].get("description"), f"{where}.{key} has no description"
        check_keys(schema, props[key], v, f"{where}.{key}")


def test_every_key_of_the_shipped_schema_is_in_the_json_schema_with_a_description():
    import tomllib

    classes, settings = schema_of("class-file.schema.json"), schema_of("settings.schema.json")
    for path in sorted((ROOT / "schema").glob("*.toml")):
        data = tomllib.loads(path.read_text())
        schema = settings if path.name == "settings.toml" else classes
        check_keys(schema, schema, data, path.name)


def test_every_property_of_the_json_schemas_has_a_description():
    for name in ("class-file.schema.json", "settings.schema.json"):
        schema = schema_of(name)
        for title, node in [("(top)", schema), *schema["$defs"].items()]:
            for key, prop in node.get("properties", {}).items():
                assert prop.get("description"), f"{name}: {title}.{key}"


def test_taplo_maps_the_schema_files_to_them():
    import tomllib

    from codegen.emitters.json_schema import TAPLO

    assert (ROOT / ".taplo.toml").read_text() == TAPLO
    rules = tomllib.loads(TAPLO)["rule"]
    for rule in rules:
        assert (ROOT / rule["schema"]["path"]).is_file(), rule
    assert [r["include"] for r in rules] == [["schema/settings.toml"], ["schema/*.toml"]]


def taplo(*args, cwd) -> subprocess.CompletedProcess:
    """The real Taplo CLI (the engine of Even Better TOML), from the test extras."""
    exe = Path(sys.executable).parent / "taplo"
    found = str(exe) if exe.exists() else shutil.which("taplo")
    if found is None:
        pytest.fail("taplo is missing: it comes with the test extras (pip install -e '.[test]')")
    return subprocess.run(
        [found, "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1", "RUST_LOG": "error"},
    )


def test_taplo_checks_the_schema_files_against_the_json_schemas(tmp_path):
    # as an editor does it: the project's .taplo.toml, the JSON Schemas build wrote
    files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "schema").rglob("*.toml"))
    p = taplo(*files, cwd=ROOT)
    assert (p.returncode, p.stderr) == (0, ""), p.stderr
    for rel in (".taplo.toml", "schema", "generated/json-schema"):
        copy = shutil.copytree if (ROOT / rel).is_dir() else shutil.copy
        copy(ROOT / rel, tmp_path / rel)
    tdmr = tmp_path / "schema" / "11-tdmr-info.toml"
    text = tdmr.read_text()
    assert text.count("\nelement_size = 2\n") >= 1
    tdmr.write_text(text.replace("\nelement_size = 2\n", '\nelement_size = "two"\ncolour = 1\n', 1))
    line = text[: text.index("\nelement_size = 2\n")].count("\n") + 2
    p = taplo(*files, cwd=tmp_path)
    assert p.returncode == 1
    where = f"{tdmr}:{line}:16"
    assert f'error: "two" is not of type "integer"\n   ┌─ {where}\n' in p.stderr, p.stderr
    assert "error: Additional properties are not allowed ('colour' was unexpected)" in p.stderr


def test_dash_reads_intel_json_from_stdin():
    path = DATA / "intel-json" / "global_metadata_2.0.08.json"
    for verb in ("import-json", "reconcile"):
        by_file = subprocess.run(
            [sys.executable, "-m", "codegen", verb, str(path), "--format", "json"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        by_stdin = subprocess.run(
            [sys.executable, "-m", "codegen", verb, "-", "--format", "json"],
            input=path.read_text(),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert by_stdin.returncode == by_file.returncode, verb
        shown = str(path.relative_to(ROOT))
        assert by_stdin.stdout == by_file.stdout.replace(shown, "<stdin>"), verb
    p = subprocess.run(
        [sys.executable, "-m", "codegen", "import-json", "-"],
        input="{",
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert p.returncode == 1 and p.stderr.startswith("<stdin>:1:2: not valid JSON: ")
