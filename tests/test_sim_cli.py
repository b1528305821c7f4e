"""`tdx-codegen sim`: what a user sees on stdout, stderr and in the exit status."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema"


@pytest.fixture(autouse=True)
def in_project(monkeypatch):
    """The CLI finds the project from the current directory: this test's, wherever pytest runs."""
    monkeypatch.chdir(ROOT)


def run(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_rd(capsys):
    code, out, err = run(
        capsys, "sim", "--profile", "1.5.01", "rd", "0x9900000100000004", "-1", "0x9900000100000008"
    )
    assert code == 1 and err == ""
    assert out.splitlines() == [
        "0x9900000100000004  NUM_CPUID_CONFIG              rax=0x0000000000000000 TDX_SUCCESS  "
        "rdx=0x9900000300000006  r8=0x000000000000000C",
        "0xFFFFFFFFFFFFFFFF  -1                            rax=0x00000C0B00000000 "
        "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT  rdx=0x0000000200000000  r8=0x0000000000000000",
        "0x9900000100000008  ?                             rax=0xC0000C0000000000 "
        "TDX_METADATA_FIELD_ID_INCORRECT  rdx=0xFFFFFFFFFFFFFFFF  r8=0x0000000000000000",
    ]


def test_module_options_after_the_subcommand(capsys):
    code, out, _ = run(capsys, "sim", "rd", "--profile", "2.0.08", "--no-lp-init", "0")
    assert code == 1
    assert "rax=0xC000050200000000 TDX_SYS_LP_INIT_NOT_DONE" in out
    code, out, _ = run(capsys, "sim", "--shutdown", "rd", "--profile", "2.0.08", "0")
    assert "rax=0xC000050600000000 TDX_SYS_SHUTDOWN  rdx=0x0000000000000000" in out


def test_fault_and_set(capsys):
    _code, out, _ = run(
        capsys,
        "sim",
        "--profile",
        "1.5.01",
        "--fault",
        "NUM_CPUID_CONFIG=TDX_SYS_BUSY:1",
        "--set",
        "NUM_CPUID_CONFIG=200",
        "rd",
        "0x9900000100000004",
        "0x9900000100000004",
    )
    lines = out.splitlines()
    assert "rax=0x8000020200000000 TDX_SYS_BUSY  rdx=0xFFFFFFFFFFFFFFFF" in lines[0]
    assert lines[1].endswith("TDX_SUCCESS  rdx=0x9900000300000006  r8=0x00000000000000C8")
    _code, out, _ = run(
        capsys, "sim", "--profile", "1.5.01", "--fault", "0x8000020300000000", "rd", "0"
    )
    assert "TDX_RND_NO_ENTROPY" in out


def test_walk(capsys):
    code, out, _ = run(capsys, "sim", "--profile", "1.5.01", "walk")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 355
    assert lines[0] == "0x0000000200000000  NUM_PKGS                      0x0000000000000002"
    assert lines[-2] == "0xA200000300000006  VCPU_L2_DEBUG_CTLS_FIXED1     0x0000000000000000"
    assert lines[-1] == "354 elements, then -1"
    code, out, err = run(capsys, "sim", "--profile", "1.5.01", "--no-lp-init", "walk")
    assert code == 1 and out == "" and err == "0xFFFFFFFFFFFFFFFF  TDX_SYS_LP_INIT_NOT_DONE\n"


def test_rdall(capsys):
    code, out, _ = run(capsys, "sim", "--profile", "2.0.08", "rdall", "0x3000000300000000")
    assert code == 0
    assert out == (
        "rax=0x0000000000000000 TDX_SUCCESS  r8=0xFFFFFFFFFFFFFFFF\n"
        "list header 0x0000000000010018: 24 bytes, 1 sequences\n"
        "  0x3000000300000000  1 field(s) x 1 element(s)\n"
        "    0x3000000300000000  TDX_CONNECT_FEATURES          0x0000000000001281\n"
    )
    code, out, _ = run(capsys, "sim", "--profile", "2.0.08", "rdall", "--page", "0x1001")
    assert (code, out) == (
        1,
        "rax=0xC000010000000002 TDX_OPERAND_INVALID(RDX)  r8=0xFFFFFFFFFFFFFFFF\nnothing written\n",
    )


BATCH_IN = """{"leaf": 34, "rdx": "0x9900000100000004"}
not json
{"leaf": 37, "rdx": "0x2000", "r8": "0x3000000300000000"}

{"leaf": 37, "rdx": "0x2001", "r8": "0xffffffffffffffff"}
{"leaf": 34, "rdx": "0x1ffffffffffffffff"}
{"leaf": 34, "rbx": "0x0"}
[1, 2]
{"rdx": "0x0"}
{"leaf": "34", "rdx": "zz"}
{"leaf": 65570, "rcx": "0x5", "rdx": "0x7", "r8": "0x9"}
"""


def test_batch(capsys, monkeypatch):
    code, out, err = run(
        capsys, "sim", "--profile", "2.0.08", "batch", stdin=BATCH_IN, monkeypatch=monkeypatch
    )
    assert code == 1 and err == ""  # lines were refused
    assert [json.loads(line) for line in out.splitlines()] == [
        {"rax": "0x0000000000000000", "rdx": "0x9900000300000006", "r8": "0x0000000000000014"},
        {"error": "line 2: not JSON: Expecting value: line 1 column 1 (char 0)"},
        {
            "rax": "0x0000000000000000",
            "rdx": "0x0000000000002000",
            "r8": "0xffffffffffffffff",
            "page": "180001000000000000000000030000308112000000000000",
        },
        {"rax": "0xc000010000000002", "rdx": "0x0000000000002001", "r8": "0xffffffffffffffff"},
        {"error": "line 6: rdx must be a 64-bit value"},
        {"error": "line 7: unknown key(s) rbx"},
        {"error": 'line 8: expected an object such as {"leaf": 34, "rdx": "0x0"}'},
        {"error": 'line 9: missing "leaf" (34 TDH.SYS.RD, 37 TDH.SYS.RDALL)'},
        {"error": "line 10: rdx 'zz' is not a number (write \"0x...\")"},
        {"rax": "0xc000010000000000", "rdx": "0x0000000000000007", "r8": "0x0000000000000009"},
    ]


def test_dump_and_replay(capsys, tmp_path):
    code, out, _ = run(capsys, "sim", "--profile", "1.5.01", "--set", "NUM_PKGS=7", "dump")
    doc = json.loads(out)
    assert code == 0 and doc["format"] == "tdx-codegen-sim-dump" and len(doc["fields"]) == 65
    assert doc["fields"][0] == {"name": "NUM_PKGS", "id": "0x0000000200000000", "values": ["0x7"]}
    dump = tmp_path / "m.json"
    dump.write_text(out)
    pages = tmp_path / "m.bin"
    assert (
        run(capsys, "sim", "--replay", str(dump), "dump", "--format", "pages", "-o", str(pages))[0]
        == 0
    )
    assert pages.stat().st_size == 4096
    code, out, _ = run(capsys, "sim", "--replay", str(pages), "rd", "0")
    assert out.endswith("r8=0x0000000000000007\n")


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["sim", "walk"],
            "tdx-codegen: error: give --profile NAME|FILE or --replay FILE (profiles: "
            "1.5.01, 1.5.05, 1.5.06, 1.5.34, 2.0.02, 2.0.04, 2.0.08, 2.0.18)\n",
        ),
        (["sim", "--profile", "9.9", "walk"], "tdx-codegen: error: no profile '9.9' ("),
        (
            ["sim", "--profile", "1.5.01"],
            "tdx-codegen: error: sim needs a subcommand: rd, rdall, walk, dump, serve or batch\n",
        ),
        (
            ["sim", "--profile", "1.5.01", "rd", "0xZZ"],
            "tdx-codegen: error: '0xZZ' is not a number",
        ),
        (
            ["sim", "--profile", "1.5.01", "--set", "NOPE=1", "walk"],
            "tdx-codegen: error: 'NOPE' is not a field of module 1.5.01\n",
        ),
        (
            ["sim", "--profile", "1.5.01", "--fault", "NUM_PKGS=TDX_NOPE", "walk"],
            "tdx-codegen: error: --fault NUM_PKGS=TDX_NOPE: unknown status 'TDX_NOPE'",
        ),
        (
            ["sim", "--profile", "1.5.01", "serve", "--tcp", "10.0.0.1:7070"],
            "tdx-codegen: error: --tcp 10.0.0.1:7070: only loopback addresses are served",
        ),
    ],
)
def test_usage_errors(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.startswith(message)


def test_invalid_profile_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text('[profile]\nrelease = "1.5.01"\n[values]\nNUM_PKGS = 1.5\n')
    code, out, err = run(capsys, "sim", "--schema", str(SCHEMA), "--profile", "bad.toml", "walk")
    assert (code, out) == (1, "")
    assert err == (
        "bad.toml:4:12: error[PROFILE-VALUE]: NUM_PKGS takes integers, not float\n"
        "    4 | NUM_PKGS = 1.5\n      |            ^~~\n1 error, 0 warnings\n"
    )


def test_batch_bytes_that_are_no_call_are_answered_and_the_batch_goes_on():
    """From a real stdin: nesting too deep for json (a RecursionError), bytes that
    are not UTF-8, digits of another script, a key given twice (json keeps the last), a
    number too long for int();
    each line answered in order, exit 1."""
    good = b'{"leaf": 34, "rdx": "0x9900000100000004"}\n'
    lines = [
        good,
        b"[" * 100000 + b"]" * 100000 + b"\n",
        b'{"leaf": 34, "rdx": "\xff\xfe"}\n',
        '{"leaf": 34, "rdx": "0x\u0661"}\n'.encode(),
        b'{"leaf": 34, "rdx": "0x9900000100000004", "rdx": "0x0"}\n',
        b'{"leaf": ' + b"9" * 5000 + b"}\n",
        good,
    ]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen",
            "sim",
            "--schema",
            str(SCHEMA),
            "--profile",
            "2.0.08",
            "batch",
        ],
        input=b"".join(lines),
        capture_output=True,
        timeout=60,
    )
    answer = {"rax": "0x0000000000000000", "rdx": "0x9900000300000006", "r8": "0x0000000000000014"}
    assert (run.returncode, run.stderr) == (1, b"")
    assert [json.loads(line) for line in run.stdout.splitlines()] == [
        answer,
        {"error": "line 2: not JSON: nested more than 64 deep (column 65)"},
        {"error": "line 3: not UTF-8: byte 0xff at column 22"},
        {"error": "line 4: rdx '0x\u0661' is not a number (write \"0x...\")"},
        {"error": "line 5: not JSON: duplicate key 'rdx'"},
        {"error": "line 6: not JSON: a number of 5000 digits (at most 4300) at column 10"},
        answer,
    ]


def dump_with(tmp_path, edit) -> Path:
    """A 1.5.01 dump as sim dump writes it, passed through edit(doc) -> text."""
    from codegen.sim.profile import load_profile, resolve
    from codegen.sim.replay import dump_json
    from codegen.sim.simulator import Simulator
    from codegen.spec.compiler import compile_or_raise

    sim = Simulator(load_profile(resolve("1.5.01", SCHEMA), compile_or_raise(SCHEMA)))
    path = tmp_path / "m.json"
    path.write_bytes(edit(json.loads(dump_json(sim))))
    return path


def _set(doc, key, value):
    doc["fields"][0][key] = value
    return json.dumps(doc, indent=1).encode()


@pytest.mark.parametrize(
    "edit,message",
    [
        (
            lambda doc: _set(doc, "name", ["NUM_PKGS"]),
            'm.json:10:3: error[REPLAY-JSON]: fields[0]: "name" must be a field name string, got a list',
        ),
        (
            lambda doc: _set(doc, "name", None),
            'm.json:10:3: error[REPLAY-JSON]: fields[0]: "name" must be a field name string, got nothing',
        ),
        (
            lambda doc: _set(doc, "values", ["0x\u0661"]),
            'm.json:10:3: error[REPLAY-JSON]: fields[0]: values are hex strings ("0x...")',
        ),
        (
            lambda doc: (
                json.dumps(doc, indent=1).encode().replace(b'"module"', b'"fields": [],\n "module"')
            ),
            "m.json:1:1: error[REPLAY-JSON]: not valid JSON: duplicate key 'fields'",
        ),
        (
            lambda doc: (
                b'{"format": "tdx-codegen-sim-dump",\n "fields": '
                + b"[" * 5000
                + b"]" * 5000
                + b"}"
            ),
            "m.json:2:75: error[REPLAY-JSON]: not valid JSON: nested more than 64 deep",
        ),
        (
            lambda doc: json.dumps(doc, indent=1).encode().replace(b'"0x2"', b'"0x\xff"', 1),
            "m.json:14:8: error[REPLAY-JSON]: not UTF-8: byte 0xff",
        ),
        (
            lambda doc: json.dumps(
                {**doc, "fields": [*doc["fields"][:2], doc["fields"][0], *doc["fields"][2:]]},
                indent=1,
            ).encode(),
            "m.json:31:3: error[REPLAY-FIELD]: fields[2]: NUM_PKGS is given twice "
            "(first as fields[0])",
        ),
        (
            lambda doc: _set(doc, "values", ["0x100000000"]),
            "m.json:10:3: error[REPLAY-FIELD]: fields[0]: NUM_PKGS value 0x100000000 (element 0) "
            "does not fit its 4-byte element",
        ),
        (
            lambda doc: _set(doc, "values", ["0x" + "f" * 17]),
            "m.json:10:3: error[REPLAY-FIELD]: fields[0]: NUM_PKGS value 0xfffffffffffffffff "
            "(element 0) does not fit its 4-byte element",
        ),
        (
            lambda doc: (
                json.dumps(doc, indent=1)
                .encode()
                .replace(b'"version": 1', b'"version": ' + b"9" * 5000)
            ),
            "m.json:3:13: error[REPLAY-JSON]: not valid JSON: a number of 5000 digits (at most 4300)",
        ),
    ],
    ids=[
        "list-name",
        "no-name",
        "arabic-digits",
        "duplicate-key",
        "deep",
        "not-utf8",
        "duplicate-field",
        "wider-than-element",
        "wider-than-64-bits",
        "number-too-long-for-int",
    ],
)
def test_replay_json_errors_are_located(tmp_path, monkeypatch, capsys, edit, message):
    path = dump_with(tmp_path, edit)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "sim", "--schema", str(SCHEMA), "--replay", str(path), "walk")
    assert (code, out) == (1, "")
    assert err == message + "\n1 error, 0 warnings\n"


def test_replay_file_that_is_a_symlink_loop(tmp_path, monkeypatch, capsys):
    (tmp_path / "loop.json").symlink_to(tmp_path / "loop.json")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "sim", "--schema", str(SCHEMA), "--replay", "loop.json", "walk")
    assert (code, out) == (1, "")
    assert (
        err
        == "loop.json: error[READ-ERROR]: Too many levels of symbolic links\n1 error, 0 warnings\n"
    )
