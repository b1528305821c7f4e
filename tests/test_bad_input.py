"""Bad input on the schema side, each case with the exact output a user sees.

Kinds: numbers that are not ASCII digits, booleans and floats where an
integer goes, text encodings, characters that look like others, control
characters from any input, very long lines, and duplicate keys in
Intel's JSON.  The expected text is what `validate` (or the named verb)
prints to stderr, run from the directory that holds the schema.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from codegen.cli import main

DATA = Path(__file__).parent / "data"
FIELD = DATA / "minimal" / "tdmr.toml"  # line 12: id = "0x9100000100000008"


def run(root: Path, capsys, *argv) -> str:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code = main(list(argv))
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return f"exit {code}\n{out.out}{out.err}"


def validate(tmp_path, capsys, name: str, content) -> str:
    """validate a copy of tests/data/minimal whose file `name` is replaced by content."""
    schema = tmp_path / "schema"
    shutil.copytree(DATA / "minimal", schema)
    if name in os.listdir(schema):
        os.unlink(schema / name)
    data = content if isinstance(content, bytes) else content.encode()
    (schema / name).write_bytes(data)
    return run(tmp_path, capsys, "validate", "--schema", "schema", "--no-cache")


def tdmr(old: str, new: str, count: int = 1) -> str:
    text = FIELD.read_text()
    assert old in text
    return text.replace(old, new, count)


def one_error(where: str, rule: str, message: str, line: str, marks: str, pad=None) -> str:
    """The output of one error; the caret sits under the column unless pad says otherwise."""
    number, col = where.split(":")[1:3]
    caret = " " * (int(col) - 1 if pad is None else pad) + marks
    return (
        f"exit 1\n{where}: error[{rule}]: {message}\n{number:>5} | {line}\n      | {caret}\n"
        "1 error, 0 warnings\n"
    )


ID_HINT = "(write ids as 0x followed by hex digits)"


def id_case(written: str, shown: str, character: str):
    """The schema's first id written as `written`: printed as `shown`, with `character` named."""
    return (
        "tdmr.toml",
        tdmr('"0x9100000100000008"', f'"{written}"'),
        one_error(
            "schema/tdmr.toml:12:6",
            "ID-FORMAT",
            f"'{shown}' is not a number: {character}, not ASCII {ID_HINT}",
            f'id = "{shown}"',
            "^" + "~" * (len(shown) + 1),
        ),
    )


SCHEMA_CASES = {
    # -- numbers: ASCII digits only ---------------------------------------------------------
    # int() refuses more than 4300 digits (sys.get_int_max_str_digits) and tomllib passes
    # its ValueError on without a position
    "number-too-long-for-int": (
        "tdmr.toml",
        tdmr("element_size = 2", "element_size = " + "9" * 5000),
        one_error(
            "schema/tdmr.toml:14:16",
            "TOML-SYNTAX",
            "invalid TOML: a number of 5000 digits (at most 4300)",
            "element_size = " + "9" * 85 + "...",
            "^",
        ),
    ),
    "id-fullwidth-digits": id_case(
        "0x９１00000100000008", "0x９１00000100000008", "'９' is U+FF19 FULLWIDTH DIGIT NINE"
    ),
    "id-arabic-indic-digits": id_case(
        "0x٩١٠٠٠٠٠١٠٠٠٠٠٠٠٨", "0x٩١٠٠٠٠٠١٠٠٠٠٠٠٠٨", "'٩' is U+0669 ARABIC-INDIC DIGIT NINE"
    ),
    "id-cyrillic-ha": id_case(
        "0х9100000100000008", "0х9100000100000008", "'х' is U+0445 CYRILLIC SMALL LETTER HA"
    ),
    "id-superscript-digit": id_case(
        "0x9100000100000008²", "0x9100000100000008²", "'²' is U+00B2 SUPERSCRIPT TWO"
    ),
    "id-no-break-space": id_case(
        "0x91000001\u00a000000008", "0x91000001\\xa000000008", "'\\xa0' is U+00A0 NO-BREAK SPACE"
    ),
    # -- booleans and floats are not integers ---------------------------------------------
    "element-size-true": (
        "tdmr.toml",
        tdmr("element_size = 2", "element_size = true"),
        one_error(
            "schema/tdmr.toml:14:16",
            "BAD-VALUE",
            "'element_size': input should be a valid integer, got boolean True",
            "element_size = true",
            "^~~~",
        ),
    ),
    "element-size-float": (
        "tdmr.toml",
        tdmr("element_size = 2", "element_size = 8.0"),
        one_error(
            "schema/tdmr.toml:14:16",
            "BAD-VALUE",
            "'element_size': input should be a valid integer, got float 8.0",
            "element_size = 8.0",
            "^~~",
        ),
    ),
    "element-size-string": (
        "tdmr.toml",
        tdmr("element_size = 2", 'element_size = "2"'),
        one_error(
            "schema/tdmr.toml:14:16",
            "BAD-VALUE",
            "'element_size' must be one of 1, 2, 4 or 8, not '2'",
            'element_size = "2"',
            "^~~",
        ),
    ),
    "num-fields-true": (
        "tdmr.toml",
        tdmr("num_fields = 4", "num_fields = true"),
        one_error(
            "schema/tdmr.toml:37:14",
            "BAD-VALUE",
            "'num_fields': input should be a valid integer, got boolean True",
            "num_fields = true",
            "^~~~",
        ),
    ),
    "num-fields-float": (
        "tdmr.toml",
        tdmr("num_fields = 4", "num_fields = 4e0"),
        one_error(
            "schema/tdmr.toml:37:14",
            "BAD-VALUE",
            "'num_fields': input should be a valid integer, got float 4.0",
            "num_fields = 4e0",
            "^~~",
        ),
    ),
    "capacity-false": (
        "tdmr.toml",
        tdmr("num_fields = 4", "num_fields = 4\ncapacity = false"),
        one_error(
            "schema/tdmr.toml:38:12",
            "BAD-VALUE",
            "'capacity': input should be a valid integer, got boolean False",
            "capacity = false",
            "^~~~~",
        ),
    ),
    "class-true": (
        "tdmr.toml",
        tdmr("class = 0x11", "class = true"),
        one_error(
            "schema/tdmr.toml:13:9",
            "BAD-VALUE",
            "'class' must be an integer or a string, got boolean True",
            "class = true",
            "^~~~",
        ),
    ),
    "gate-number": (
        "tdmr.toml",
        tdmr('since = "1.5.01"', 'since = "1.5.01"\ngate = 7'),
        one_error(
            "schema/tdmr.toml:19:8",
            "BAD-VALUE",
            "'gate' must be a string or a table, got integer 7",
            "gate = 7",
            "^",
        ),
    ),
    "gate-table-with-a-number": (
        "tdmr.toml",
        tdmr('since = "1.5.01"', 'since = "1.5.01"\ngate.feature = 7'),
        one_error(
            "schema/tdmr.toml:19:16",
            "BAD-VALUE",
            "'gate.feature': input should be a valid string, got integer 7",
            "gate.feature = 7",
            "^",
        ),
    ),
    "bit-index-true": (
        "classes.toml",
        (DATA / "minimal" / "classes.toml")
        .read_text()
        .replace("TD_PRESERVING = 1", "TD_PRESERVING = true"),
        one_error(
            "schema/classes.toml:22:17",
            "BAD-VALUE",
            "'bits.TD_PRESERVING' must be an integer or a table, got boolean True",
            "TD_PRESERVING = true",
            "^~~~",
        ),
    ),
    # -- encodings -------------------------------------------------------------------------
    "utf8-bom": (
        "tdmr.toml",
        b"\xef\xbb\xbf" + FIELD.read_bytes(),
        one_error(
            "schema/tdmr.toml:1:1",
            "TOML-SYNTAX",
            "invalid TOML: the file starts with a UTF-8 byte order mark (U+FEFF), which TOML "
            "does not allow; save it as UTF-8 without a BOM",
            "[class]",
            "^",
        ),
    ),
    "invalid-utf8-mid-line": (
        "tdmr.toml",
        FIELD.read_bytes().replace(b'"Maximum TDMRs."', b'"Maxim\xfcm TDMRs."'),
        one_error(
            "schema/tdmr.toml:19:21",
            "TOML-SYNTAX",
            "invalid TOML: not valid UTF-8 (invalid start byte 0xFC); save the file as UTF-8",
            'description = "Maxim\ufffdm TDMRs."',
            "^",
        ),
    ),
    "latin1-file": (
        "tdmr.toml",
        FIELD.read_bytes().replace(b'name = "TDMR Info"', b'name = "TDMR \xe9t\xe9"'),
        one_error(
            "schema/tdmr.toml:3:14",
            "TOML-SYNTAX",
            "invalid TOML: not valid UTF-8 (invalid continuation byte 0xE9); save the file "
            "as UTF-8",
            'name = "TDMR \ufffdt\ufffd"',
            "^",
        ),
    ),
    "utf8-cut-at-end": (
        "tdmr.toml",
        FIELD.read_bytes() + b"# \xe2\x82",
        one_error(
            "schema/tdmr.toml:44:3",
            "TOML-SYNTAX",
            "invalid TOML: not valid UTF-8 (unexpected end of data 0xE2 0x82); save the file "
            "as UTF-8",
            "# \ufffd",
            "^",
        ),
    ),
    "utf16-file": (
        "tdmr.toml",
        FIELD.read_text().encode("utf-16"),
        one_error(
            "schema/tdmr.toml:1:1",
            "TOML-SYNTAX",
            "invalid TOML: not valid UTF-8 (invalid start byte 0xFF); save the file as UTF-8",
            "\ufffd\ufffd[\\x00c\\x00l\\x00a\\x00s\\x00s\\x00]\\x00",
            "^",
        ),
    ),
    # -- look-alike characters and control characters ------------------------------------
    "cyrillic-in-bare-key": (
        "tdmr.toml",
        tdmr("element_size = 2", "еlement_size = 2"),
        one_error(
            "schema/tdmr.toml:14:1",
            "TOML-SYNTAX",
            "invalid TOML: Invalid statement ('е' is U+0435 CYRILLIC SMALL LETTER IE)",
            "еlement_size = 2",
            "^",
        ),
    ),
    "no-break-space-before-equals": (
        "tdmr.toml",
        tdmr("element_size = 2", "element_size\u00a0= 2"),
        one_error(
            "schema/tdmr.toml:14:13",
            "TOML-SYNTAX",
            "invalid TOML: Expected '=' after a key in a key/value pair ('\\xa0' is U+00A0 "
            "NO-BREAK SPACE)",
            "element_size\\xa0= 2",
            "^~~~",
        ),
    ),
    "fullwidth-digit-in-type": (
        "tdmr.toml",
        tdmr('type = "u16"', 'type = "u１6"'),
        one_error(
            "schema/tdmr.toml:17:8",
            "BAD-VALUE",
            "'type' must be one of 'u8', 'u16', 'u32' or 'u64', not 'u１6' ('１' is U+FF11 "
            "FULLWIDTH DIGIT ONE)",
            'type = "u１6"',
            "^~~~~",
        ),
    ),
    "escape-in-comment": (
        "tdmr.toml",
        tdmr("[class]", "[class]  # \x1b]0;owned\x07"),
        one_error(
            "schema/tdmr.toml:1:12",
            "TOML-SYNTAX",
            "invalid TOML: Found invalid character '\\x1b'",
            "[class]  # \\x1b]0;owned\\x07",
            "^~~~",
        ),
    ),
    "nul-in-string": (
        "tdmr.toml",
        tdmr('"TDMR Info"', '"TDMR\x00Info"'),
        one_error(
            "schema/tdmr.toml:3:13",
            "TOML-SYNTAX",
            "invalid TOML: Illegal character '\\x00'",
            'name = "TDMR\\x00Info"',
            "^~~~",
        ),
    ),
    "escape-in-description-value": (
        "tdmr.toml",
        tdmr('"Maximum TDMRs."', '"Maximum \\u001b[31mTDMRs."'),
        one_error(
            "schema/tdmr.toml:19:15",
            "UNSAFE-TEXT",
            "text contains the non-printable character U+001B",
            'description = "Maximum \\u001b[31mTDMRs."',
            "^~~~~~~~~~~~~~~~~~~~~~~~~~",
        ),
    ),
    "control-character-in-file-name": (
        "tdmr\x1b[2J.toml",
        "[class]\ncode = 0x11\nname = 1\n",
        "exit 1\n"
        "schema/tdmr\\x1b[2J.toml: error[FILE-NAME]: the file name holds the control character "
        "\\x1b (U+001B): the generated files name it in their banners; rename it\n"
        "schema/tdmr\\x1b[2J.toml:3:8: error[BAD-VALUE]: 'name': input should be a valid string, "
        "got integer 1\n"
        "    3 | name = 1\n"
        "      |        ^\n"
        "2 errors, 0 warnings\n",
    ),
    "newline-in-file-name": (
        "x\ny.toml",
        "[class]\ncode = 0x30\nname = true\n",
        "exit 1\n"
        "schema/x\\x0ay.toml: error[FILE-NAME]: the file name holds the control character "
        "\\x0a (U+000A): the generated files name it in their banners; rename it\n"
        "schema/x\\x0ay.toml:3:8: error[BAD-VALUE]: 'name': input should be a valid string, "
        "got boolean True\n"
        "    3 | name = true\n"
        "      |        ^~~~\n"
        "2 errors, 0 warnings\n",
    ),
    # -- very long lines ----------------------------------------------------------------------
    "long-line-value-at-the-start": (
        "tdmr.toml",
        tdmr('"Maximum TDMRs."', '"' + "a" * 5000 + "*/" + "b" * 5000 + '"'),
        one_error(
            "schema/tdmr.toml:19:15",
            "UNSAFE-TEXT",
            "text contains '*/', which would end a C comment in generated code",
            'description = "' + "a" * 85 + "...",
            "^" + "~" * 85,
        ),
    ),
    "long-line-caret-in-the-middle": (
        "tdmr.toml",
        tdmr(
            "num_fields = 4", "num_fields = 4\nx = [" + "1, " * 2000 + "2 3, " + "4, " * 2000 + "]"
        ),
        one_error(
            "schema/tdmr.toml:38:6008",
            "TOML-SYNTAX",
            "invalid TOML: Unclosed array",
            "..." + "1, " * 16 + "2 3, " + "4, " * 15 + "4,...",
            "^",
            pad=53,
        ),
    ),
    "long-line-error-far-right": (
        "tdmr.toml",
        tdmr(
            'since = "1.5.01"\ndescription = "Maximum TDMRs."',
            'since = "1.5.01"\ndescription = "' + "x" * 3000 + '" oops',
        ),
        one_error(
            "schema/tdmr.toml:19:3018",
            "TOML-SYNTAX",
            "invalid TOML: Expected newline or end of document after a statement",
            "..." + "x" * 94 + '" oops',
            "^",
            pad=99,
        ),
    ),
    "long-value-in-message": (
        "tdmr.toml",
        tdmr('type = "u16"', 'type = "' + "u" * 100000 + '"'),
        one_error(
            "schema/tdmr.toml:17:8",
            "BAD-VALUE",
            "'type' must be one of 'u8', 'u16', 'u32' or 'u64', not '" + "u" * 36 + "...",
            'type = "' + "u" * 92 + "...",
            "^" + "~" * 92,
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(SCHEMA_CASES))
def test_schema_input(case, tmp_path, capsys):
    name, content, expected = SCHEMA_CASES[case]
    assert validate(tmp_path, capsys, name, content) == expected


# -- Intel's JSON --------------------------------------------------------------------------
ENTRY = {
    "Field Name": "MAX_TDMRS",
    "Base FIELD_ID (Hex)": "0x9100000100000008",
    "Element Size (Bytes)": 2,
    "Num Fields": 1,
    "Num Elements": 1,
    "Class": "TDMR Info",
    "Description": ["Maximum TDMRs."],
    "Host VMM Access": "RO",
    "Guest Access": "None",
}


def json_text(**changes) -> str:
    entry = {**ENTRY, **changes}
    body = ",\n".join(
        f"      {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in entry.items()
    )
    return (
        '{\n  "Header": {"Info": "TDX", "Version": "1.5.01"},\n  "Fields": [\n    {\n'
        f"{body}\n    }}\n  ]\n}}\n"
    )


def import_json(tmp_path, capsys, text: str) -> str:
    (tmp_path / "m.json").write_text(text, encoding="utf-8")
    return run(tmp_path, capsys, "import-json", "m.json", "--schema", str(DATA / "minimal"))


NOT_USABLE = (
    "tdx-codegen: error: m.json is not usable as Intel's global metadata JSON (1 problem(s))\n"
)

JSON_CASES = {
    "number-too-long-for-int": (
        json_text().replace('"Num Fields": 1', '"Num Fields": ' + "9" * 5000),
        "exit 1\nm.json:8:21: not valid JSON: a number of 5000 digits (at most 4300)\n"
        + NOT_USABLE,
    ),
    "id-arabic-indic": (
        json_text(**{"Base FIELD_ID (Hex)": "0x٩١00000100000008"}),
        "exit 1\nm.json:4: MAX_TDMRS: \"Base FIELD_ID (Hex)\" '0x٩١00000100000008' is not a "
        "64-bit hex number ('٩' is U+0669 ARABIC-INDIC DIGIT NINE, not ASCII)\n" + NOT_USABLE,
    ),
    "id-fullwidth-without-0x": (
        json_text(**{"Base FIELD_ID (Hex)": "９100000100000008"}),
        "exit 1\nm.json:4: MAX_TDMRS: \"Base FIELD_ID (Hex)\" '９100000100000008' is not a "
        "64-bit hex number ('９' is U+FF19 FULLWIDTH DIGIT NINE, not ASCII)\n" + NOT_USABLE,
    ),
    "num-fields-fullwidth-string": (
        json_text(**{"Num Fields": "８"}),
        "exit 1\nm.json:4: MAX_TDMRS: \"Num Fields\" must be a number, not the string '８' "
        "('８' is U+FF18 FULLWIDTH DIGIT EIGHT, not an ASCII digit)\n" + NOT_USABLE,
    ),
    "name-with-terminal-escape": (
        json_text(**{"Field Name": "MAX\x1b]0;pwned\x07_TDMRS"}),
        'exit 1\nm.json:4: MAX\\x1b]0;pwned\\x07_TDMRS: "Field Name" holds a control character '
        "('\\x1b' is U+001B), which no ABI name has\n" + NOT_USABLE,
    ),
    "duplicate-key-in-field": (
        json_text().replace('"Num Elements": 1', '"Num Elements": 1,\n      "Num Elements": 2'),
        'exit 1\nm.json:4: the key "Num Elements" appears twice in one object; JSON keys must be '
        "unique\n" + NOT_USABLE,
    ),
    "duplicate-key-in-header": (
        json_text().replace('"Version": "1.5.01"', '"Version": "1.5.01", "Version": "2.0.08"'),
        'exit 1\nm.json:2: the key "Version" appears twice in one object; JSON keys must be '
        "unique\n" + NOT_USABLE,
    ),
    "duplicate-fields-list": (
        json_text().replace('  "Fields": [', '  "Fields": [],\n  "Fields": ['),
        'exit 1\nm.json:1: the key "Fields" appears twice in one object; JSON keys must be '
        "unique\n" + NOT_USABLE,
    ),
}


JSON_FILE_CASES = {
    "bom": ("\ufeff" + json_text()).encode(),
    "latin1": json_text().replace("Maximum", "Maxim\u00fcm").encode("latin-1"),
}
JSON_FILE_EXPECTED = {
    "bom": "m.json:1:1: the file starts with a UTF-8 byte order mark (U+FEFF), which JSON does "
    "not allow; save it as UTF-8 without a BOM",
    "latin1": "m.json:11:29: not valid UTF-8 (invalid start byte 0xFC); save the file as UTF-8",
}


@pytest.mark.parametrize("case", sorted(JSON_FILE_CASES))
def test_intel_json_file_encoding(case, tmp_path, capsys):
    (tmp_path / "m.json").write_bytes(JSON_FILE_CASES[case])
    assert (
        run(tmp_path, capsys, "import-json", "m.json", "--schema", str(DATA / "minimal"))
        == f"exit 1\n{JSON_FILE_EXPECTED[case]}\n{NOT_USABLE}"
    )


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_intel_json_input(case, tmp_path, capsys):
    text, expected = JSON_CASES[case]
    assert import_json(tmp_path, capsys, text) == expected


def test_intel_json_that_is_fine_still_imports(tmp_path, capsys):
    out = import_json(tmp_path, capsys, json_text())
    assert out.splitlines()[:2] == ["exit 0", "m.json: TDX, release 1.5.01, 1 fields"]


# -- ids on the simulator's command line ---------------------------------------------------
SIM_CASES = {
    "fullwidth": (
        "０x9100000100000008",
        "'０x9100000100000008' is not a number: '０' is U+FF10 "
        f"FULLWIDTH DIGIT ZERO, not ASCII {ID_HINT}",
    ),
    "arabic-indic": (
        "٠x9100000100000008",
        "'٠x9100000100000008' is not a number: '٠' is U+0660 "
        f"ARABIC-INDIC DIGIT ZERO, not ASCII {ID_HINT}",
    ),
    "escape": ("0x91\x1b[2J", f"'0x91\\x1b[2J' is not a number {ID_HINT}"),
}


@pytest.mark.parametrize("case", sorted(SIM_CASES))
def test_sim_rd_id(case, tmp_path, capsys):
    arg, message = SIM_CASES[case]
    shutil.copytree(DATA.parent.parent / "schema", tmp_path / "schema")  # a project to run in
    assert (
        run(tmp_path, capsys, "sim", "--profile", "1.5.01", "rd", arg)
        == f"exit 2\ntdx-codegen: error: {message}\n"
    )


# -- names typed on the command line, shown with their control characters escaped ----------
PROFILES = "profiles: 1.5.01, 1.5.05, 1.5.06, 1.5.34, 2.0.02, 2.0.04, 2.0.08, 2.0.18"
TYPED_NAME_CASES = {
    "profile": (
        ("sim", "--profile", "1.5.01\x1b]0;x\x07", "rd", "-1"),
        "no profile '1.5.01\\x1b]0;x\\x07' (schema/profiles/1.5.01\\x1b]0;x\\x07.toml "
        f"does not exist; {PROFILES})",
    ),
    "release-diff": (
        ("release-diff", "1.5.06\x1b[2J", "2.0.08"),
        "no profile '1.5.06\\x1b[2J' (schema/profiles/1.5.06\\x1b[2J.toml does not exist; "
        f"{PROFILES})",
    ),
    "set-field": (
        ("sim", "--profile", "1.5.01", "--set", "MAX\x1b[2J=1", "rd", "-1"),
        "'MAX\\x1b[2J' is not a field of module 1.5.01",
    ),
    "fault-field": (
        ("sim", "--profile", "1.5.01", "--fault", "MAX\x9b2J=TDX_SYS_BUSY", "rd", "-1"),
        "'MAX\\x9b2J' is not a field of module 1.5.01",
    ),
    "explain": (
        ("explain", "\x1b]0;x\x07"),
        "cannot explain '\\x1b]0;x\\x07': '\\x1b]0;x\\x07' is not a number (write ids as 0x "
        "followed by hex digits)",
    ),
}


@pytest.mark.parametrize("case", sorted(TYPED_NAME_CASES))
def test_a_name_typed_with_control_characters_is_shown_escaped(case, tmp_path, capsys):
    argv, message = TYPED_NAME_CASES[case]
    shutil.copytree(DATA.parent.parent / "schema", tmp_path / "schema")
    assert run(tmp_path, capsys, *argv) == f"exit 2\ntdx-codegen: error: {message}\n"


def test_a_path_typed_with_control_characters_is_shown_escaped_in_status_lines(tmp_path, capsys):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    out = run(tmp_path, capsys, "build", "--out", "o\x1b]0;x\x07")
    assert out.startswith("exit 0\nwrote o\\x1b]0;x\\x07/docs/field-id.svg\n"), out
    assert "\x1b" not in out


# -- values and counts on the simulator's command line -------------------------------------
SIM_OPTION_CASES = {
    "set-fullwidth-value": (
        ("--set", "MAX_TDMRS=\uff16\uff14"),
        "--set MAX_TDMRS=\uff16\uff14: values are integers (0x... or decimal, ASCII digits)",
    ),
    "fault-arabic-count": (
        ("--fault", "MAX_TDMRS=TDX_SYS_BUSY:\u0662"),
        "--fault MAX_TDMRS=TDX_SYS_BUSY:\u0662: COUNT '\\u0662' is not a decimal number",
    ),
    "fault-fullwidth-status": (
        ("--fault", "MAX_TDMRS=\uff11"),
        "--fault MAX_TDMRS=\uff11: unknown status '\\uff11' (names: ",
    ),
}


@pytest.mark.parametrize("case", sorted(SIM_OPTION_CASES))
def test_sim_option_numbers_are_ascii(case, tmp_path, capsys):
    argv, message = SIM_OPTION_CASES[case]
    shutil.copytree(DATA.parent.parent / "schema", tmp_path / "schema")
    out = run(tmp_path, capsys, "sim", "--profile", "1.5.01", *argv, "rd", "0x9100000100000008")
    assert out.startswith(f"exit 2\ntdx-codegen: error: {message}"), out
