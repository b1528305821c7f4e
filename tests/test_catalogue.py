"""The shipped schema: every field of every published module field table, by release."""

from pathlib import Path

import pytest
from kernel.today import KERNEL_STRUCTS, NOT_THE_KERNELS

from codegen.abi import fieldid
from codegen.abi.release import Release
from codegen.spec.compiler import compile_schema

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def catalogue():
    cat, rep = compile_schema(ROOT / "schema")
    assert cat is not None, rep.sorted()
    assert rep.items == []  # the shipped schema has no warnings either
    return cat


def test_kernel_output_is_the_kernels_struct_set(catalogue):
    """The structs and members struct tdx_sys_info has in the Linux kernel today."""
    kernel = {
        s.c_name: [
            f.member + "".join(f"[{d}]" for d in f.dims)
            for f in catalogue.output_fields("kernel", s)
        ]
        for s in catalogue.output_structs("kernel")
    }
    assert kernel == {
        name: [m.split()[-1] for m in members]
        for name, members in KERNEL_STRUCTS.items()
        if name != "tdx_sys_info"
    }, NOT_THE_KERNELS.format(what="the kernel's members differ", got=kernel)


# The global field table of each published TDX module release, as the change from the table it
# grew from: (release, table it extends, fields added).  The 2.0 line was cut from 1.5 after
# 1.5.06; 1.5.34 is a later 1.5 release.  No release dropped a field.
TABLES = [
    ("1.5.01", None, None),
    ("1.5.05", "1.5.01", ["MAX_VCPUS_PER_TD"]),
    ("1.5.06", "1.5.05", ["MIN_VIRT_MAXPA"]),
    (
        "1.5.34",
        "1.5.06",
        [
            "PAMT_PAGE_BITMAP_ENTRY_BITS",
            "MIN_DYNAMIC_PAMT_NUM_HKID_BITS",
            "MAX_EVENT_FILTERS",
            "NUM_MEM_SCAN_CONTROL_PAGES",
            "MAX_MEM_SCAN_RANGES",
            "NUM_MEM_SCAN_CONTEXTS",
        ],
    ),
    ("2.0.02", "1.5.06", ["GUEST_GPA_ATTR_MASK", "TDX_CONNECT_FEATURES"]),
    ("2.0.04", "2.0.02", ["MAX_EVENT_FILTERS"]),
    ("2.0.08", "2.0.04", ["PAMT_PAGE_BITMAP_ENTRY_BITS", "MIN_DYNAMIC_PAMT_NUM_HKID_BITS"]),
    (
        "2.0.18",
        "2.0.08",
        ["NUM_MEM_SCAN_CONTROL_PAGES", "MAX_MEM_SCAN_RANGES", "NUM_MEM_SCAN_CONTEXTS"],
    ),
]
TABLE_ENTRIES = {
    "1.5.01": 65,
    "1.5.05": 66,
    "1.5.06": 67,
    "1.5.34": 73,
    "2.0.02": 69,
    "2.0.04": 70,
    "2.0.08": 72,
    "2.0.18": 75,
}


def names_of(catalogue, release: str) -> set[str]:
    return {f.name for f in catalogue.fields_of(Release.parse(release))}


@pytest.mark.parametrize("release,parent,added", TABLES, ids=[t[0] for t in TABLES])
def test_release_tables_follow_from_since(catalogue, release, parent, added):
    """since puts each field in exactly the tables that have it, on both release lines."""
    have = names_of(catalogue, release)
    assert len(have) == TABLE_ENTRIES[release], (
        f"a {release} module's field table has {TABLE_ENTRIES[release]} entries: a field it lacks "
        'has the since of the first release that has it (README\'s "Adding a field")'
    )
    if parent is not None:
        assert sorted(have - names_of(catalogue, parent)) == sorted(added)
        assert names_of(catalogue, parent) <= have


def test_every_field_is_in_a_table_but_the_extensions(catalogue):
    """Each field with a since is in a published table, unless it is of a release later than
    every table (README's "Adding a field"); the two extension fields are in none and say where
    their ids come from."""
    tabled = set().union(*(names_of(catalogue, r) for r in TABLE_ENTRIES))
    untabled = {f.name for f in catalogue.fields} - tabled
    later = {n for n in untabled if catalogue.field(n).since is not None}
    assert untabled - later == {"MEMORY_POOL_REQUIRED_PAGES", "EXT_REQUIRED"}
    for name in untabled - later:
        f = catalogue.field(name)
        assert f.since is None and "global_metadata JSON" in f.unverified
    for f in catalogue.fields:
        if f.name in tabled:  # every since names a release whose table is known
            assert all(str(r) in TABLE_ENTRIES for r in f.since.releases), f.name


def test_since_per_release_line(catalogue):
    """Fields the two lines gained at different releases, one only 2.0 has, one from 1.5.01."""

    def tables_with(name):
        since = catalogue.field(name).since
        return [r for r in TABLE_ENTRIES if since.has(Release.parse(r))]

    assert str(catalogue.field("MAX_EVENT_FILTERS").since) == "1.5.34, 2.0.04"
    assert tables_with("MAX_EVENT_FILTERS") == ["1.5.34", "2.0.04", "2.0.08", "2.0.18"]
    assert tables_with("NUM_MEM_SCAN_CONTEXTS") == ["1.5.34", "2.0.18"]
    assert tables_with("TDX_CONNECT_FEATURES") == ["2.0.02", "2.0.04", "2.0.08", "2.0.18"]
    assert tables_with("MAX_TDMRS") == list(TABLE_ENTRIES)
    since = catalogue.field("MAX_EVENT_FILTERS").since
    assert since.has(Release.parse("2.1.00")) and not since.has(Release.parse("1.6.00"))


def test_memory_scan_fields(catalogue):
    got = [
        (
            f.name,
            fieldid.canonical(f.id),
            f.class_code,
            f.element_size,
            f.num_fields,
            f.num_elements,
            f.guest_readable,
        )
        for f in catalogue.fields
        if "MEM_SCAN" in f.name
    ]
    assert got == [
        ("NUM_MEM_SCAN_CONTROL_PAGES", "0xA000000000000030", 0x20, 1, 1, 1, False),
        ("MAX_MEM_SCAN_RANGES", "0xA000000100000031", 0x20, 2, 1, 1, False),
        ("NUM_MEM_SCAN_CONTEXTS", "0xA000000100000032", 0x20, 2, 1, 1, False),
    ]
    assert all(catalogue.optional(catalogue.field(name)) for name, *_ in got)


def test_named_feature_bits(catalogue):
    bits = {b.name: b.bit for b in catalogue.field("TDX_FEATURES0").bits}
    assert bits["NO_RBP_MOD"] == 18 and bits["TD_PRESERVING"] == 1
    assert bits["DYNAMIC_PAMT"] == 36 and bits["EXT"] == 39
    assert catalogue.struct("handoff").gate.text == "TDX_FEATURES0.TD_PRESERVING"


def test_replace_rebuilds_the_index(catalogue):
    """dataclasses.replace() gives a catalogue whose lookups see only its own fields."""
    import dataclasses

    first = catalogue.fields[0]
    smaller = dataclasses.replace(catalogue, fields=catalogue.fields[1:])
    with pytest.raises(KeyError):
        smaller.field(first.name)
    assert smaller.locate(first.id) is None
    assert catalogue.field(first.name) is first  # the original is untouched


def test_derived_facts(tmp_path):
    """Facts the emitters read from the model rather than re-derive."""
    import shutil

    schema = tmp_path / "schema"
    shutil.copytree(ROOT / "tests" / "data" / "minimal", schema)
    tdmr = schema / "tdmr.toml"
    text = tdmr.read_text()
    # NUM_RANGES is optional (newer than the baseline), so RANGE_BASE, which it counts, may be
    # None; MAX_TDMRS is stored truncated and gated on a feature bit of another struct.
    text = text.replace(
        'since = "1.5.01"\ndescription = "Live count', 'since = "2.0.08"\ndescription = "Live count'
    )
    text = text.replace(
        'type = "u16"\nsince = "1.5.01"\ndescription = "Maximum TDMRs."',
        'type = "u8"\ntruncate = true\ngate = "TDX_FEATURES0.NO_RBP_MOD"\n'
        'since = "1.5.01"\ndescription = "Maximum TDMRs."',
    )
    tdmr.write_text(text)
    cat, rep = compile_schema(schema)
    assert cat is not None, rep.sorted()
    facts = {f.name: (f.truncates, f.optional, f.nullable, f.reads) for f in cat.fields}
    assert facts == {
        "TDX_FEATURES0": (False, False, False, ()),
        "MAX_TDMRS": (True, False, True, ("TDX_FEATURES0",)),
        "NUM_RANGES": (False, True, True, ()),
        "RANGE_BASE": (False, False, True, ("NUM_RANGES",)),
    }
    assert cat.depends_on(cat.struct("tdmr"), "kernel") == {"features"}
    assert cat.depends_on(cat.struct("features"), "kernel") == frozenset()
