"""Module releases side by side: release-diff, since changes in compat, and what the readers
give for the fields a release lacks."""

from __future__ import annotations

import json

import pytest
from helpers.commands import run
from helpers.schema import SCHEMA, edited_schema, table_line

import tdx_metadata as md
from codegen.abi.release import Release
from codegen.sim import profile
from codegen.sim.simulator import Simulator
from codegen.spec.compiler import compile_or_raise

RELEASES = profile.profile_names(SCHEMA)


@pytest.fixture(scope="module")
def catalogue():
    return compile_or_raise(SCHEMA)


def at(file: str, name: str) -> str:
    return f"schema/{file}:{table_line(SCHEMA / file, name)}"


def test_release_diff_across_release_lines():
    code, out, err = run("release-diff", "2.0.18", "1.5.34")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "release-diff 2.0.18 -> 1.5.34: 0 added, 2 removed, 9 changed"
    assert lines[1:3] == [
        "removed: field GUEST_GPA_ATTR_MASK (0x9A00000300000000) is absent (since 2.0.02) "
        f"[{at('1a-memory-management.toml', 'GUEST_GPA_ATTR_MASK')}]",
        "removed: field TDX_CONNECT_FEATURES (0x3000000300000000) is absent (since 2.0.02) "
        f"[{at('30-tdx-connect.toml', 'TDX_CONNECT_FEATURES')}]",
    ]
    assert (
        f"changed: UPDATE_VERSION: 0x12 -> 0x22 [{at('08-module-version.toml', 'UPDATE_VERSION')}]"
        in lines
    )


def test_release_diff_added_fields_and_array_values():
    code, out, _ = run("release-diff", "1.5.06", "2.0.08")
    lines = out.splitlines()
    assert (code, lines[0]) == (0, "release-diff 1.5.06 -> 2.0.08: 5 added, 0 removed, 9 changed")
    assert [x.split(" (")[0] for x in lines[1:6]] == [
        "added: new field PAMT_PAGE_BITMAP_ENTRY_BITS",
        "added: new field MIN_DYNAMIC_PAMT_NUM_HKID_BITS",
        "added: new field MAX_EVENT_FILTERS",
        "added: new field GUEST_GPA_ATTR_MASK",
        "added: new field TDX_CONNECT_FEATURES",
    ]
    assert lines[3] == (
        "added: new field MAX_EVENT_FILTERS (0x990000010000000A) (since 1.5.34, "
        f"2.0.04) [{at('19-td-configurability.toml', 'MAX_EVENT_FILTERS')}]"
    )
    assert lines[-2] == (
        "changed: CPUID_CONFIG_LEAVES: 8 of its 32 elements differ (element 12: "
        f"0xffffffffffffffff -> 0x6) [{at('19-td-configurability.toml', 'CPUID_CONFIG_LEAVES')}]"
    )


def test_release_diff_json_and_errors(tmp_path):
    code, out, _ = run("release-diff", "2.0.08", "2.0.18", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["releases"] == ["2.0.08", "2.0.18"]
    assert doc["counts"]["field-added"] == 3 and doc["counts"]["field-removed"] == 0
    assert [c["field"] for c in doc["changes"] if c["kind"] == "field-added"] == [
        "NUM_MEM_SCAN_CONTROL_PAGES",
        "MAX_MEM_SCAN_RANGES",
        "NUM_MEM_SCAN_CONTEXTS",
    ]
    code, out, err = run("release-diff", "1.5.06", "1.5.07")
    assert (code, out) == (2, "")
    assert err == (
        "tdx-codegen: error: no profile '1.5.07' (schema/profiles/1.5.07.toml does "
        f"not exist; profiles: {', '.join(RELEASES)})\n"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('[profile]\nrelease = "1.5.01"\n[values]\nMAX_EVENT_FILTERS = 1\n')
    code, out, err = run("release-diff", "1.5.01", bad)
    assert (code, out) == (1, "")
    assert err.startswith(
        f"{bad}:4:1: error[PROFILE-RELEASE-FIELD]: MAX_EVENT_FILTERS is first "
        "in 1.5.34 on the 1.5 line and 2.0.04: a 1.5.01 module does not have it"
    )


def test_identical_releases_have_no_differences():
    assert run("release-diff", "2.0.04", "2.0.04")[:2] == (
        0,
        "release-diff 2.0.04 -> 2.0.04: 0 added, 0 removed, 0 changed\n",
    )


def test_compat_reports_since_changes(tmp_path):
    new = edited_schema(
        tmp_path,
        "new",
        {
            "20-migration.toml": [
                (
                    'since = "1.5.01"\nguest_readable = false\n'
                    'description = "Maximum migration streams of one TD."',
                    'since = ["1.5.34", "2.0.02"]\nguest_readable = false\n'
                    'description = "Maximum migration streams of one TD."',
                )
            ],
            "1a-memory-management.toml": [('since = "2.0.02"', 'since = "2.0.01"')],
        },
    )
    code, out, _ = run("compat", "schema", new, "--fail-on", "KERNEL_API")
    mig, mem = (
        f"{file}:{table_line(SCHEMA / file, name)}"
        for file, name in (
            ("20-migration.toml", "MAX_MIGS"),
            ("1a-memory-management.toml", "GUEST_GPA_ATTR_MASK"),
        )
    )
    assert (code, out.splitlines()[1:]) == (
        1,
        [
            f"KERNEL_API: MAX_MIGS: since 1.5.01 -> 1.5.34, 2.0.02: a baseline module may now lack "
            f"it, so readers may give None [schema/{mig} -> {new}/{mig}]",
            f"ADDITIVE: GUEST_GPA_ATTR_MASK: since 2.0.02 -> 2.0.01 [schema/{mem} -> {new}/{mem}]",
            "1 change(s) at or above KERNEL_API",
        ],
    )


@pytest.mark.parametrize("name", RELEASES)
def test_readers_give_none_for_what_the_release_lacks(catalogue, name):
    """Both reader paths: a field the release lacks is None, one it has is its value."""
    module = profile.load_profile(SCHEMA / "profiles" / f"{name}.toml", catalogue)
    has = {f.name for f in module.fields}
    for info in (md.read_all_rd(Simulator(module)), md.read_all_rdall(Simulator(module))):
        lacking = []
        for s in catalogue.output_structs("python"):
            record = getattr(info, s.name)
            if record is None:  # a closed gate: the struct is not read at all
                assert s.gate is not None, s.name
                continue
            for f in s.fields:
                value = getattr(record, f.member)
                if f.name not in has:
                    assert value is None, f.name
                    lacking.append(f.name)
                elif f.gate is None and f.count is None:
                    want = module.values[f.name]
                    assert value == (want[0] if f.is_scalar else value) and value is not None
        absent = {
            f.name for f in catalogue.fields if not f.since or not f.since.has(Release.parse(name))
        }
        assert set(lacking) <= absent
        # every field a read struct has and the release lacks was tried and read as absent
        read = {
            f.name
            for s in catalogue.output_structs("python")
            if getattr(info, s.name)
            for f in s.fields
        }
        assert set(lacking) == absent & read


KERNEL_FLOOR = ('baseline = "1.5.05"', 'baseline = "1.5.01"')
VCPUS = 'since = "1.5.05"\nguest_readable = false\ndescription = "Maximum vCPUs of one TD."'


NO_GATE = (
    "the kernel reads MAX_VCPUS_PER_TD (struct td_conf), which is new in 1.5.05: on a 1.5.01 "
    "module ([kernel].baseline) the read fails and TDX does not come up; add it to "
    "[kernel].exclude_fields, gate it (gate = { release = ... } or a feature bit) or raise "
    "[kernel].baseline"
)
EARLY_GATE = (
    "the kernel reads MAX_VCPUS_PER_TD (struct td_conf) from release 1.5.03 on (its gate), but "
    "it is new in 1.5.05: on a 1.5.03 module the read fails and TDX does not come up; gate it "
    "at a release that has it, or on a feature bit"
)


@pytest.mark.parametrize(
    "gate, warned",
    [
        (None, NO_GATE),
        ('{ release = "1.5.03" }', EARLY_GATE),
        ('{ release = "1.5.05" }', None),
        ('"TDX_FEATURES0.TD_PRESERVING"', None),  # a module with the bit has the field
    ],
)
def test_the_kernel_reads_only_what_the_modules_it_reads_have(tmp_path, catalogue, gate, warned):
    """MAX_VCPUS_PER_TD (since 1.5.05) read by a kernel whose baseline is lowered to 1.5.01."""
    vcpus = VCPUS if gate is None else f"{VCPUS}\ngate = {gate}"
    new = edited_schema(
        tmp_path,
        "new",
        {"settings.toml": [KERNEL_FLOOR], "19-td-configurability.toml": [(VCPUS, vcpus)]},
    )
    code, out, err = run("validate", "--schema", new)
    counts = f"{len(catalogue.fields)} fields in {len(catalogue.structs)} structs"
    assert (code, out) == (0, f"{counts}: schema is valid\n")
    line = table_line(SCHEMA / "19-td-configurability.toml", "MAX_VCPUS_PER_TD") + 8
    assert err == (
        ""
        if warned is None
        else f"{new}/19-td-configurability.toml:{line}:9: warning[KERNEL-READS-OPTIONAL]: "
        f'{warned}\n  {line} | since = "1.5.05"\n      |         ^~~~~~~~\n0 errors, 1 warning\n'
    )
