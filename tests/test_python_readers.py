"""The generated Python readers (tdx_metadata) and their runtime, against the simulator.

A test chooses which fields the simulated module has and their values
(module()); the simulator (codegen.sim) answers TDH.SYS.RD and TDH.SYS.RDALL
with the module's next-id rule, sequence merging and paging with
TDX_METADATA_LIST_OVERFLOW, and Recorder notes the calls the readers make.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tdx_metadata as md
from codegen import __version__, runtime
from codegen.abi import fieldid, rdall_list, status
from codegen.emitters import EmitContext, python_readers
from codegen.sim.simulator import Module, Simulator
from codegen.spec.compiler import compile_or_raise

SHIPPED_SCHEMA = Path(__file__).resolve().parent.parent / "schema"
CATALOGUE = compile_or_raise(SHIPPED_SCHEMA)

# -- a simulated module of the test's choosing -------------------------------------


class Recorder(Simulator):
    """The simulator, noting every rd()/rdall() the readers make; `fail` answers a
    status for one exact id instead (a single element, unlike Simulator.inject)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.calls: list[tuple[str, int]] = []
        self.fail: dict[int, int] = {}

    def rd(self, field_id):
        self.calls.append(("rd", field_id))
        if field_id in self.fail:
            return self.fail[field_id], fieldid.NULL_ID, 0
        return super().rd(field_id)

    def rdall(self, field_id):
        self.calls.append(("rdall", field_id))
        return super().rdall(field_id)


def module(values: dict[str, object], without=(), catalogue=CATALOGUE, page_size=None, **kw):
    """A module with the catalogue's fields of the readers' package, less `without`;
    values by name: an integer, a list, or a list of tuples (several elements)."""
    fields = tuple(
        f
        for f in catalogue.fields
        if f.name not in without and (catalogue is not CATALOGUE or f.name in md.FIELDS)
    )
    flat = {}
    for f in fields:
        given = values.get(f.name, 0)
        items = given if isinstance(given, list) else [given]
        vals = [v for item in items for v in (item if isinstance(item, tuple) else (item,))]
        flat[f.name] = tuple(vals[: f.num_ids] + [0] * (f.num_ids - len(vals)))
    if page_size is not None:
        kw["list_size"] = page_size
    return Recorder(Module("test", None, fields, flat), **kw)


# A 1.5.01-like module: no field first seen later.
FEATURES_1_5_01 = 0xF0FBF  # bits 0-5, 7-11, 16-19: TD_PRESERVING and NO_RBP_MOD set
PROFILE_1_5_01 = {
    "NUM_PKGS": 2,
    "PKG_FMS": [0x806F8, 0x806F8],
    "VENDOR_ID": 0x8086,
    "BUILD_DATE": 20230323,
    "BUILD_NUM": 541,
    "MINOR_VERSION": 5,
    "MAJOR_VERSION": 1,
    "UPDATE_VERSION": 1,
    "INTERNAL_VERSION": 0,
    "MODULE_HV": 1,
    "MIN_UPDATE_HV": 0,
    "NUM_HANDOFF_PAGES": 4,
    "NUM_TDX_FEATURES": 1,
    "TDX_FEATURES0": FEATURES_1_5_01,
    "NUM_CMRS": 3,
    "CMR_BASE": [0x0, 0x100000, 0x100000000] + [0xDEAD] * 29,
    "CMR_SIZE": [0x80000, 0x7FF00000, 0x80000000] + [0xDEAD] * 29,
    "MAX_TDMRS": 64,
    "MAX_RESERVED_PER_TDMR": 16,
    "PAMT_4K_ENTRY_SIZE": 16,
    "PAMT_2M_ENTRY_SIZE": 16,
    "PAMT_1G_ENTRY_SIZE": 16,
    "TDR_BASE_SIZE": 0x1000,
    "TDCS_BASE_SIZE": 0x6000,
    "TDVPS_BASE_SIZE": 0x6000,
    "ATTRIBUTES_FIXED0": 0x8000000070000001,
    "XFAM_FIXED0": 0x6DBE7,
    "XFAM_FIXED1": 3,
    "NUM_CPUID_CONFIG": 12,
    "CPUID_CONFIG_LEAVES": [0x1 | 0xFFFFFFFF << 32, 0x7]
    + [0x80000008] * 10
    + [fieldid.MASK64] * 20,
    "CPUID_CONFIG_VALUES": [(0x11, 0x22), (0x33, 0x44)] + [(5, 6)] * 10 + [(0, 0)] * 20,
    "CONFIG_FLAGS_FIXED0": 7,
    "IA32_ARCH_CAPABILITIES_CONFIG_MASK": 0x1180010,
    "NUM_ALLOWED_FMS": 1,
    "ALLOWED_FMS": [0x806F8],
    "NUM_DISALLOWED_FMS": 0,
    "MAX_MIGS": 512,
    "NUM_IMMUTABLE_STATE_PAGES": 3,
    "NUM_TD_STATE_PAGES": 2,
    "NUM_VP_STATE_PAGES": 5,
    "MAX_SERV_TDS": 1,
    "SERVTD_ATTR_FIXED0": 0x7FF00000001,
    "GUEST_L2_GPA_ATTR_MASK": 0x807F,
    "VM_CTLS_FIXED0": 1,
    "VPCU_L2_CTLS_FIXED0": 3,
    "VPCU_L2_DEBUG_CTLS_FIXED0": 7,
}
# The later fields a 2.0.08 module adds, with TDX Connect and Dynamic PAMT on.
FEATURES_2_0 = FEATURES_1_5_01 | md.TDX_FEATURES0_TDX_CONNECT | md.TDX_FEATURES0_DYNAMIC_PAMT
PROFILE_2_0 = {
    **PROFILE_1_5_01,
    "MAJOR_VERSION": 2,
    "MINOR_VERSION": 0,
    "UPDATE_VERSION": 8,
    "TDX_FEATURES0": FEATURES_2_0,
    "MAX_VCPUS_PER_TD": 576,
    "MIN_VIRT_MAXPA": 36,
    "MAX_EVENT_FILTERS": 512,
    "PAMT_PAGE_BITMAP_ENTRY_BITS": 1,
    "MIN_DYNAMIC_PAMT_NUM_HKID_BITS": 3,
    "GUEST_GPA_ATTR_MASK": 1 << 51,
    "TDX_CONNECT_FEATURES": 0x1281,
}

LATER_FIELDS = {
    "MAX_VCPUS_PER_TD",
    "MIN_VIRT_MAXPA",
    "MAX_EVENT_FILTERS",
    "PAMT_PAGE_BITMAP_ENTRY_BITS",
    "MIN_DYNAMIC_PAMT_NUM_HKID_BITS",
    "GUEST_GPA_ATTR_MASK",
    "TDX_CONNECT_FEATURES",
    "MEMORY_POOL_REQUIRED_PAGES",
    "EXT_REQUIRED",
}


def module_1_5_01(**kw) -> Recorder:
    return module(PROFILE_1_5_01, LATER_FIELDS, **kw)


def module_2_0(**kw) -> Recorder:
    return module(PROFILE_2_0, {"MEMORY_POOL_REQUIRED_PAGES", "EXT_REQUIRED"}, **kw)


# -- reading ---------------------------------------------------------------------


def test_rd_reads_a_1_5_01_module_with_absent_later_fields_as_none():
    info = md.read_all_rd(module_1_5_01())
    assert info.version == md.TdxSysInfoVersion(
        vendor_id=0x8086,
        build_date=20230323,
        build_num=541,
        minor_version=5,
        major_version=1,
        update_version=1,
        internal_version=0,
    )
    # fields first seen after 1.5.01 are absent, not 0
    assert (
        info.td_conf.max_vcpus_per_td,
        info.td_conf.min_virt_maxpa,
        info.td_conf.max_event_filters,
    ) == (None, None, None)
    assert info.mem_mgmt.guest_gpa_attr_mask is None
    # gated: the struct or field is None when its bit is clear
    assert (info.connect, info.ext) == (None, None)
    assert (info.tdmr.pamt_page_bitmap_entry_bits, info.tdmr.min_dynamic_pamt_num_hkid_bits) == (
        None,
        None,
    )
    assert info.handoff == md.TdxSysInfoHandoff(1, 0, 0, 4, 0, 0, 0)  # TD_PRESERVING is set
    # arrays: as long as the live count, values past it not returned
    assert info.cmr.cmr_base == [0x0, 0x100000, 0x100000000]
    assert info.cmr.cmr_size == [0x80000, 0x7FF00000, 0x80000000]
    assert len(info.td_conf.cpuid_config_leaves) == 12
    assert info.td_conf.cpuid_config_leaves[:2] == [0xFFFFFFFF00000001, 0x7]
    assert info.td_conf.cpuid_config_values[:2] == [(0x11, 0x22), (0x33, 0x44)]
    assert info.td_conf.allowed_fms == [0x806F8] and info.td_conf.disallowed_fms == []
    assert info.platform.pkg_fms == [0x806F8, 0x806F8]


def test_rd_reads_only_the_live_elements():
    fake = module_1_5_01()
    md.read_cmr(fake)
    cmr_base = md.FIELDS["CMR_BASE"].id
    assert [fid for _, fid in fake.calls if fid & ~0xFF == cmr_base & ~0xFF] == [
        cmr_base,
        cmr_base + 1,
        cmr_base + 2,
    ]


def test_rd_reads_gated_and_later_fields_of_a_2_0_module():
    info = md.read_all_rd(module_2_0())
    assert info.connect == md.TdxSysInfoConnect(tdx_connect_features=0x1281)
    assert (info.tdmr.pamt_page_bitmap_entry_bits, info.tdmr.min_dynamic_pamt_num_hkid_bits) == (
        1,
        3,
    )
    assert (
        info.td_conf.max_vcpus_per_td,
        info.td_conf.min_virt_maxpa,
        info.td_conf.max_event_filters,
    ) == (576, 36, 512)
    assert info.mem_mgmt.guest_gpa_attr_mask == 1 << 51
    assert info.ext is None  # EXT bit clear


@pytest.mark.parametrize("make", [module_1_5_01, module_2_0])
@pytest.mark.parametrize("page_size", [rdall_list.PAGE_SIZE, 256, 64])
def test_rdall_gives_the_same_structs_as_rd(make, page_size):
    fake = make(page_size=page_size)
    by_rdall = md.read_all_rdall(fake)
    assert by_rdall == md.read_all_rd(make())
    pages = [c for c in fake.calls if c[0] == "rdall"]
    assert pages[0] == ("rdall", fieldid.NULL_ID)
    if page_size == rdall_list.PAGE_SIZE:
        assert len(pages) == 1
    else:
        assert len(pages) > 5
    assert not [c for c in fake.calls if c[0] == "rd"]


def test_rdall_overflow_resumes_at_the_id_the_module_gives():
    fake = module_1_5_01(page_size=512)
    md.read_all_rdall(fake)
    starts = [fid for kind, fid in fake.calls if kind == "rdall"]
    first_page = fake.rdall(fieldid.NULL_ID)
    assert first_page[0] == status.TDX_METADATA_LIST_OVERFLOW
    assert starts[1] == first_page[1]


def test_struct_readers_take_a_backend_and_read_gates_on_demand():
    fake = module_1_5_01()
    assert md.read_handoff(fake).num_handoff_pages == 4
    assert fake.calls[0] == ("rd", md.FIELDS["TDX_FEATURES0"].id)
    fake = module_1_5_01()
    fake.set_value("TDX_FEATURES0", 0)
    assert md.read_handoff(fake) is None
    assert fake.calls == [("rd", md.FIELDS["TDX_FEATURES0"].id)]  # no handoff id was read


def test_a_source_is_one_snapshot_shared_by_struct_readers():
    fake = module_1_5_01()
    source = md.rd_source(fake)
    md.read_features(source)
    md.read_handoff(source)
    ids = [fid for _, fid in fake.calls]
    assert ids.count(md.FIELDS["TDX_FEATURES0"].id) == 1


def test_values_are_masked_to_the_element_size():
    class Wide(Recorder):  # a backend that does not mask R8
        def rd(self, fid):
            st, nxt, value = super().rd(fid)
            return st, nxt, value | 0xABCD0000 if fid == md.FIELDS["MAX_TDMRS"].id else value

    assert md.read_tdmr(Wide(module_1_5_01().module)).max_tdmrs == 64


# -- errors ----------------------------------------------------------------------


def test_an_error_status_names_status_field_and_id():
    fake = module_1_5_01()
    fake.inject("MAX_TDMRS", status.TDX_SYS_BUSY)
    with pytest.raises(md.SeamcallError) as exc:
        md.read_all_rd(fake)
    e = exc.value
    assert (e.status, e.status_name, e.field, e.field_id) == (
        0x8000020200000000,
        "TDX_SYS_BUSY",
        "MAX_TDMRS",
        0x9100000100000008,
    )
    assert str(e) == (
        "TDH.SYS.RD reading MAX_TDMRS (0x9100000100000008) failed: "
        "TDX_SYS_BUSY (0x8000020200000000)"
    )


def test_an_error_inside_an_array_names_the_element_id():
    fake = module_1_5_01()
    fake.fail[md.FIELDS["CMR_SIZE"].id + 2] = status.TDX_OPERAND_INVALID | status.OPERAND_RDX
    with pytest.raises(
        md.SeamcallError,
        match=r"^TDH.SYS.RD reading CMR_SIZE \(0x9000000300000102\) "
        r"failed: TDX_OPERAND_INVALID\(RDX\) \(0xc000010000000002\)$",
    ):
        md.read_cmr(fake)


def test_a_required_field_the_module_lacks_is_an_error_on_both_paths():
    without = LATER_FIELDS | {"MAX_MIGS"}
    with pytest.raises(md.SeamcallError) as rd:
        md.read_all_rd(module(PROFILE_1_5_01, without))
    with pytest.raises(md.SeamcallError) as rdall:
        md.read_all_rdall(module(PROFILE_1_5_01, without))
    assert str(rd.value) == (
        "TDH.SYS.RD reading MAX_MIGS (0xA000000100000010) failed: "
        "TDX_METADATA_FIELD_ID_INCORRECT (0xc0000c0000000000)"
    )
    assert str(rdall.value) == (
        "TDH.SYS.RDALL reading MAX_MIGS (0xA000000100000010) failed: "
        "TDX_METADATA_FIELD_ID_INCORRECT (0xc0000c0000000000); the field "
        "is missing from the list"
    )


def test_an_rdall_error_status_names_where_the_list_started():
    fake = module_1_5_01(lp_init=False)
    with pytest.raises(
        md.SeamcallError,
        match=r"^TDH.SYS.RDALL reading the first field "
        r"\(0xFFFFFFFFFFFFFFFF\) failed: TDX_SYS_LP_INIT_NOT_DONE",
    ):
        md.read_all_rdall(fake)


def test_a_malformed_rdall_page_is_a_list_error():
    class Truncated(Recorder):
        def rdall(self, start):
            st, nxt, page = super().rdall(start)
            return st, nxt, page[:100]

    with pytest.raises(
        md.ListError,
        match=r"^TDH.SYS.RDALL page starting at the first field "
        r"\(0xFFFFFFFFFFFFFFFF\): list header says 3\d\d\d bytes used in a 100-byte page$",
    ):
        md.read_all_rdall(Truncated(module_1_5_01().module))


def test_an_overflow_without_progress_is_a_list_error():
    class Stuck:
        def rdall(self, start):
            return status.TDX_METADATA_LIST_OVERFLOW, start, rdall_list.pack([])

    with pytest.raises(md.ListError, match="without progress"):
        md.read_all_rdall(Stuck())


# -- named bits, records ---------------------------------------------------------


def test_named_bits():
    assert md.TDX_FEATURES0_NO_RBP_MOD == 1 << 18
    assert md.TDX_FEATURES0_DYNAMIC_PAMT == 1 << 36
    assert md.has_bit(FEATURES_1_5_01, "TDX_FEATURES0.NO_RBP_MOD")
    assert not md.has_bit(FEATURES_1_5_01, "TDX_FEATURES0.TDX_CONNECT")
    assert not md.has_bit(None, "TDX_FEATURES0.NO_RBP_MOD")
    assert md.set_bits("TDX_FEATURES0", 0b110 | 1 << 18) == [
        "TD_PRESERVING",
        "SERVICE_TD",
        "NO_RBP_MOD",
    ]
    with pytest.raises(KeyError, match=re.escape("no named bit 'TDX_FEATURES0.NO_SUCH'")):
        md.has_bit(1, "TDX_FEATURES0.NO_SUCH")


def test_records_are_frozen_compared_by_value_and_serialisable():
    info = md.read_all_rd(module_1_5_01())
    with pytest.raises(AttributeError, match="TdxSysInfoTdmr is frozen: cannot set 'max_tdmrs'"):
        info.tdmr.max_tdmrs = 1
    assert repr(info.features) == f"TdxSysInfoFeatures(tdx_features0={FEATURES_1_5_01:#x})"
    assert md.TdxSysInfoFeatures(1) != md.TdxSysInfoFeatures(2)
    data = json.loads(json.dumps(info.as_dict()))
    assert data["td_conf"]["cpuid_config_values"][0] == [0x11, 0x22]
    assert data["connect"] is None
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'tdx_features0'"):
        md.TdxSysInfoFeatures()


def test_records_have_real_signatures_hex_reprs_and_hash_as_they_compare():
    import inspect

    info = md.read_all_rd(module_1_5_01())
    for cls in (md.TdxSysInfo, md.TdxSysInfoCmr, md.TdxSysInfoVersion):
        params = list(inspect.signature(cls).parameters)
        assert params == list(cls.__annotations__), cls
    assert str(inspect.signature(md.TdxSysInfoFeatures)) == "(tdx_features0: 'int') -> 'None'"
    assert md.TdxSysInfoFeatures(tdx_features0=5) == md.TdxSysInfoFeatures(5)
    # integers from 10 up in hex, smaller ones as they are (the same in both bases); eval() works
    assert repr(
        md.TdxSysInfoTdmr(
            **{m: 9 if i else 64 for i, m in enumerate(md.TdxSysInfoTdmr.__annotations__)}
        )
    ).startswith("TdxSysInfoTdmr(max_tdmrs=0x40, max_reserved_per_tdmr=9")
    assert eval(repr(info.cmr), vars(md)) == info.cmr
    # lists hash as tuples, so equal records (arrays included) hash equal
    again = md.read_all_rdall(module_1_5_01())
    assert again == info and hash(again) == hash(info) and len({info, again}) == 1


def test_diff_lists_the_members_two_snapshots_disagree_on():
    old = md.read_all_rd(module_1_5_01())
    assert md.diff(old, old) == []
    import dataclasses

    cmr = dataclasses.replace(
        old.cmr, num_cmrs=old.cmr.num_cmrs + 1, cmr_base=[*old.cmr.cmr_base, 0x1000]
    )
    new = dataclasses.replace(old, cmr=cmr, connect=None)
    n = old.cmr.num_cmrs
    assert md.diff(old, new) == [("cmr.num_cmrs", n, n + 1), (f"cmr.cmr_base[{n}]", None, 0x1000)]


def test_member_and_struct_descriptions_are_docstrings():
    """The schema's descriptions, in the generated source where editors and pydoc find them."""
    catalogue = compile_or_raise(SHIPPED_SCHEMA)
    text = (
        SHIPPED_SCHEMA.parent / "generated" / "python" / "tdx_metadata" / "__init__.py"
    ).read_text()
    for s in catalogue.output_structs("python"):
        cls = getattr(md, python_readers.names.class_name(s.c_name))
        assert cls.__doc__ == f"struct {s.c_name}: {s.description.strip()}"
        for f in catalogue.output_fields("python", s):
            body = text[text.index(f"    {f.member}: ") :]
            doc = body.split('"""')[1]
            assert " ".join(doc.split()) == " ".join(
                f"{python_readers.member_comment(f)}: {f.description}".split()
            ), f.name


# -- the package itself ----------------------------------------------------------


def test_the_package_records_the_generator_version_and_the_runtime_abi():
    from codegen import __version__

    assert md.GENERATOR_VERSION == __version__
    assert md.BASELINE_RELEASE == "1.5.01"
    assert md.RUNTIME_ABI == runtime.ABI == md._runtime.ABI


GENERATED = SHIPPED_SCHEMA.parent / "generated" / "python"

PROBE = textwrap.dedent("""
    import sys
    before = set(sys.modules)
    import tdx_metadata
    new = sorted(set(sys.modules) - before)
    print(" ".join(m for m in new if m.split(".")[0] not in sys.stdlib_module_names))
    print(" ".join(m for m in new if m in ("typing", "collections", "dataclasses", "re", "enum")))
""")


def test_the_package_imports_only_the_standard_library_and_its_own_runtime():
    """With only generated/python on the path: no codegen, no typing (the import cost)."""
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {str(GENERATED)!r}); exec({PROBE!r})",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.splitlines() == [
        "tdx_metadata tdx_metadata._runtime tdx_metadata._runtime.fieldid "
        "tdx_metadata._runtime.rdall_list tdx_metadata._runtime.release "
        "tdx_metadata._runtime.status",
        "",
    ]


def test_the_runtime_copy_is_the_runtime_with_relative_imports():
    root = GENERATED / "tdx_metadata"
    assert (root / "py.typed").is_file()
    copies = sorted(p.name for p in (root / "_runtime").glob("*.py"))
    assert copies == sorted(python_readers.runtime_modules())
    for name, source in python_readers.runtime_modules().items():
        copy = (root / "_runtime" / name).read_text()
        original = (python_readers.PACKAGE_DIR / source).read_text()
        banner, body = copy.split("\n", 2)[:2], copy.split("\n", 2)[2]
        assert banner[0] == f"# Copied by tdx-codegen {md.GENERATOR_VERSION} from codegen/{source}"
        assert re.findall(r"^(?:from|import) codegen", body, flags=re.M) == [], name
        undone = re.sub(
            r"^(\s*)from \. import chars", r"\1from codegen import chars", body, flags=re.M
        )
        undone = re.sub(
            r"^from \.(\w+) import ", r"from codegen.abi.\1 import ", undone, flags=re.M
        )
        assert (
            re.sub(r"^from \. import ", "from codegen.abi import ", undone, flags=re.M) == original
        ), name


def test_the_runtime_copy_takes_every_module_an_import_names():
    # as an import sorter writes them: several modules in one statement, wrapped in parentheses
    text = textwrap.dedent(
        """\
        from codegen.abi import fieldid, rdall_list
        from codegen.abi import (
            release,
            status as _status,
        )


        def simulator():
            from codegen import chars
            from codegen.sim import profile
        """
    )
    assert sorted(python_readers._portable_imports(text)) == [
        (0, "from . import", ["abi/fieldid.py", "abi/rdall_list.py"]),
        (1, "from . import", ["abi/release.py", "abi/status.py"]),
        (8, "from . import", ["chars.py"]),
    ]
    assert python_readers._relative(text, "runtime.py").splitlines()[:2] == [
        "from . import fieldid, rdall_list",
        "from . import (",
    ]
    assert python_readers._relative(text, "runtime.py").splitlines()[-2:] == [
        "    from . import chars",
        "    from codegen.sim import profile",
    ]


def test_simulator_gives_a_backend_in_one_call(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no project here: the built-in catalogue
    info = md.read_all_rdall(md.simulator("2.0.08"))
    assert info == md.read_all_rd(simulator("2.0.08"))


def generate(tmp_path, schema_dir, version=__version__, package=None):
    """Emit the readers of schema_dir into tmp_path and import them."""
    catalogue = compile_or_raise(schema_dir)
    outputs = python_readers.emit(EmitContext(catalogue, "map", generator_version=version))
    for out in outputs:
        path = tmp_path / out.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out.content)
    target = tmp_path / outputs[0].path
    sys.path.insert(0, str(tmp_path / "python"))
    try:
        return importlib.import_module(target.parent.name)
    finally:
        sys.path.remove(str(tmp_path / "python"))
        for name in [m for m in sys.modules if m.split(".")[0] == target.parent.name]:
            del sys.modules[name]


MINI_CLASS = """\
[class]
code = 0x11
name = "TDMR Info"

[[struct]]
name = "{struct}"
c_name = "tdx_sys_info_{struct}"
description = "Mini."
"""
MINI_SETTINGS = """\
[kernel]
structs = ["version", "{struct}"]
[python]
package = "{package}"
structs = ["version", "{struct}"]
[docs]
structs = ["version", "{struct}"]
"""


def mini_schema(tmp_path, struct, package, extra_field):
    """The real version class plus one class with a release-gated field."""
    schema = tmp_path / "schema"
    schema.mkdir()
    (schema / "08-module-version.toml").write_text(
        (md_schema_dir() / "08-module-version.toml").read_text()
    )
    (schema / "11.toml").write_text(MINI_CLASS.format(struct=struct) + extra_field)
    (schema / "settings.toml").write_text(MINI_SETTINGS.format(struct=struct, package=package))
    return schema


def md_schema_dir():
    return SHIPPED_SCHEMA


RELEASE_GATED = """
[[field]]
name = "MAX_TDMRS"
id = "0x9100000100000008"
class = 0x11
element_size = 2
struct = "mini"
member = "max_tdmrs"
type = "u16"
since = "1.5.01"
gate = { release = "1.5.06" }
description = "Read from 1.5.06 on."
"""


def test_a_release_gate_compares_the_module_version(tmp_path):
    schema = mini_schema(tmp_path, "mini", "tdx_md_release_gate", RELEASE_GATED)
    pkg, catalogue = generate(tmp_path, schema), compile_or_raise(schema)
    assert pkg.MINI_FIELDS[0].gate == pkg._runtime.Gate("release >= 1.5.06", release=0x010506)
    values = {"MAJOR_VERSION": 1, "MINOR_VERSION": 5, "MAX_TDMRS": 64}
    for update, expect in ((5, None), (6, 64), (8, 64)):
        fake = module({**values, "UPDATE_VERSION": update}, catalogue=catalogue)
        assert pkg.read_all_rd(fake).mini.max_tdmrs == expect
        assert pkg.read_all_rdall(fake).mini.max_tdmrs == expect


def test_a_package_refuses_a_runtime_of_another_abi(tmp_path):
    """Compatibility is the runtime ABI, not the tool's version."""
    schema = mini_schema(tmp_path, "mini", "tdx_md_old", RELEASE_GATED)
    assert generate(tmp_path, schema, version="0.0.9").GENERATOR_VERSION == "0.0.9"
    init = tmp_path / "python" / "tdx_md_old" / "__init__.py"
    init.write_text(init.read_text().replace(f"RUNTIME_ABI = {runtime.ABI}\n", "RUNTIME_ABI = 1\n"))
    # same size, same second: the bytecode of the first import would still pass as fresh
    shutil.rmtree(init.parent / "__pycache__", ignore_errors=True)
    sys.path.insert(0, str(tmp_path / "python"))
    try:
        with pytest.raises(ImportError) as exc:
            importlib.import_module("tdx_md_old")
    finally:
        sys.path.remove(str(tmp_path / "python"))
    assert str(exc.value) == (
        f"tdx_md_old needs runtime ABI 1 but its runtime has ABI "
        f"{runtime.ABI}; regenerate the package with 'tdx-codegen build'"
    )


def test_generated_struct_text(tmp_path):
    schema = mini_schema(tmp_path, "mini", "tdx_md_text", RELEASE_GATED)
    out = python_readers.emit(EmitContext(compile_or_raise(schema), "map"))[0]
    text = out.content
    start, end = text.index("class TdxSysInfoMini"), text.index("class TdxSysInfo(")
    assert (
        text[start:end]
        == '''\
class TdxSysInfoMini(_runtime.Record):
    """struct tdx_sys_info_mini: Mini."""

    max_tdmrs: int | None
    """MAX_TDMRS, if release >= 1.5.06: Read from 1.5.06 on."""

    def __init__(self, max_tdmrs: int | None) -> None:
        _runtime.init(self, (max_tdmrs,))


MINI_FIELDS = (
    # name, id, member,
    #   element size, num_fields, num_elements, capacity, count, gate, optional, member size
    _Field("MAX_TDMRS", 0x9100000100000008, "max_tdmrs",
           2, 1, 1, 1, None, _Gate("release >= 1.5.06", release=0x010506), False, 2),
)
MINI_GATE = None


def read_mini(source) -> TdxSysInfoMini:
    """Read struct tdx_sys_info_mini."""
    source = _runtime.as_source(source, FIELDS)
    return _runtime.read_struct(source, TdxSysInfoMini, MINI_FIELDS, MINI_GATE)


'''
    )


# -- against the simulator (codegen.sim), every shipped profile --------------------


def simulator(profile: str, **kw):
    from codegen.sim.profile import load_profile, resolve

    return Simulator(load_profile(resolve(profile, SHIPPED_SCHEMA), CATALOGUE), **kw)


@pytest.mark.parametrize("profile", ["1.5.01", "1.5.34", "2.0.08"])
@pytest.mark.parametrize("list_size", [rdall_list.PAGE_SIZE, 512])
def test_rd_and_rdall_agree_on_the_simulator(profile, list_size):
    by_rd = md.read_all_rd(simulator(profile))
    by_rdall = md.read_all_rdall(simulator(profile, list_size=list_size))
    assert by_rd == by_rdall
    assert by_rd.version.major_version in (1, 2)
    assert len(by_rd.td_conf.cpuid_config_leaves) == by_rd.td_conf.num_cpuid_config


def test_the_simulated_1_5_01_module_lacks_the_later_fields():
    info = md.read_all_rd(simulator("1.5.01"))
    assert (info.version.major_version, info.version.minor_version) == (1, 5)
    assert info.td_conf.max_vcpus_per_td is None and info.td_conf.min_virt_maxpa is None
    assert info.mem_mgmt.guest_gpa_attr_mask is None and info.connect is None


def test_a_fault_injected_in_the_simulator_surfaces_with_its_name():
    sim = simulator("1.5.01")
    sim.inject("NUM_CMRS", status.TDX_SYS_BUSY)
    with pytest.raises(
        md.SeamcallError,
        match=r"^TDH.SYS.RD reading NUM_CMRS \(0x9000000100000000\) "
        r"failed: TDX_SYS_BUSY \(0x8000020200000000\)$",
    ):
        md.read_all_rd(sim)


# -- against the compiled kernel C readers -------------------------------------------


class ValuesBackend:
    """TDH.SYS.RD over a dict element id -> value (the kernel tests' fake table)."""

    def __init__(self, values: dict[int, int]):
        self.by_key = {fieldid.key(fid): v for fid, v in values.items()}

    def rd(self, fid):
        value = self.by_key.get(fieldid.key(fid))
        if value is None:
            return status.TDX_METADATA_FIELD_ID_INCORRECT, fieldid.NULL_ID, 0
        return status.TDX_SUCCESS, fieldid.NULL_ID, value


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("flavor", ["map", "functions"])
@pytest.mark.parametrize("num_cpuid_config", [None, 5])
def test_the_compiled_kernel_reader_and_the_python_readers_agree(
    tmp_path, flavor, num_cpuid_config
):
    from kernel import cbuild

    catalogue = compile_or_raise(SHIPPED_SCHEMA)
    values = cbuild.default_values(catalogue)
    if num_cpuid_config is not None:
        values[catalogue.field("NUM_CPUID_CONFIG").id] = num_cpuid_config
    dump = cbuild.build_and_run(catalogue, tmp_path, values, flavor=flavor)
    assert dump.ret == 0
    info = md.read_all_rd(ValuesBackend(values))
    compared = 0
    for s, f in cbuild.kernel_fields(catalogue):
        py = getattr(getattr(info, s.name), f.member)
        for key, c_value in dump.members.items():
            name, _, index = key.partition("[")
            if name != f"{s.name}.{f.member}":
                continue
            indices = [int(i) for i in index.rstrip("]").split("][")] if index else []
            value = py
            for i in indices:
                if i >= len(value):  # past the live count: Python returns no value
                    break
                value = value[i]
            else:
                assert value == c_value, key
                compared += 1
    live = num_cpuid_config or catalogue.field("CPUID_CONFIG_LEAVES").num_fields
    assert compared == sum(1 for _ in cbuild.kernel_fields(catalogue)) - 2 + 3 * live


def test_records_are_dataclasses_to_the_dataclasses_module():
    """The generated structs answer dataclasses' functions, without importing it eagerly."""
    import dataclasses
    import subprocess
    import sys

    import tdx_metadata as t

    members = t.TdxSysInfoTdCtrl._members
    rec = t.TdxSysInfoTdCtrl(**{m: i for i, m in enumerate(members)})
    assert dataclasses.is_dataclass(rec) and dataclasses.is_dataclass(t.TdxSysInfoTdCtrl)
    assert [f.name for f in dataclasses.fields(rec)] == list(members)
    assert dataclasses.asdict(rec) == {m: i for i, m in enumerate(members)}
    assert dataclasses.astuple(rec) == tuple(range(len(members)))
    changed = dataclasses.replace(rec, tdr_base_size=0x1000)
    assert changed.tdr_base_size == 0x1000 and rec.tdr_base_size == members.index("tdr_base_size")
    with pytest.raises(AttributeError):
        rec.tdr_base_size = 1
    p = subprocess.run(
        [sys.executable, "-c", "import sys, tdx_metadata; print('dataclasses' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert p.stdout == "False\n"
