"""Value profiles and replayed modules: checked with file:line diagnostics."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from codegen.abi import fieldid
from codegen.abi.release import Release
from codegen.sim import profile, replay
from codegen.sim.simulator import Simulator
from codegen.spec.compiler import compile_or_raise
from codegen.spec.diagnostics import format_text

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "schema" / "profiles"


@pytest.fixture(scope="module")
def catalogue():
    return compile_or_raise(ROOT / "schema")


def errors_of(tmp_path, monkeypatch, catalogue, text: str, name="p.toml") -> str:
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text)
    with pytest.raises(profile.ProfileError) as exc:
        profile.load_profile(Path(name), catalogue)
    return format_text(exc.value.diagnostics)


RELEASES = ["1.5.01", "1.5.05", "1.5.06", "1.5.34", "2.0.02", "2.0.04", "2.0.08", "2.0.18"]


def test_a_profile_per_release():
    assert profile.profile_names(ROOT / "schema") == RELEASES


@pytest.mark.parametrize("name", RELEASES)
def test_shipped_profiles(catalogue, name):
    """Each profile models its release's table: named for it, saying where the number is from."""
    m = profile.load_profile(PROFILES / f"{name}.toml", catalogue)
    assert str(m.release) == name and m.name == name
    assert m.fields == catalogue.fields_of(Release.parse(name))
    assert "EXT_REQUIRED" not in m.values and "MEMORY_POOL_REQUIRED_PAGES" not in m.values
    assert m.first_element_only == (
        frozenset({"CPUID_CONFIG_VALUES"}) if name == "1.5.01" else frozenset()
    )
    major, minor, update = (int(x) for x in name.split("."))
    assert (m.values["MAJOR_VERSION"], m.values["MINOR_VERSION"], m.values["UPDATE_VERSION"]) == (
        (major,),
        (minor,),
        (update,),
    )
    assert m.values["VENDOR_ID"] == (0x8086,)
    head = tomllib.loads((PROFILES / f"{name}.toml").read_text())["profile"]
    assert head["source"].startswith("intel/tdx-module proj_defs.mk at commit ")
    assert head["table"].startswith("intel/tdx-module include/auto_gen")
    assert head["table"].endswith(f" ({len(m.fields)} entries)")


def test_values_from_tdx_abi_section_6(catalogue):
    v = profile.load_profile(PROFILES / "1.5.01.toml", catalogue).values
    assert v["TDX_FEATURES0"] == (0xF0FBF,) and v["NUM_CMRS"] == (32,)
    assert v["ATTRIBUTES_FIXED0"] == (0x8000000070000001,) and v["NUM_CPUID_CONFIG"] == (12,)
    assert v["CPUID_CONFIG_LEAVES"][12:] == (fieldid.MASK64,) * 20  # [fill]
    assert v["CPUID_CONFIG_VALUES"][24:] == (0,) * 40
    w = profile.load_profile(PROFILES / "2.0.08.toml", catalogue).values
    assert w["TDX_CONNECT_FEATURES"] == (0x1281,) and w["MAX_EVENT_FILTERS"] == (512,)
    assert w["SYS_ATTRIBUTES"] == (0,) and w["NUM_CPUID_CONFIG"][0] > 12


def test_every_problem_with_its_line(tmp_path, monkeypatch, catalogue):
    text = """[profile]
release = "1.5.01"
colour = "blue"

[values]
NUM_CMR = 3
NUM_CMRS = 0x10000
CMR_BASE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]
MAX_VCPUS_PER_TD = 4
EXT_REQUIRED = 1
VENDOR_ID = [0x8086]
CPUID_CONFIG_VALUES = [[1, 2], [3]]
"""
    assert (
        errors_of(tmp_path, monkeypatch, catalogue, text)
        == """\
p.toml:3:1: error[PROFILE-KEY]: unknown key 'colour' in [profile] (expected release, description, source, table)
    3 | colour = "blue"
      | ^~~~~~
p.toml:6:1: error[PROFILE-FIELD]: unknown field 'NUM_CMR' (did you mean NUM_CMRS?)
    6 | NUM_CMR = 3
      | ^~~~~~~
p.toml:7:12: error[PROFILE-VALUE]: 0x10000 does not fit NUM_CMRS's 2-byte element (max 0xffff)
    7 | NUM_CMRS = 0x10000
      |            ^~~~~~~
p.toml:8:12: error[PROFILE-CAPACITY]: 33 values given but CMR_BASE has 32 fields
    8 | CMR_BASE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]
      |            ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
p.toml:9:1: error[PROFILE-RELEASE-FIELD]: MAX_VCPUS_PER_TD is first in 1.5.05: a 1.5.01 module does not have it
    9 | MAX_VCPUS_PER_TD = 4
      | ^~~~~~~~~~~~~~~~
p.toml:10:1: error[PROFILE-RELEASE-FIELD]: EXT_REQUIRED is in no public module release: a 1.5.01 module does not have it
   10 | EXT_REQUIRED = 1
      | ^~~~~~~~~~~~
p.toml:11:13: error[PROFILE-SHAPE]: VENDOR_ID is a single element: give one integer
   11 | VENDOR_ID = [0x8086]
      |             ^~~~~~~~
p.toml:12:32: error[PROFILE-SHAPE]: each field of CPUID_CONFIG_VALUES has 2 elements: give a list of 2 integers
   12 | CPUID_CONFIG_VALUES = [[1, 2], [3]]
      |                                ^~~
"""
    )


def test_value_inside_an_array_is_pointed_at(tmp_path, monkeypatch, catalogue):
    text = '[profile]\nrelease = "1.5.01"\n[values]\nPKG_FMS = [1, -2]\nCPUID_CONFIG_VALUES = [[1, 0x1FFFFFFFFFFFFFFFF]]\n'
    assert (
        errors_of(tmp_path, monkeypatch, catalogue, text)
        == """\
p.toml:4:15: error[PROFILE-VALUE]: -0x2 does not fit PKG_FMS's 4-byte element (max 0xffffffff)
    4 | PKG_FMS = [1, -2]
      |               ^~
p.toml:5:28: error[PROFILE-VALUE]: 0x1ffffffffffffffff does not fit CPUID_CONFIG_VALUES's 8-byte element (max 0xffffffffffffffff)
    5 | CPUID_CONFIG_VALUES = [[1, 0x1FFFFFFFFFFFFFFFF]]
      |                            ^~~~~~~~~~~~~~~~~~~
"""
    )


def test_live_count_above_the_fields_given(tmp_path, monkeypatch, catalogue):
    text = """[profile]
release = "1.5.01"
[values]
NUM_CPUID_CONFIG = 2
CPUID_CONFIG_LEAVES = [1]
"""
    assert (
        errors_of(tmp_path, monkeypatch, catalogue, text)
        == """\
p.toml:4:20: error[PROFILE-COUNT]: NUM_CPUID_CONFIG = 2 but 0 fields of CPUID_CONFIG_VALUES are given
    4 | NUM_CPUID_CONFIG = 2
      |                    ^
note: give CPUID_CONFIG_VALUES = [...] in [values]
p.toml:4:20: error[PROFILE-COUNT]: NUM_CPUID_CONFIG = 2 but 1 fields of CPUID_CONFIG_LEAVES are given
    4 | NUM_CPUID_CONFIG = 2
      |                    ^
p.toml:5:1: note: CPUID_CONFIG_LEAVES is here
    5 | CPUID_CONFIG_LEAVES = [1]
      | ^~~~~~~~~~~~~~~~~~~
"""
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "[values]\nNUM_PKGS = 1\n",
            'p.toml:1:1: error[PROFILE-RELEASE]: [profile] has no release (e.g. release = "1.5.01"): '
            "it decides which fields the module has\n    1 | [values]\n      | ^\n",
        ),
        (
            '[profile]\nrelease = "one"\n',
            "p.toml:2:11: error[PROFILE-RELEASE]: 'one' is not a release (expected MAJOR.MINOR.UPDATE, "
            'e.g. 1.5.01, optionally +TAG)\n    2 | release = "one"\n      |           ^~~~~\n',
        ),
        (
            '[profile]\nrelease = "1.5.01"\n[valuez]\n',
            "p.toml:3:1: error[PROFILE-KEY]: unknown table 'valuez' (expected [profile], [values], [fill] "
            "and [quirks])\n    3 | [valuez]\n      | ^~~~~~~~\n",
        ),
        (
            '[profile]\nrelease = "1.5.01"\n[fill]\nVENDOR_ID = 1\n',
            "p.toml:4:13: error[PROFILE-SHAPE]: VENDOR_ID is a single element: [fill] is for arrays\n"
            "    4 | VENDOR_ID = 1\n      |             ^\n",
        ),
        (
            '[profile]\nrelease = "1.5.01"\n[quirks]\nrdall_first_element_only = ["NUM_CMRS"]\n',
            "p.toml:4:29: error[PROFILE-SHAPE]: NUM_CMRS has no live count or only one element: the quirk "
            'does not apply\n    4 | rdall_first_element_only = ["NUM_CMRS"]\n'
            "      |                             ^~~~~~~~~~\n",
        ),
        (
            '[profile]\nrelease = "1.5.01"\n[values]\nNUM_PKGS = \n',
            "p.toml:4:12: error[TOML-SYNTAX]: Invalid value\n    4 | NUM_PKGS = \n      |            ^\n",
        ),
    ],
)
def test_profile_errors(tmp_path, monkeypatch, catalogue, text, expected):
    assert errors_of(tmp_path, monkeypatch, catalogue, text) == expected


def test_profile_of_a_table_gives_every_field_of_its_release(tmp_path, monkeypatch, catalogue):
    """PROFILE-FIELD-SET: with table = ..., [values] names exactly the release's fields."""
    text = (PROFILES / "2.0.18.toml").read_text()
    for name in ("MAX_MEM_SCAN_RANGES", "GUEST_GPA_ATTR_MASK"):
        text = "".join(line for line in text.splitlines(True) if not line.startswith(name + " "))
    text = text.replace("MAX_MIGS = 512\n", "MAX_MIGS = 512\nEXT_REQUIRED = 1\n")
    errors = errors_of(tmp_path, monkeypatch, catalogue, text)
    at = {
        n: 1 + next(i for i, line in enumerate(text.splitlines()) if line.startswith(n))
        for n in ("table", "EXT_REQUIRED")
    }
    table_line = text.splitlines()[at["table"] - 1]
    n = len(catalogue.fields_of(Release.parse("2.0.18")))
    assert (
        errors
        == f"""\
p.toml:{at["table"]}:9: error[PROFILE-FIELD-SET]: a 2.0.18 module has {n} fields but [values] gives {n - 2}: the profile models a module table (table = ...), so give GUEST_GPA_ATTR_MASK, MAX_MEM_SCAN_RANGES
{at["table"]:>5} | {table_line}
      |         ^{"~" * (len(table_line) - 9)}
p.toml:{at["EXT_REQUIRED"]}:1: error[PROFILE-RELEASE-FIELD]: EXT_REQUIRED is in no public module release: a 2.0.18 module does not have it
{at["EXT_REQUIRED"]:>5} | EXT_REQUIRED = 1
      | ^~~~~~~~~~~~
"""
    )


def test_since_per_line_in_profile_errors(tmp_path, monkeypatch, catalogue):
    text = '[profile]\nrelease = "2.0.02"\n[values]\nMAX_EVENT_FILTERS = 512\nMIN_VIRT_MAXPA = 32\n'
    assert (
        errors_of(tmp_path, monkeypatch, catalogue, text)
        == """\
p.toml:4:1: error[PROFILE-RELEASE-FIELD]: MAX_EVENT_FILTERS is first in 1.5.34 on the 1.5 line and 2.0.04: a 2.0.02 module does not have it
    4 | MAX_EVENT_FILTERS = 512
      | ^~~~~~~~~~~~~~~~~
"""
    )


def test_missing_values_read_as_zero(tmp_path, monkeypatch, catalogue):
    monkeypatch.chdir(tmp_path)
    Path("p.toml").write_text('[profile]\nrelease = "1.5.01"\n[values]\nMAX_TDMRS = "0x40"\n')
    m = profile.load_profile(Path("p.toml"), catalogue)
    assert m.values["MAX_TDMRS"] == (64,) and m.values["NUM_PKGS"] == (0,)
    assert m.values["CMR_BASE"] == (0,) * 32 and m.name == "p"


# -- replay ---------------------------------------------------------------------


@pytest.mark.parametrize("name", RELEASES)
def test_json_dump_replays_the_same_module(tmp_path, catalogue, name):
    sim = Simulator(profile.load_profile(PROFILES / f"{name}.toml", catalogue))
    sim.set_value("NUM_CPUID_CONFIG", 200)  # overrides are part of the dump
    path = tmp_path / "dump.json"
    path.write_text(replay.dump_json(sim))
    again = Simulator(replay.load_replay(path, catalogue))
    assert list(again.walk()) == list(sim.walk())
    assert again.dump_pages() == sim.dump_pages()
    assert again.module.first_element_only == sim.module.first_element_only
    assert str(again.module.release) == name and again.module.name == name
    assert replay.dump_json(again) == path.read_text()


@pytest.mark.parametrize("name,size", [("1.5.01", 4096), ("2.0.08", 4096)])
def test_rdall_pages_replay_the_fields_and_values(tmp_path, catalogue, name, size):
    sim = Simulator(profile.load_profile(PROFILES / f"{name}.toml", catalogue))
    path = tmp_path / "pages.bin"
    path.write_bytes(b"".join(sim.dump_pages()))
    assert path.stat().st_size == size
    module = replay.load_replay(path, catalogue)
    assert [f.name for f in module.fields] == [f.name for f in sim.fields]
    assert list(Simulator(module).walk()) == list(sim.walk())
    assert str(module.release) == name


def test_pages_across_several_rdall_calls_replay(tmp_path, catalogue):
    sim = Simulator(profile.load_profile(PROFILES / "2.0.08.toml", catalogue), list_size=512)
    pages = sim.dump_pages()
    assert len(pages) == 7
    path = tmp_path / "pages.bin"
    path.write_bytes(b"".join(pages))
    assert list(Simulator(replay.load_replay(path, catalogue)).walk()) == list(sim.walk())


def replay_errors(tmp_path, monkeypatch, catalogue, data: bytes) -> str:
    monkeypatch.chdir(tmp_path)
    Path("dump").write_bytes(data)
    with pytest.raises(profile.ProfileError) as exc:
        replay.load_replay(Path("dump"), catalogue)
    return format_text(exc.value.diagnostics)


def test_replay_errors(tmp_path, monkeypatch, catalogue):
    assert (
        replay_errors(tmp_path, monkeypatch, catalogue, b"\0" * 4095)
        == "dump: error[REPLAY-PAGES]: 4095 bytes is not a whole number of 4096-byte TDH.SYS.RDALL pages\n"
    )
    page = bytearray(4096)
    page[:24] = (
        (24 | 1 << 16).to_bytes(8, "little") + (0x0100000200000000).to_bytes(8, "little") + bytes(8)
    )
    assert replay_errors(tmp_path, monkeypatch, catalogue, bytes(page)) == (
        "dump: error[REPLAY-FIELD]: page 0 (offset 0x0) sequence 0 (0x0100000200000000): element "
        "0x0100000200000000 is no field of the schema\n"
    )
    page[:8] = (4000 | 1 << 16).to_bytes(8, "little")
    assert replay_errors(tmp_path, monkeypatch, catalogue, bytes(page)) == (
        "dump: error[REPLAY-PAGES]: page 0 (offset 0x0): 1 sequences end at byte 24, list header "
        "says 4000\n"
    )
    try:  # the json module's own words, which differ between Python versions
        json.loads('{"format": 1,\n ]')
    except json.JSONDecodeError as exc:
        said = f"dump:{exc.lineno}:{exc.colno}: error[REPLAY-JSON]: not valid JSON: {exc.msg}\n"
    assert replay_errors(tmp_path, monkeypatch, catalogue, b'{"format": 1,\n ]') == said
    doc = {
        "format": replay.DUMP_FORMAT,
        "version": 1,
        "fields": [
            {"name": "NUM_PKGS", "id": "0x0000000200000000", "values": ["0x1", "0x2"]},
            {"name": "NUM_PKG", "id": "0x0000000200000000", "values": ["0x1"]},
            {"name": "VENDOR_ID", "id": "0x0800000100000000", "values": ["0x8086"]},
        ],
    }
    assert replay_errors(tmp_path, monkeypatch, catalogue, json.dumps(doc).encode()) == (
        "dump:1:61: error[REPLAY-FIELD]: fields[0]: NUM_PKGS takes 1 64-bit values, 2 given\n"
        "dump:1:137: error[REPLAY-FIELD]: fields[1]: unknown field 'NUM_PKG'\n"
        "dump:1:205: error[REPLAY-FIELD]: fields[2]: VENDOR_ID has id 0x0800000100000000 in the dump but "
        "0x0800000200000000 in the schema\n"
    )


def test_values_as_strings_take_ascii_digits_only(tmp_path, monkeypatch, catalogue):
    # int() reads '٢' and '３' as 2 and 3; a profile value must not
    text = (
        '[profile]\nrelease = "1.5.01"\n[values]\nNUM_PKGS = "\u0662"\n'
        'NUM_CMRS = "\uff13"\nVENDOR_ID = "0x80_86z"\nMAX_TDMRS = "0x4_0"\n'
    )
    assert (
        errors_of(tmp_path, monkeypatch, catalogue, text)
        == """\
p.toml:4:12: error[PROFILE-VALUE]: '\u0662' is not a number: '\u0662' is U+0662 ARABIC-INDIC DIGIT TWO, not ASCII
    4 | NUM_PKGS = "\u0662"
      |            ^~~
p.toml:5:12: error[PROFILE-VALUE]: '\uff13' is not a number: '\uff13' is U+FF13 FULLWIDTH DIGIT THREE, not ASCII
    5 | NUM_CMRS = "\uff13"
      |            ^~~
p.toml:6:13: error[PROFILE-VALUE]: '0x80_86z' is not a number
    6 | VENDOR_ID = "0x80_86z"
      |             ^~~~~~~~~~
"""
    )
