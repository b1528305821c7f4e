"""The CLI as a user runs it: real subprocesses, exit codes included."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from codegen import __version__
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


def run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args], capture_output=True, text=True, cwd=cwd
    )


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "tdx-codegen"  # beside this interpreter, not on PATH
    assert exe.is_file(), "pip install -e . should install the tdx-codegen script"
    p = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert (p.returncode, p.stdout) == (0, f"tdx-codegen {__version__}\n")


def test_validate_shipped_schema():
    catalogue = compile_or_raise(ROOT / "schema")  # counts come from the schema, not from here
    p = run("validate", cwd=ROOT)
    assert (p.returncode, p.stdout, p.stderr) == (
        0,
        f"{len(catalogue.fields)} fields in {len(catalogue.structs)} structs: schema is valid\n",
        "",
    )


def test_validate_invalid_schema_exit_1(tmp_path):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    (tmp_path / "schema" / "tdmr.toml").write_text(
        (DATA / "bad" / "ID-CONTEXT" / "tdmr.toml").read_text()
    )
    p = run("validate", "--schema", "schema", cwd=tmp_path)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr == (DATA / "bad" / "ID-CONTEXT" / "expected.txt").read_text().split("\n", 1)[1]
    assert "Traceback" not in p.stderr


def test_usage_errors_exit_2(tmp_path):
    assert run("validate", "--bogus").returncode == 2
    assert run("frobnicate").returncode == 2
    p = run("explain", "not-an-id")
    assert (p.returncode, p.stderr) == (
        2,
        "tdx-codegen: error: cannot explain 'not-an-id': "
        "'not-an-id' is not a number (write ids as 0x followed "
        "by hex digits)\n",
    )
    p = run()
    assert p.returncode == 2 and "usage: tdx-codegen" in p.stderr


def test_missing_schema_directory(tmp_path):
    p = run("validate", "--schema", "nowhere", cwd=tmp_path)
    assert (p.returncode, p.stderr) == (
        1,
        "nowhere: error[NO-SCHEMA]: schema directory does not exist\n1 error, 0 warnings\n",
    )


def test_explain_array_element():
    p = run("explain", "0x9900000300000503")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0] == "0x9900000300000503"
    assert "  CLASS_CODE               61:56  0x19  TD Configurability" in lines
    assert "  ELEMENT_SIZE_CODE        33:32  0x3  8 byte(s)" in lines
    assert lines[-6:] == [
        "field: CPUID_CONFIG_VALUES[1] element 1 of 2",
        "  member:   tdx_sys_info_td_conf.cpuid_config_values[128][2] (u64)",
        "  shape:    32 field(s) x 2 element(s) of 8 byte(s), base id 0x9900000300000500",
        "  count:    NUM_CPUID_CONFIG",
        "  gate:     none (always read)",
        "  since:    1.5.01",
    ]


def test_explain_gated_field_with_wrong_size_code():
    # the id kernel patches use for PAMT_PAGE_BITMAP_ENTRY_BITS (size code 1)
    p = run("explain", "0x9100000100000013")
    assert p.returncode == 0
    assert "  gate:     TDX_FEATURES0.DYNAMIC_PAMT" in p.stdout
    assert (
        "  note:     ELEMENT_SIZE_CODE says 2 byte(s) but PAMT_PAGE_BITMAP_ENTRY_BITS has 1: "
        "TDH.SYS.RD ignores it, TDH.SYS.RDALL rejects it"
    ) in p.stdout


def test_explain_unknown_and_null():
    p = run("explain", "0x9100000100000099")
    assert p.returncode == 1
    assert p.stderr == "no field of the schema holds class 0x11 field code 0x99\n"
    p = run("explain", "-1")
    assert p.returncode == 0
    assert p.stdout == (
        "0xFFFFFFFFFFFFFFFF\n  the null id (-1): TDH.SYS.RD answers with the first "
        "field's id; TDH.SYS.RDALL starts at the first field\n"
    )


def test_explain_reserved_bits_note():
    p = run("explain", "0x9100000101000099")
    assert p.returncode == 1
    assert "RESERVED_31_24           31:24  0x1  must be 0" in p.stdout
    assert (
        "note: reserved bits are set: TDH.SYS.RD answers TDX_METADATA_FIELD_ID_INCORRECT"
        in p.stderr
    )


def test_list_json():
    p = run("list", "--format", "json")
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert list(doc)[:3] == ["verb", "ok", "diagnostics"] and doc["verb"] == "list"
    assert doc["ok"] is True and doc["diagnostics"] == [] and p.stderr == ""
    rows = doc["fields"]
    assert len(rows) == len(compile_or_raise(ROOT / "schema").fields)
    by_name = {r["name"]: r for r in rows}
    assert {
        k: by_name["CPUID_CONFIG_VALUES"][k]
        for k in (
            "name",
            "id",
            "class",
            "element_size",
            "num_fields",
            "num_elements",
            "struct",
            "member",
        )
    } == {
        "name": "CPUID_CONFIG_VALUES",
        "id": "0x9900000300000500",
        "class": 25,
        "element_size": 8,
        "num_fields": 32,
        "num_elements": 2,
        "struct": "tdx_sys_info_td_conf",
        "member": "cpuid_config_values",
    }
    keys = [(r["class"], int(r["id"], 16) & 0xFFFFFF) for r in rows]
    assert keys == sorted(keys)


def test_list_text():
    p = run("list")
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["CLASS", "ID", "NAME", "SIZE", "SHAPE", "STRUCT.MEMBER"]
    assert lines[1].split() == [
        "0x00",
        "0x0000000200000000",
        "NUM_PKGS",
        "4",
        "1x1",
        "tdx_sys_info_platform.num_pkgs",
    ]
    assert len(lines) == 1 + len(compile_or_raise(ROOT / "schema").fields)


def test_build_check_fails_on_invalid_schema_and_writes_nothing(tmp_path):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    (tmp_path / "schema" / "tdmr.toml").write_text(
        (DATA / "bad" / "DUPLICATE-ID" / "tdmr.toml").read_text()
    )
    p = run("build", "--schema", "schema", "--out", "out", cwd=tmp_path)
    assert p.returncode == 1
    assert "error[DUPLICATE-ID]" in p.stderr
    assert not (tmp_path / "out").exists()


def test_build_reports_an_unwritable_output(tmp_path):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "linux").write_text("a file where a directory must go")
    p = run("build", "--schema", "schema", "--out", "out", cwd=tmp_path)
    assert (p.returncode, p.stderr) == (
        1,
        "tdx-codegen: error: cannot write under out: Not a "
        "directory (out/linux/arch/x86/include/asm)\n",
    )
    files = [
        p.relative_to(tmp_path).as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()
    ]
    assert files == ["out/linux"]  # no file was written
