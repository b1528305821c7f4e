"""Generated-code safety: schema text and names built to break out of what is generated.

Every hostile input is either rejected by the compiler (the exact rule at
the exact place) or carried through safely: then `tdx-codegen build` of a
copy of the schema succeeds, the kernel C of both flavours compiles with
gcc -std=gnu11 -Wall -Wextra -Werror and reads every member right, the
Python package imports in a fresh interpreter from the build's directory
and reads the same values as the shipped one, and the Markdown keeps its
headings and table columns.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.commands import run
from kernel import cbuild

import tdx_metadata
from codegen.abi import status as abi_status
from codegen.cli import main
from codegen.spec.compiler import compile_or_raise
from codegen.spec.rules.names import MAX_NAME

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema"
TDMR, INFO, SETTINGS = "11-tdmr-info.toml", "0a-module-info.toml", "settings.toml"
CATALOGUE = compile_or_raise(SCHEMA)
VALUES = cbuild.default_values(CATALOGUE)


def toml_string(text: str) -> str:
    """A TOML basic string holding text exactly."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def copy_schema(tmp: Path, edits) -> Path:
    """schema/ copied, each (file, old line, new line) replaced once."""
    schema = tmp / "schema"
    shutil.copytree(SCHEMA, schema)
    for name, old, new in edits:
        path = schema / name
        text = path.read_text()
        assert text.count(old) >= 1, old
        path.write_text(text.replace(old, new, 1))
    return schema


def problems(proc: subprocess.CompletedProcess) -> list[str]:
    """What a build said on stderr besides its status lines (the files it wrote)."""
    return [line for line in proc.stderr.splitlines() if not line.startswith("wrote ")]


def build(schema: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    """tdx-codegen build, in this process from the project root (what it writes and says is
    under test, not the process)."""
    argv = ["build", "--schema", str(schema), "--out", str(out), *args]
    return subprocess.CompletedProcess(argv, *run(*argv))


# -- rejected ------------------------------------------------------------------

# (file, line as shipped, key as written, rule): the value of that line is replaced
TEXT_PLACES = {
    "struct description": (TDMR, 'description = "TDMR limits and PAMT entry sizes."'),
    "field description": (TDMR, 'description = "Maximum number of TDMRs the module accepts."'),
    "class name": (TDMR, 'name = "TDMR Info"'),
    "class description": (
        TDMR,
        'description = "Limits and entry sizes for TD Memory Regions and their PAMTs."',
    ),
    "bit description": (INFO, 'description = "TD-preserving module update."'),
}
UNSAFE = {
    "*/": "text contains '*/', which would end a C comment in generated code",
    "/*": "text contains '/*', which would open a nested C comment in generated code",
    '"""': 'text contains \'"""\', which would end a Python docstring in generated code',
    "??/": "text contains '??/', which is a C trigraph for a backslash (gcc -Wtrigraphs) in "
    "generated code",
    "\u200f": "text contains the non-printable character U+200F",  # right-to-left mark
    "\u202e": "text contains the non-printable character U+202E",  # right-to-left override
    "\u200b": "text contains the non-printable character U+200B",  # zero-width space
    "\ufeff": "text contains the non-printable character U+FEFF",  # zero-width no-break space
    "\t": "text contains the non-printable character U+0009",
    "\r": "text contains the non-printable character U+000D",
    "\u2028": "text contains the non-printable character U+2028",  # line separator
}


def diagnostics(schema: Path, capsys) -> tuple[int, list[str]]:
    code = main(["validate", "--schema", str(schema)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, [line for line in (out.out + out.err).splitlines() if ": error[" in line]


def place(schema: Path, name: str, marker: str, key: bool = False) -> str:
    """file:line:col of the key at marker, or of the value after marker's "key = "."""
    for n, line in enumerate((schema / name).read_text().split("\n"), 1):
        if marker in line:
            col = line.index(marker) + 1 + (0 if key else marker.index(" = ") + 3)
            return f"{name}:{n}:{col}"
    raise AssertionError(f"{marker!r} not in {name}")


@pytest.mark.parametrize("where", TEXT_PLACES)
@pytest.mark.parametrize("bad", UNSAFE, ids=[f"U+{ord(b[0]):04X}" for b in UNSAFE])
def test_unsafe_text_is_rejected_where_it_stands(tmp_path, capsys, where, bad):
    name, line = TEXT_PLACES[where]
    key = line.split(" = ")[0]
    schema = copy_schema(tmp_path, [(name, line, f"{key} = {toml_string(f'x {bad} y')}")])
    code, errors = diagnostics(schema, capsys)
    marker = f"{key} = " + toml_string(f"x {bad} y")[:3]
    assert code == 1
    assert [e.split("/schema/", 1)[1] for e in errors] == [
        f"{place(schema, name, marker)}: error[UNSAFE-TEXT]: {UNSAFE[bad]}"
    ]


LONG = {kind: "a" * (n + 1) for kind, n in MAX_NAME.items()}
NAMES = {  # what: (file, shipped line, new line, rule, marker of the reported line, at key)
    "field name with newline": (
        TDMR,
        'name = "MAX_TDMRS"',
        'name = "MAX_TDMRS\\n"',
        "BAD-NAME",
        'name = "MAX_TDMRS\\n"',
        False,
    ),
    "member with newline": (
        TDMR,
        'member = "max_tdmrs"',
        'member = "max_tdmrs\\n"',
        "C-IDENTIFIER",
        "member = ",
        False,
    ),
    "struct with newline": (
        TDMR,
        'name = "tdmr"',
        'name = "tdmr\\n"',
        "C-IDENTIFIER",
        'name = "tdmr\\n"',
        False,
    ),
    "c_name with newline": (
        TDMR,
        'c_name = "tdx_sys_info_tdmr"',
        'c_name = "tdx_sys_info_tdmr\\n"',
        "C-IDENTIFIER",
        "c_name = ",
        False,
    ),
    "bit with newline": (
        INFO,
        "TD_MIGRATION = {",
        '"TD_MIGRATION\\n" = {',
        "BAD-NAME",
        '"TD_MIGRATION',
        True,
    ),
    "package with newline": (
        SETTINGS,
        'package = "tdx_metadata"',
        'package = "tdx_metadata\\n"',
        "BAD-NAME",
        "package = ",
        False,
    ),
    "member with other digits": (
        TDMR,
        'member = "max_tdmrs"',
        'member = "max_tdmrs[\u0661]"',
        "C-IDENTIFIER",
        "member = ",
        False,
    ),
    "member not ASCII": (
        TDMR,
        'member = "max_tdmrs"',
        'member = "max_tdmrs_\u00e9"',
        "C-IDENTIFIER",
        "member = ",
        False,
    ),
    "member a kernel macro": (
        TDMR,
        'member = "max_tdmrs"',
        'member = "__init"',
        "C-IDENTIFIER",
        "member = ",
        False,
    ),
    "member a record method": (
        TDMR,
        'member = "max_tdmrs"',
        'member = "as_dict"',
        "RESERVED-WORD",
        "member = ",
        False,
    ),
    "struct read_all": (
        TDMR,
        'name = "tdmr"',
        'name = "all"',
        "RESERVED-WORD",
        'name = "all"',
        False,
    ),
    "c_name of the top struct": (
        TDMR,
        'c_name = "tdx_sys_info_tdmr"',
        'c_name = "tdx_sys_info"',
        "RESERVED-WORD",
        "c_name = ",
        False,
    ),
    "package shadowing the runtime": (
        SETTINGS,
        'package = "tdx_metadata"',
        'package = "codegen"',
        "RESERVED-WORD",
        "package = ",
        False,
    ),
    "package shadowing the stdlib": (
        SETTINGS,
        'package = "tdx_metadata"',
        'package = "json"',
        "RESERVED-WORD",
        "package = ",
        False,
    ),
    "print entry with newline": (
        SETTINGS,
        '"version.major_version",',
        '"version.major_version\\n",',
        "SETTINGS-BAD-PRINT",
        '"version.major_version\\n"',
        True,
    ),
    "print entry breaking a C string": (
        SETTINGS,
        '"version.major_version",',
        '"version.major_version\\");",',
        "SETTINGS-BAD-PRINT",
        '"version.major_version\\"',
        True,
    ),
    "field name too long": (
        TDMR,
        'name = "MAX_TDMRS"',
        f'name = "{LONG["field"].upper()}"',
        "NAME-TOO-LONG",
        'name = "AAA',
        False,
    ),
    "member too long": (
        TDMR,
        'member = "max_tdmrs"',
        f'member = "{LONG["member"]}"',
        "NAME-TOO-LONG",
        "member = ",
        False,
    ),
    "struct too long": (
        TDMR,
        'name = "tdmr"',
        f'name = "{LONG["struct"]}"',
        "NAME-TOO-LONG",
        'name = "aaa',
        False,
    ),
    "c_name too long": (
        TDMR,
        'c_name = "tdx_sys_info_tdmr"',
        f'c_name = "{LONG["c_name"]}"',
        "NAME-TOO-LONG",
        "c_name = ",
        False,
    ),
    "bit too long": (
        INFO,
        "TD_MIGRATION = {",
        f"{LONG['bit'].upper()} = {{",
        "NAME-TOO-LONG",
        "AAA",
        True,
    ),
}


@pytest.mark.parametrize("what", NAMES)
def test_names_that_would_leak_are_rejected(tmp_path, capsys, what):
    name, old, new, rule, marker, key = NAMES[what]
    schema = copy_schema(tmp_path, [(name, old, new)])
    code, errors = diagnostics(schema, capsys)
    assert code == 1
    where = place(schema, name, marker, key)
    assert [e for e in errors if f"/schema/{where}: error[{rule}]: " in e], errors


def test_a_too_long_name_says_the_limit(tmp_path, capsys):
    schema = copy_schema(tmp_path, [NAMES["member too long"][:3]])
    _, errors = diagnostics(schema, capsys)
    assert errors[0].split(": error", 1)[1] == (
        "[NAME-TOO-LONG]: member name 'aaaaaaaaaaaaaaaaaaaa...' has 41 characters; at most 40 "
        "keep generated kernel lines within 100 columns"
    )


# -- carried through -------------------------------------------------------------

HOSTILE = {
    "backslash at the end": "ends in a backslash \\",
    "backslash-newline": "a line splice \\\nin the middle \\\n",
    "trigraph-like": "x ??= ??( ??< ??' ??! ??- ??) ??>",
    "triple single quotes": "say ''' and '''",
    "quote at the end": 'ends in a quote"',
    "python escapes": "\\N{BULLET} \\x41 \\u1234 \\0 \\n \\",
    "jinja": "{{ banner }} {% for x in y %} {# c #} }} {%",
    "c comment and string": "// line comment \\\n\"string\" 'c' #define X 1",
    "markdown": "# heading | pipe",
    "markdown blocks": "- item\n1. item\n> quote\n---\n```",
    "unicode": "\u00fcn\u00efc\u00f6d\u00e9 \u2603 \U0001d518 \u05d0\u05d1 \u0627\u0644",
    "one long word": "w" * 300,
    "long text": " ".join(["word"] * 500),
    "html": "<!-- <script>x</script> -->",
}
BIT_LINE = 'TD_PRESERVING = { bit = 1, description = "TD-preserving module update." }'
UNVERIFIED_AFTER = 'description = "Maximum number of TDMRs the module accepts."'


def hostile_edits(text: str) -> list[tuple[str, str, str]]:
    """text in every text place: a kernel struct's description (C comment, Python docstring),
    a field's description and unverified note, a class name and description, a bit's
    description (Markdown)."""
    s = toml_string(text)
    edits = [
        (name, line, f"{line.split(' = ')[0]} = {s}")
        for where, (name, line) in TEXT_PLACES.items()
        if where != "bit description"
    ]
    edits[1] = (TDMR, UNVERIFIED_AFTER, f"description = {s}\nunverified = {s}")
    edits.append((INFO, BIT_LINE, f"TD_PRESERVING = {{ bit = 1, description = {s} }}"))
    return edits


READER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import {package} as md
assert md.__file__.startswith(sys.argv[1]), md.__file__
values = {{int(k): v for k, v in json.loads(sys.argv[2]).items()}}
class Backend:
    def rd(self, field_id):
        if field_id in values:
            return 0, 0, values[field_id]
        return {incorrect}, 0, 0
print(json.dumps(md.read_all_rd(Backend()).as_dict()))
print(json.dumps(getattr(md, "TdxSysInfoTdmr", None).__doc__))
"""


def fresh_read(out: Path, package: str = "tdx_metadata") -> tuple[dict, str]:
    """The built package, imported by a fresh interpreter (warnings as errors): its read of
    VALUES and the tdmr struct's docstring."""
    code = READER.format(package=package, incorrect=abi_status.TDX_METADATA_FIELD_ID_INCORRECT)
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            code,
            str(out / "python"),
            json.dumps({str(k): v for k, v in VALUES.items()}),
        ],
        capture_output=True,
        text=True,
        cwd=out,
    )
    assert proc.returncode == 0, proc.stderr
    data, doc = proc.stdout.splitlines()
    return json.loads(data), json.loads(doc)


class Backend:
    def rd(self, field_id):
        if field_id in VALUES:
            return abi_status.TDX_SUCCESS, 0, VALUES[field_id]
        return abi_status.TDX_METADATA_FIELD_ID_INCORRECT, 0, 0


SHIPPED = tdx_metadata.read_all_rd(Backend()).as_dict()


def compile_and_run(schema: Path, out: Path, tmp: Path) -> None:
    """Both kernel flavours of the built schema compile with -Werror and read every member.

    out is the plain build of schema: it holds the flavour its settings name."""
    catalogue = compile_or_raise(schema)
    for flavor in ("map", "functions"):
        built = out
        if flavor != catalogue.settings.kernel.flavor:
            built = tmp / flavor
            proc = build(schema, built, "--c-flavor", flavor)
            assert proc.returncode == 0, proc.stderr
        work = tmp / f"build-{flavor}"
        work.mkdir()
        (work / "tdx_dump.h").write_text(cbuild.dump_header(catalogue))
        (work / "fake_values.h").write_text(cbuild.fake_values_header(VALUES))
        dump = cbuild.run(cbuild.compile_reader(work, built))
        assert (dump.ret, dump.members) == (0, cbuild.expected(catalogue, VALUES))


def markdown_shape(text: str) -> list:
    """Headings, and the unescaped pipes of each table row, of a Markdown file."""
    shape = []
    for line in text.split("\n"):
        if line.startswith("#"):
            shape.append(line.split(":")[0])
        elif re.match(r" *- \[", line):  # a contents entry: one whole link
            shape.append(("link", len(re.findall(r"(?<!\\)(?:\\\\)*\]\(#", line))))
        elif line.startswith("|"):
            shape.append(len(re.findall(r"(?<!\\)\|", line)))
        elif re.match(r"(?:[>+*=_~`-]|[0-9]+[.)])", line):
            shape.append(line)  # a block that is not ours
    return shape


SHIPPED_DOCS = markdown_shape((ROOT / "generated/docs/global-metadata.md").read_text())

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@needs_gcc
@pytest.mark.parametrize("what", HOSTILE)
def test_hostile_text_is_carried_safely(tmp_path, what):
    text = HOSTILE[what]
    schema = copy_schema(tmp_path, hostile_edits(text))
    out = tmp_path / "out"
    proc = build(schema, out)
    assert (proc.returncode, problems(proc)) == (0, [])
    compile_and_run(schema, out, tmp_path)
    data, doc = fresh_read(out)
    assert data == SHIPPED
    assert doc == f"struct tdx_sys_info_tdmr: {text.strip()}"
    assert markdown_shape((out / "docs/global-metadata.md").read_text()) == SHIPPED_DOCS


@needs_gcc
def test_names_at_their_longest_build_compile_and_read(tmp_path):
    """Every kind of name at its MAX_NAME length, in a kernel struct, in both flavours."""
    field = ("MAX_TDMRS_" + "X" * 40)[: MAX_NAME["field"]]
    member = ("max_tdmrs_" + "x" * 40)[: MAX_NAME["member"]]
    struct = ("tdmr_" + "s" * 40)[: MAX_NAME["struct"]]
    c_name = ("tdx_sys_info_tdmr_" + "c" * 40)[: MAX_NAME["c_name"]]
    bit = ("NO_RBP_MOD_" + "B" * 40)[: MAX_NAME["bit"]]
    schema = copy_schema(
        tmp_path,
        [
            (TDMR, 'name = "MAX_TDMRS"', f'name = "{field}"'),
            (TDMR, 'member = "max_tdmrs"', f'member = "{member}"'),
            (TDMR, 'c_name = "tdx_sys_info_tdmr"', f'c_name = "{c_name}"'),
            (INFO, "NO_RBP_MOD = {", f"{bit} = {{"),
            (SETTINGS, "named_ids = false", "named_ids = true"),  # the longest lines there are
            (SETTINGS, "bit_defines = false", "bit_defines = true"),
        ],
    )
    for path in schema.glob("*.toml"):  # the struct's name, everywhere it is used
        path.write_text(path.read_text().replace('"tdmr"', f'"{struct}"'))
    out = tmp_path / "out"
    proc = build(schema, out)
    assert (proc.returncode, problems(proc)) == (0, [])
    compile_and_run(schema, out, tmp_path)
    data, _ = fresh_read(out)
    tdmr = SHIPPED["tdmr"]
    tdmr = {(member if k == "max_tdmrs" else k): v for k, v in tdmr.items()}
    assert data == {
        (struct if k == "tdmr" else k): (tdmr if k == "tdmr" else v) for k, v in SHIPPED.items()
    }
    header = (out / "linux/arch/x86/include/asm/tdx_global_metadata.h").read_text()
    assert f"#define TDX_FEATURES0_{bit}\tBIT_ULL(18)" in header
