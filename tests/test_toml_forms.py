"""Every TOML spelling of an entry is the same entry: inline arrays of tables,
quoted headers and the like are identified by key path, never by line."""

import shutil
from pathlib import Path

from codegen.spec.compiler import compile_schema
from codegen.spec.diagnostics import format_text

DATA = Path(__file__).parent / "data"

INLINE_FIELDS = """\
field = [
  { name = "MAX_TDMRS", id = "0x9100000100000008", class = 0x11, element_size = 2, struct = "tdmr", member = "max_tdmrs", type = "u16", since = "1.5.01", description = "Maximum TDMRs.", gate = "TDX_FEATURES0.TD_PRESERVING" },
  { name = "NUM_RANGES", id = "0x9100000100000009", class = 0x11, element_size = 2, struct = "tdmr", member = "num_ranges", type = "u16", since = "1.5.01", description = "Live count." },
  { name = "RANGE_BASE", id = "0x9100000300000010", class = 0x11, element_size = 8, num_fields = 4, struct = "tdmr", member = "MEMBER", type = "u64", count = "NUM_RANGES", since = "1.5.01", description = "Bases." },
]

[class]
code = 0x11
name = "TDMR Info"

[[struct]]
name = "tdmr"
c_name = "tdx_sys_info_tdmr"
description = "TDMR limits."
"""


def schema_with(tmp_path: Path, tdmr_text: str) -> Path:
    schema = tmp_path / "schema"
    shutil.copytree(DATA / "minimal", schema)
    (schema / "tdmr.toml").write_text(tdmr_text)
    return schema


def test_gate_of_a_field_in_an_inline_array_is_kept(tmp_path):
    schema = schema_with(tmp_path, INLINE_FIELDS.replace('"MEMBER"', '"range_base"'))
    catalogue, rep = compile_schema(schema)
    assert rep.items == []
    gates = {
        f.name: f.gate and (f.gate.feature_field, f.gate.feature_bit) for f in catalogue.fields
    }
    assert gates == {
        "TDX_FEATURES0": None,
        "MAX_TDMRS": ("TDX_FEATURES0", "TD_PRESERVING"),
        "NUM_RANGES": None,
        "RANGE_BASE": None,
    }


def test_error_in_a_later_field_of_an_inline_array(tmp_path):
    schema = schema_with(tmp_path, INLINE_FIELDS.replace('"MEMBER"', '"max_tdmrs[4]"'))
    catalogue, rep = compile_schema(schema)
    assert catalogue is None
    text = format_text(rep.sorted()).replace(str(tmp_path) + "/", "")
    line4 = INLINE_FIELDS.splitlines()[3].replace('"MEMBER"', '"max_tdmrs[4]"')
    col = line4.index('"max_tdmrs[4]"') + 1
    assert text.splitlines()[0] == (
        f"schema/tdmr.toml:4:{col}: error[DUPLICATE-MEMBER]: RANGE_BASE and MAX_TDMRS are both "
        "read into tdmr.max_tdmrs"
    )


def test_header_line_inside_a_multiline_string_shifts_nothing(tmp_path):
    text = (DATA / "minimal" / "tdmr.toml").read_text()
    text = text.replace(
        'description = "Maximum TDMRs."',
        'description = """Maximum TDMRs.\n[[field]]\nname = "X"\n"""',
        1,
    )
    text = text.replace('[[field]]\nname = "NUM_RANGES"', '[["field"]]\nname = "NUM_RANGES"')
    text = text.replace('member = "range_base"', 'member = "range base"')
    schema = schema_with(tmp_path, text)
    _, rep = compile_schema(schema)
    line = text.split("\n").index('member = "range base"') + 1
    assert format_text(rep.sorted()).replace(str(tmp_path) + "/", "") == (
        f"schema/tdmr.toml:{line}:10: error[C-IDENTIFIER]: member 'range base' is not a C "
        "identifier (optionally followed by [N] dimensions)\n"
        f'{line:>5} | member = "range base"\n'
        "      |          ^~~~~~~~~~~~\n"
    )
