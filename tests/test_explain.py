"""`explain`: the bit ruler of an id, plain or in colour, and fields given by name.

Run as a user runs it (a subprocess, stdout a pipe or a terminal) against
tests/data/minimal, so the expected text is this file's own.
"""

import os
import pty
import subprocess
import sys
from pathlib import Path

MINIMAL = Path(__file__).parent / "data" / "minimal"

PLAIN = """\
0x9100000100000008
   6 6 665555 5 555 5 5 444 444444433 3333 33 33222222 222211111111110000000000
   3 2 109876 5 432 1 0 987 654321098 7654 32 10987654 321098765432109876543210
  |1|0|010001|0|000|0|0|000|000000000|0000|01|00000000|000000000000000000001000|
  NON_ARCH                    63  0x1
  RESERVED_62                 62  0x0
  CLASS_CODE               61:56  0x11  TDMR Info
  RESERVED_55                 55  0x0
  CONTEXT_CODE             54:52  0x0  global (SYS)
  WRITE_MASK_VALID            51  0x0
  INC_SIZE                    50  0x0
  RESERVED_49_47           49:47  0x0
  LAST_FIELD_IN_SEQUENCE   46:38  0x0
  LAST_ELEMENT_IN_FIELD    37:34  0x0
  ELEMENT_SIZE_CODE        33:32  0x1  2 byte(s)
  RESERVED_31_24           31:24  0x0
  FIELD_CODE                23:0  0x8
field: MAX_TDMRS
  member:   tdx_sys_info_tdmr.max_tdmrs (u16)
  shape:    1 field(s) x 1 element(s) of 2 byte(s), base id 0x9100000100000008
  gate:     none (always read)
  since:    1.5.01
"""


def sgr(code: str, text: str) -> str:
    return f"\x1b[{code}m{text}\x1b[0m"


# Sub-fields take the colours in turn (cyan, yellow, green, magenta, blue, red); reserved are dim.
COLOURED = PLAIN.splitlines(keepends=True)
COLOURED[3] = (
    "  |"
    + "|".join(
        [
            sgr("36", "1"),
            sgr("2", "0"),
            sgr("33", "010001"),
            sgr("2", "0"),
            sgr("32", "000"),
            sgr("35", "0"),
            sgr("34", "0"),
            sgr("2", "000"),
            sgr("31", "000000000"),
            sgr("36", "0000"),
            sgr("33", "01"),
            sgr("2", "00000000"),
            sgr("32", "000000000000000000001000"),
        ]
    )
    + "|\n"
)
for i, code in zip(
    range(4, 17),
    ("36", "2", "33", "2", "32", "35", "34", "2", "31", "36", "33", "2", "32"),
    strict=True,
):
    name, rest = COLOURED[i][2:26], COLOURED[i][26:]
    COLOURED[i] = f"  {sgr(code, name)}{rest}"
COLOURED = "".join(COLOURED)


def explain(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "codegen", "explain", *args, "--schema", str(MINIMAL), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
    )


def on_terminal(*args, no_color=None) -> str:
    """stdout of explain run with a pseudo-terminal as stdout."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    main, tty = pty.openpty()
    try:
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "codegen",
                "explain",
                *args,
                "--schema",
                str(MINIMAL),
                "--no-cache",
            ],
            stdout=tty,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
        )
        os.close(tty)
        tty = None
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
        if tty is not None:
            os.close(tty)
    assert p.returncode == 0, p.stderr
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_name_is_explained_as_its_id_plain_in_a_pipe():
    p = explain("MAX_TDMRS")
    assert (p.returncode, p.stdout, p.stderr) == (0, PLAIN, "")
    assert explain("0x9100000100000008").stdout == PLAIN


def test_colour_always_paints_the_ruler_and_the_names():
    p = explain("MAX_TDMRS", "--color", "always")
    assert (p.returncode, p.stdout) == (0, COLOURED)


def test_a_terminal_gets_colour_unless_no_color_or_never():
    assert on_terminal("MAX_TDMRS") == COLOURED
    assert on_terminal("MAX_TDMRS", no_color="1") == PLAIN
    assert on_terminal("MAX_TDMRS", "--color", "never") == PLAIN
    assert on_terminal("MAX_TDMRS", no_color="") == COLOURED  # NO_COLOR empty: not set


def test_an_element_by_index():
    p = explain("RANGE_BASE[3]")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0] == "0x9100000300000013"
    assert lines[3] == (
        "  |1|0|010001|0|000|0|0|000|000000000|0000|11|00000000|000000000000000000010011|"
    )
    assert "field: RANGE_BASE[3]" in lines


def test_names_that_are_not_fields():
    p = explain("MAXTDMRS")
    assert (p.returncode, p.stdout, p.stderr) == (
        2,
        "",
        "tdx-codegen: error: cannot explain 'MAXTDMRS': no field named MAXTDMRS in the "
        "schema (did you mean MAX_TDMRS?); ids are written as 0x followed by hex digits\n",
    )
    p = explain("RANGE_BASE[4]")
    assert (p.returncode, p.stderr) == (
        2,
        "tdx-codegen: error: cannot explain 'RANGE_BASE[4]': RANGE_BASE has 4 field(s) of "
        "1 element(s)\n",
    )
    p = explain("MAX_TDMRS", "--color", "sometimes")
    assert p.returncode == 2 and "invalid choice: 'sometimes'" in p.stderr


def test_an_index_in_digits_of_another_script_is_no_index():
    """Python's \\d and int() take any script's digits: RANGE_BASE[٣] is not RANGE_BASE[3]."""
    for given, digit in (
        ("RANGE_BASE[\u0663]", "'\u0663' is U+0663 ARABIC-INDIC DIGIT THREE"),
        ("RANGE_BASE[1][\uff10]", "'\uff10' is U+FF10 FULLWIDTH DIGIT ZERO"),
    ):
        p = explain(given)
        assert (p.returncode, p.stdout, p.stderr) == (
            2,
            "",
            f"tdx-codegen: error: cannot explain '{given}': '{given}' is not a number: "
            f"{digit}, not ASCII (write ids as 0x followed by hex digits)\n",
        )
