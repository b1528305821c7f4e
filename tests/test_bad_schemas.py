"""One bad schema per rule: the exact diagnostics a user sees.

Each directory under tests/data/bad/ holds the files that differ from
tests/data/minimal/ (and a DELETE list of files to remove), plus
expected.txt: the exact output of `tdx-codegen validate` run from the
directory that holds the schema.  Set UPDATE_GOLDEN=1 to rewrite them
after a deliberate change of wording, then review the diff.
"""

import os
import shutil
from pathlib import Path

import pytest

from codegen.cli import main

DATA = Path(__file__).parent / "data"
CASES = sorted(p.name for p in (DATA / "bad").iterdir() if p.is_dir())


def make_schema(case: str, root: Path) -> Path:
    schema = root / "schema"
    shutil.copytree(DATA / "minimal", schema)
    case_dir = DATA / "bad" / case
    for path in case_dir.iterdir():
        if path.name == "DELETE":
            for name in path.read_text().split():
                (schema / name).unlink()
        elif path.name != "expected.txt":
            shutil.copy(path, schema / path.name)
    return schema


def run_validate(root: Path, capsys, *extra) -> tuple[int, str, str]:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code = main(["validate", "--schema", "schema", *extra])
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("case", CASES)
def test_bad_schema_diagnostic(case, tmp_path, capsys):
    make_schema(case, tmp_path)
    code, _out, err = run_validate(tmp_path, capsys)
    expected_file = DATA / "bad" / case / "expected.txt"
    actual = f"exit {code}\n{err}"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(actual)
    assert actual == expected_file.read_text()
    # every case is named for the rule it breaks (suffixes name variants)
    rule = case
    while rule and f"[{rule}]" not in err:
        rule = rule.rpartition("-")[0]
    assert rule, f"no diagnostic of rule {case} in:\n{err}"


def test_minimal_schema_is_valid(tmp_path, capsys):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    code, out, err = run_validate(tmp_path, capsys)
    assert (code, out, err) == (0, "4 fields in 2 structs: schema is valid\n", "")


def test_every_error_of_a_run_is_reported(tmp_path, capsys):
    """Errors in several entries and files all come out of one run."""
    schema = make_schema("ID-SIZE-MISMATCH", tmp_path)
    text = (
        (schema / "classes.toml").read_text().replace('member = "tdx_features0"', 'member = "int"')
    )
    (schema / "classes.toml").write_text(text)
    code, _out, err = run_validate(tmp_path, capsys)
    assert code == 1
    assert "schema/classes.toml:16:10: error[RESERVED-WORD]" in err
    assert "schema/tdmr.toml:12:6: error[ID-SIZE-MISMATCH]" in err
    assert err.endswith("2 errors, 0 warnings\n")


def test_json_format(tmp_path, capsys):
    make_schema("DUPLICATE-ID", tmp_path)
    code, out, err = run_validate(tmp_path, capsys, "--format", "json")
    import json

    doc = json.loads(out)
    assert code == 1 and err == ""
    assert list(doc) == ["verb", "ok", "diagnostics"]
    assert doc["verb"] == "validate" and doc["ok"] is False
    assert doc["diagnostics"] == [
        {
            "severity": "error",
            "rule": "DUPLICATE-ID",
            "message": "NUM_RANGES has the same id as MAX_TDMRS (class 0x11, field code 0x8; bit 63 "
            "is not part of the lookup key)",
            "file": "schema/tdmr.toml",
            "line": 23,
            "col": 6,
            "notes": [
                {
                    "message": "MAX_TDMRS is defined here",
                    "location": {"file": "schema/tdmr.toml", "line": 12, "col": 6},
                }
            ],
        }
    ]


def test_unreadable_schema_file(tmp_path, capsys):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    (tmp_path / "schema" / "extra.toml").mkdir()  # a directory where a file is expected
    code, _out, err = run_validate(tmp_path, capsys)
    assert (code, err) == (
        1,
        "schema/extra.toml: error[READ-ERROR]: not a regular file "
        "(a directory)\n1 error, 0 warnings\n",
    )
