"""The shipped schema: complete, real, and equal to the reference field list."""

import json
from pathlib import Path

import pytest

from codegen.abi import fieldid
from codegen.spec.compiler import compile_schema
from codegen.abi.release import Release
from kernel.today import KERNEL_STRUCTS

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference" / "tdx-global-fields.json"


@pytest.fixture(scope="module")
def catalogue():
    cat, rep = compile_schema(ROOT / "schema")
    assert cat is not None, rep.sorted()
    assert rep.items == []  # the shipped schema has no warnings either
    return cat


@pytest.fixture(scope="module")
def reference():
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} is absent (a clone outside the workspace); nothing to compare")
    return {f["name"]: f for f in json.loads(REFERENCE.read_text())["fields"]}


def test_every_reference_field_is_in_the_schema(catalogue, reference):
    assert sorted(f.name for f in catalogue.fields) == sorted(reference)
    assert len(catalogue.fields) == 74


def test_fields_agree_with_the_reference(catalogue, reference):
    for f in catalogue.fields:
        ref = reference[f.name]
        assert fieldid.fmt(f.id) == ref["field_id"].upper().replace("0X", "0x"), f.name
        assert (f.class_code, f.element_size, f.num_fields, f.num_elements) == (
            ref["class_code"], ref["element_size_bytes"], ref["num_fields"],
            ref["num_elements"]), f.name
        assert f.non_arch == ref["bit63_non_arch"], f.name
        assert f.guest_readable == ref["readable"]["guest_td"], f.name
        assert bool(f.unverified) == bool(ref.get("unverified")), f.name


def test_kernel_names_where_the_kernel_reads_the_field(catalogue, reference):
    structs = {s.name: s for s in catalogue.structs}
    for f in catalogue.fields:
        linux = reference[f.name].get("linux")
        if linux:
            member = linux["member"].split("[")[0].split(" ")[0]
            assert f.member == member, f.name
            if linux["status"].startswith("mainline"):  # proposals used other struct tags
                assert structs[f.struct].c_name == linux["struct"].split(" ")[0], f.name


def test_kernel_output_is_the_kernels_struct_set(catalogue):
    """TDX_ABI.md section 7: the structs and members the kernel has today."""
    kernel = {s.c_name: [f.member + "".join(f"[{d}]" for d in f.dims)
                         for f in catalogue.output_fields("kernel", s)]
              for s in catalogue.output_structs("kernel")}
    assert kernel == {name: [m.split()[-1] for m in members]
                      for name, members in KERNEL_STRUCTS.items() if name != "tdx_sys_info"}


def test_release_field_sets(catalogue):
    """Table sizes by release (TDX_ABI.md section 2) follow from 'since'."""
    def count(release):
        r = Release.parse(release)
        return sum(1 for f in catalogue.fields if f.since is not None and f.since <= r)
    assert count("1.5.01") == 65
    assert count("1.5.05") == 66
    assert count("1.5.06") == 67
    assert count("1.5.06+f97a493") == 70
    assert count("2.0.08") == 72


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
    assert catalogue.field(first.name) is first   # the original is untouched


def test_derived_facts(tmp_path):
    """Facts the emitters read from the model rather than re-derive."""
    import shutil
    schema = tmp_path / "schema"
    shutil.copytree(ROOT / "tests" / "data" / "minimal", schema)
    tdmr = schema / "tdmr.toml"
    text = tdmr.read_text()
    # NUM_RANGES is optional (newer than the baseline), so RANGE_BASE, which it counts, may be
    # None; MAX_TDMRS is stored truncated and gated on a feature bit of another struct.
    text = text.replace('since = "1.5.01"\ndescription = "Live count', 'since = "2.0.08"\n'
                        'description = "Live count')
    text = text.replace('type = "u16"\nsince = "1.5.01"\ndescription = "Maximum TDMRs."',
                        'type = "u8"\ntruncate = true\ngate = "TDX_FEATURES0.NO_RBP_MOD"\n'
                        'since = "1.5.01"\ndescription = "Maximum TDMRs."')
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
