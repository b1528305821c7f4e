"""Kernel C emitter: exact text, kernel style, gcc -Werror, and the compiled reader's results."""

from __future__ import annotations

import hashlib
import itertools
import re
import shutil
from pathlib import Path

import pytest
from kernel import cbuild
from kernel.today import KERNEL_STRUCTS, NOT_THE_KERNELS

from codegen.emitters import EmitContext, c_writer, kernel_c
from codegen.spec.compiler import compile_or_raise
from codegen.spec.model import KernelPrint, KernelStructGiven

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SMALL = DATA / "kernel_small"
EXPECTED = DATA / "kernel_small_expected"
EINVAL, EIO = 22, 5

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@pytest.fixture(scope="module")
def shipped():
    return compile_or_raise(ROOT / "schema")


@pytest.fixture(scope="module")
def every_struct(shipped):
    """All 15 structs (the gated ones included), every one read by get_tdx_sys_info(), no
    field excluded."""
    return cbuild.with_kernel(
        shipped, structs=shipped.settings.python_structs, exclude_fields=(), struct_settings=()
    )


@pytest.fixture(scope="module")
def small():
    return compile_or_raise(SMALL)


def emit(cat, flavor, kernel_names=()):
    return {
        o.path: o.content
        for o in kernel_c.emit(EmitContext(cat, flavor, kernel_names=kernel_names))
    }


# sha256 of mainline Linux's tdx_global_metadata.{c,h} (torvalds/linux, the TDX module runtime
# update series: version and handoff readers not __init, handoff outside struct tdx_sys_info)
MAINLINE_SHA256 = {
    kernel_c.SOURCE_PATH: "f2054c6a7bf05a2ccf6fdad54d423f53e6f31907ba6db04e85cda5319c6bea08",
    kernel_c.HEADER_PATH: "60d30395e49f33103ef80e39f488b362aa07c73f853859bdaa7e6d79cff522b1",
}


def style_problems(text: str) -> list[str]:
    """Kernel style a maintainer checks by eye: what and on which line.

    A read in the kernel's own idiom (raw id, never broken) may pass 100 columns, as the
    kernel's file does at two loop levels.
    """
    out = []
    for n, line in enumerate(text.split("\n"), 1):
        kernels_own = line.lstrip("\t").startswith("if (!ret && !(ret = read_sys_metadata_field(0x")
        if c_writer.columns(line) > 100 and not kernels_own:
            out.append(f"line {n}: {c_writer.columns(line)} columns")
        if line != line.rstrip():
            out.append(f"line {n}: trailing whitespace")
        if line.startswith(" ") and not line.startswith(" *"):
            out.append(f"line {n}: indented with spaces")
    if not text.endswith("\n") or text.endswith("\n\n"):
        out.append("file must end with exactly one newline")
    return out


# -- exact text ------------------------------------------------------------------


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_small_schema_exact_text(small, flavor):
    got = emit(small, flavor)
    for path, text in got.items():
        assert text == (EXPECTED / flavor / Path(path).name).read_text(), path


def test_paths_mirror_the_kernel_tree(shipped):
    assert sorted(emit(shipped, "map")) == [
        "linux/arch/x86/include/asm/tdx_global_metadata.h",
        "linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c",
    ]


def test_shipped_settings_give_the_kernels_files_byte_for_byte(shipped):
    files = emit(shipped, "functions")
    got = {p: hashlib.sha256(t.encode()).hexdigest() for p, t in files.items()}
    assert got == MAINLINE_SHA256, NOT_THE_KERNELS.format(what="their sha256 differ", got=got)
    assert shipped.settings.kernel.flavor == "functions"


def test_committed_files_match_the_schema(shipped):
    for path, text in emit(shipped, shipped.settings.kernel.flavor).items():
        assert (ROOT / "generated" / path).read_text() == text, f"{path}: run tdx-codegen build"


def test_unknown_flavour_is_refused(shipped):
    with pytest.raises(ValueError, match="unknown kernel C flavour 'tables'"):
        kernel_c.emit(EmitContext(shipped, "tables"))


# -- every flavour x settings combination: style, gcc -Werror, every member --------

COMBINATIONS = list(
    itertools.product(
        ["map", "functions"],
        [True, False],
        [True, False],
        [True, False],
        ["shipped", "every_struct"],
    )
)


@pytest.mark.parametrize(
    "flavor,init,named_ids,prints,structs",
    COMBINATIONS,
    ids=["-".join(map(str, c)) for c in COMBINATIONS],
)
def test_every_combination_compiles_and_reads(
    request, tmp_path, flavor, init, named_ids, prints, structs
):
    base = request.getfixturevalue(structs)
    cat = cbuild.with_kernel(
        base,
        flavor=flavor,
        init=init,
        named_ids=named_ids,
        print=base.settings.kernel.print if prints else None,
        struct_settings=(),
        top_init=None,
    )
    files = emit(cat, flavor)
    for path, text in files.items():
        assert style_problems(text) == [], path
        first = (
            "// SPDX-License-Identifier: GPL-2.0"
            if path.endswith(".c")
            else "/* SPDX-License-Identifier: GPL-2.0 */"
        )
        assert text.split("\n", 1)[0] == first
    source = files[kernel_c.SOURCE_PATH]
    assert ("__init" in source) == init
    assert ("MD_FIELD_ID_" in source) == (named_ids or flavor == "map")
    assert (
        "static "
        + ("__init " if init else "")
        + "int get_tdx_sys_info(struct tdx_sys_info *sysinfo)"
        in source
    )
    values = cbuild.default_values(cat)
    dump = cbuild.build_and_run(cat, tmp_path, values)
    assert dump.ret == 0
    assert dump.members == cbuild.expected(cat, values)
    assert ("info: Module version: " in dump.stderr) == prints


# -- the shipped settings are a drop-in for the kernel ---------------------------------


def structs_of(header: str) -> dict[str, list[str]]:
    return {
        name: [m.strip().rstrip(";") for m in body.strip().split("\n")]
        for name, body in re.findall(r"^struct (\w+) \{\n(.*?)^\};", header, re.M | re.S)
    }


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_header_is_a_drop_in_for_the_kernel(shipped, flavor):
    header = emit(shipped, flavor)[kernel_c.HEADER_PATH]
    got = structs_of(header)
    assert got == KERNEL_STRUCTS, NOT_THE_KERNELS.format(what="the structs differ", got=got)
    assert "#define" not in header.replace("#define _X86_VIRT_TDX_AUTO_GENERATED_", "")


def kernel_read_order(num_cpuid_config: int) -> list[int]:
    """The ids the kernel's generated tdx_global_metadata.c reads, in its order."""
    ids = [
        0x0800000100000003,
        0x0800000100000004,
        0x0800000100000005,
        0x0A00000300000008,
        0x9100000100000008,
        0x9100000100000009,
        0x9100000100000010,
        0x9100000100000011,
        0x9100000100000012,
        0x9800000100000000,
        0x9800000100000100,
        0x9800000100000200,
        0x1900000300000000,
        0x1900000300000001,
        0x1900000300000002,
        0x1900000300000003,
        0x9900000100000004,
        0x9900000100000008,
    ]
    ids += [0x9900000300000400 + i for i in range(num_cpuid_config)]
    ids += [0x9900000300000500 + i * 2 + j for i in range(num_cpuid_config) for j in range(2)]
    return ids


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_reads_the_kernels_ids_in_the_kernels_order(shipped, tmp_path, flavor):
    cat = cbuild.with_kernel(shipped, flavor=flavor)
    values = cbuild.default_values(cat)
    values[0x9900000100000004] = 12  # NUM_CPUID_CONFIG as on 1.5.01
    dump = cbuild.build_and_run(cat, tmp_path, values)
    assert dump.ret == 0
    what = "the ids read differ"
    got = [hex(i) for i in dump.reads]
    assert dump.reads == kernel_read_order(12), NOT_THE_KERNELS.format(what=what, got=got)
    assert dump.members == cbuild.expected(cat, values)
    assert dump.members["td_conf.cpuid_config_values[11][1]"] == values[0x9900000300000517]
    assert dump.members["td_conf.cpuid_config_values[12][0]"] == 0


# -- what the kernel had to hand-edit, now from the schema ---------------------------


def cpuid_values(cat, count: int) -> dict[int, int]:
    """Values with NUM_CPUID_CONFIG = count and every CPUID element up to the capacity."""
    values = cbuild.default_values(cat)
    for name in ("CPUID_CONFIG_LEAVES", "CPUID_CONFIG_VALUES"):
        f = cat.field(name)
        for i in range(f.capacity):
            for j in range(f.num_elements):
                values[f.element_id(i, j)] = (i << 8) | j | 0x1000
    values[cat.field("NUM_CPUID_CONFIG").id] = count
    return values


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_count_up_to_the_kernel_capacity_is_read(shipped, tmp_path, flavor):
    cat = cbuild.with_kernel(shipped, flavor=flavor)
    values = cpuid_values(cat, 128)  # more than the module table's 32
    dump = cbuild.build_and_run(cat, tmp_path, values)
    assert dump.ret == 0
    assert dump.members["td_conf.cpuid_config_leaves[127]"] == 0x7F00 | 0x1000
    assert dump.members["td_conf.cpuid_config_values[127][1]"] == 0x7F01 | 0x1000


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_count_beyond_capacity_is_einval(shipped, tmp_path, flavor):
    cat = cbuild.with_kernel(shipped, flavor=flavor)
    dump = cbuild.build_and_run(cat, tmp_path, cpuid_values(cat, 129))
    assert dump.ret == -EINVAL
    # nothing read past the guard: the reads stop at the field before the arrays
    fields = cat.output_fields("kernel", cat.struct("td_conf"))
    leaves = [f.name for f in fields].index("CPUID_CONFIG_LEAVES")
    assert dump.reads[-1] in {f.id for f in fields[:leaves]}
    assert not {f.id for f in fields[leaves:]} & set(dump.reads)
    assert dump.members["td_conf.cpuid_config_leaves[0]"] == 0


@pytest.mark.parametrize("flavor", ["map", "functions"])
@pytest.mark.parametrize("preserving", [False, True])
def test_gated_struct_read_only_when_its_bit_is_set(every_struct, tmp_path, flavor, preserving):
    cat = cbuild.with_kernel(every_struct, flavor=flavor)
    values = cbuild.default_values(cat)
    features = cat.field("TDX_FEATURES0")
    bit = 1 << 1  # TD_PRESERVING
    values[features.id] = values[features.id] | bit if preserving else values[features.id] & ~bit
    dump = cbuild.build_and_run(cat, tmp_path, values)
    assert dump.ret == 0
    handoff_ids = [f.id for f in cat.struct("handoff").fields]
    assert any(i in dump.reads for i in handoff_ids) == preserving
    assert dump.members == cbuild.expected(cat, values)
    assert (dump.members["handoff.module_hv"] != 0) == preserving


@pytest.mark.parametrize("flavor", ["map", "functions"])
@pytest.mark.parametrize(
    "dynamic_pamt,release,read",
    [
        (False, (1, 5, 6), {0x9000000100000041}),
        (True, (1, 5, 5), {0x9000000000000040}),
        (True, (1, 5, 6), {0x9000000000000040, 0x9000000100000041}),
        (True, (2, 0, 0), {0x9000000000000040, 0x9000000100000041}),
    ],
)
def test_feature_and_release_gated_fields(small, tmp_path, flavor, dynamic_pamt, release, read):
    values = cbuild.default_values(small)
    values[0x0800000100000004], values[0x0800000100000003], values[0x0800000100000005] = release
    values[0x0A00000300000008] = (1 << 18) | (int(dynamic_pamt) << 36)
    dump = cbuild.build_and_run(small, tmp_path, values, flavor=flavor)
    assert dump.ret == 0
    assert {0x9000000000000040, 0x9000000100000041} & set(dump.reads) == read
    assert dump.members == cbuild.expected(small, values)
    assert (dump.members["tables.dyn_bits"] != 0) == dynamic_pamt


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_every_shape_lands_where_the_schema_says(small, tmp_path, flavor):
    values = cbuild.default_values(small)
    values[0x0A00000300000008] = (1 << 18) | (1 << 36) | (1 << 1)
    values[0x9000000100000002] = 0x1234  # SHORT_TRUNC: u8, truncate = true
    values[0x9000000000000001] = 0xAB  # BYTE_WIDE: 1 byte into a u32
    values[0x9000000100000000] = 3  # NUM_ENTRIES: 3 of 4 (capacity 6)
    dump = cbuild.build_and_run(small, tmp_path, values, flavor=flavor)
    assert dump.ret == 0
    assert dump.members == cbuild.expected(small, values)
    m = dump.members
    assert m["tables.short_trunc"] == 0x34
    assert m["tables.byte_wide"] == 0xAB
    assert [m[f"tables.entry_base[{i}]"] for i in range(6)] == [
        values[0x9000000300000010 + i] for i in range(3)
    ] + [0, 0, 0]
    assert m["tables.entry_pair[2][1]"] == values[0x9000000300000025]
    assert m["tables.entry_pair[3][0]"] == 0
    assert [m[f"tables.small_array[{i}]"] for i in range(3)] == [
        values[0x9000000000000030 + i] for i in range(3)
    ]
    assert m["handoff.module_hv"] == values[0x8900000100000000]


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_read_error_stops_the_read(shipped, tmp_path, flavor):
    cat = cbuild.with_kernel(shipped, flavor=flavor)
    values = cbuild.default_values(cat)
    dump = cbuild.build_and_run(cat, tmp_path, values, {0x9100000100000009: -EIO})
    assert dump.ret == -EIO
    assert dump.reads[-1] == 0x9100000100000009
    assert dump.members["tdmr.max_tdmrs"] == values[0x9100000100000008]
    assert dump.members["tdmr.max_reserved_per_tdmr"] == 0
    assert dump.members["td_conf.attributes_fixed0"] == 0


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_required_feature_missing_is_einval(small, tmp_path, flavor):
    values = cbuild.default_values(small)
    values[0x0A00000300000008] = 1 << 36  # NO_RBP_MOD clear
    dump = cbuild.build_and_run(small, tmp_path, values, flavor=flavor)
    assert dump.ret == -EINVAL
    assert dump.reads[-1] == 0x0A00000300000008  # stops right after the features
    assert "err: TDX module lacks required feature TDX_FEATURES0.NO_RBP_MOD\n" in dump.stderr


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_version_print(small, tmp_path, flavor):
    values = cbuild.default_values(small)
    values.update({0x0800000100000004: 1, 0x0800000100000003: 5, 0x0800000100000005: 6})
    dump = cbuild.build_and_run(small, tmp_path, values, flavor=flavor)
    assert dump.stderr.startswith("info: Module version: 1.5.06\n")


@pytest.mark.parametrize(
    "when,errors,printed",
    [("always", "chain", True), ("ok", "chain", False), ("ok", "return", False)],
)
def test_version_print_when_the_read_failed(shipped, tmp_path, when, errors, printed):
    p = shipped.settings.kernel.print
    cat = cbuild.with_kernel(
        shipped, errors=errors, print=KernelPrint(p.members, p.prefix, p.format, when)
    )
    values = cbuild.default_values(cat)
    values.update({0x0800000100000004: 1, 0x0800000100000003: 5})
    dump = cbuild.build_and_run(cat, tmp_path, values, {0x0800000100000005: -EIO})
    assert dump.ret == -EIO
    assert dump.stderr == ("info: Module version: 1.5.00\n" if printed else "")
    assert dump.reads == [0x0800000100000003, 0x0800000100000004, 0x0800000100000005]


def test_shipped_print_is_the_kernels(shipped, tmp_path):
    values = cbuild.default_values(shipped)
    values.update({0x0800000100000004: 1, 0x0800000100000003: 5, 0x0800000100000005: 8})
    dump = cbuild.build_and_run(shipped, tmp_path, values)
    assert (dump.ret, dump.stderr) == (0, "info: Module version: 1.5.08\n")


def test_element_too_wide_for_its_member_fails_the_build(small, tmp_path):
    """The map flavour's build-time check is real: shrink a member and gcc refuses."""
    out, build = tmp_path / "out", tmp_path / "build"
    build.mkdir()
    cbuild.generate(small, out, "map")
    header = out / kernel_c.HEADER_PATH
    header.write_text(header.read_text().replace("\tu16 num_entries;", "\tu8 num_entries;"))
    (build / "tdx_dump.h").write_text(cbuild.dump_header(small))
    (build / "fake_values.h").write_text(cbuild.fake_values_header({}))
    with pytest.raises(cbuild.BuildError, match="negative width in bit-field"):
        cbuild.compile_reader(build, out)


# -- layout ---------------------------------------------------------------------------


def test_defines_align_at_one_tab_stop():
    w = c_writer.CodeWriter()
    w.defines([("A", "1"), ("LONGER_NAME", "2")])
    assert w.lines == ["#define A\t\t1", "#define LONGER_NAME\t2"]  # both values at column 24


def test_macro_backslashes_at_one_tab_stop():
    w = c_writer.CodeWriter()
    w.macro("M(a)", ["{ .x = (a),", "  .yy = 0 }"])
    assert w.text() == "#define M(a)\t\t\\\n\t{ .x = (a),\t\\\n\t  .yy = 0 }\n"


def test_fill_breaks_after_a_piece_and_aligns_under_the_parenthesis():
    w = c_writer.CodeWriter(level=1)
    w.fill("ret = f(", ["a" * 50 + ",", "b" * 40], ");")  # 110 columns on one line
    assert w.lines == ["\tret = f(" + "a" * 50 + ",", "\t\t" + "b" * 40 + ");"]


def test_fill_one_argument_per_line():
    w = c_writer.CodeWriter(level=1)
    w.fill("pr_info(", ['"' + "x" * 80 + '",', "a,", "b"], ");", one_per_line=True)
    assert w.lines == ['\tpr_info("' + "x" * 80 + '",', "\t\ta,", "\t\tb);"]


def test_comment_wraps_within_the_limit_and_banners_are_kept():
    w = c_writer.CodeWriter(level=1)
    w.comment(["word " * 40])
    assert w.lines[0] == "\t/*" and w.lines[-1] == "\t */"
    assert all(c_writer.columns(line) <= 100 and line.startswith("\t *") for line in w.lines[1:])
    w = c_writer.CodeWriter()
    w.comment(["Short line.", "", "Another, kept as it is."], wrap=False)
    assert w.text() == "/*\n * Short line.\n *\n * Another, kept as it is.\n */\n"


def test_kerneldoc_names_every_member_and_wraps_one_tab_in():
    w = c_writer.CodeWriter()
    w.kerneldoc("struct s", "What s holds.", [("a", "One."), ("b", "word " * 20 + "end.")])
    assert w.text() == (
        "/**\n * struct s - What s holds.\n * @a: One.\n"
        " * @b: " + "word " * 17 + "word\n"
        " *\tword word end.\n */\n"
    )
    assert all(c_writer.columns(line) <= 100 for line in w.lines)


def test_struct_comments_are_kernel_doc_with_each_field_description(small, tmp_path):
    cat = cbuild.with_kernel(small, struct_comments=True)
    header = cbuild.generate(cat, tmp_path)[kernel_c.HEADER_PATH]
    assert (
        """
/**
 * struct tdx_sys_info_tables - Shapes.
 * @num_entries: Live count of ENTRY_BASE and ENTRY_PAIR.
 * @byte_wide: A 1-byte element in a wider member.
 * @short_trunc: A 2-byte element the schema allows into a u8.
 * @word: A 4-byte element.
 * @entry_base: Counted array, capacity larger than the module table.
 * @entry_pair: Counted array of two-element fields.
 * @small_array: Array without a count: every field is read.
 * @dyn_bits: Read only with the DYNAMIC_PAMT feature. Read only when TDX_FEATURES0.DYNAMIC_PAMT is
 *\tset.
 * @new_limit: Read only from module release 1.5.06. Read only when the module release is 1.5.06 or
 *\tlater.
 */
struct tdx_sys_info_tables {
"""
        in header
    )
    assert (
        "\n/**\n * struct tdx_sys_info - All TDX global metadata the kernel reads, one member per "
        "struct.\n * @version: " in header
    )


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_struct_of_one_array_and_struct_with_nothing_to_read(small, tmp_path, flavor):
    """Excluding fields may leave a struct with only an uncounted array, or with nothing."""
    keep = {"SMALL_ARRAY"}
    excluded = [f.name for f in small.struct("tables").fields if f.name not in keep] + ["MODULE_HV"]
    cat = cbuild.with_kernel(small, flavor=flavor, exclude_fields=excluded)
    values = cbuild.default_values(cat)
    dump = cbuild.build_and_run(cat, tmp_path, values)
    assert dump.ret == 0
    assert dump.reads[-3:] == [0x9000000000000030, 0x9000000000000031, 0x9000000000000032]
    header = (tmp_path / "out" / kernel_c.HEADER_PATH).read_text()
    assert "struct tdx_sys_info_handoff {\n};" in header
    assert dump.members == cbuild.expected(cat, values)


# -- settings that say what real trees say ----------------------------------------------


def with_structs(cat, **per_struct):
    """cat with [kernel.struct.NAME] tables: per_struct = {name: {key: value}}."""
    given = tuple((name, KernelStructGiven(**opts)) for name, opts in sorted(per_struct.items()))
    return cbuild.with_kernel(cat, struct_settings=given)


def test_shipped_readers_init_and_the_handoff_read_on_its_own(shipped, tmp_path):
    source = emit(shipped, "functions")[kernel_c.SOURCE_PATH]
    signatures = re.findall(r"^static (.*)\(", source, re.M)
    assert signatures == [
        "int get_tdx_sys_info_version",
        "__init int get_tdx_sys_info_features",
        "__init int get_tdx_sys_info_tdmr",
        "__init int get_tdx_sys_info_td_ctrl",
        "__init int get_tdx_sys_info_td_conf",
        "int get_tdx_sys_info_handoff",
        "__init int get_tdx_sys_info",
    ], NOT_THE_KERNELS.format(what="the functions differ", got=signatures)
    assert "handoff" not in source[source.index("get_tdx_sys_info(struct") :]
    values = cbuild.default_values(shipped)
    dump = cbuild.build_and_run(shipped, tmp_path, values)
    assert (dump.ret, dump.apart_ret, dump.apart_reads) == (0, {"handoff": 0}, [0x8900000100000000])
    assert dump.members["handoff.module_hv"] == values[0x8900000100000000]
    assert 0x8900000100000000 not in dump.reads


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_member_and_reader_names_of_their_own(small, tmp_path, flavor):
    cat = with_structs(small, handoff={"member": "tdx_handoff", "reader": "read_handoff_info"})
    files = emit(cat, flavor)
    assert "\tstruct tdx_sys_info_handoff tdx_handoff;\n" in files[kernel_c.HEADER_PATH]
    assert (
        "\t\tret = ret ?: read_handoff_info(&sysinfo->tdx_handoff);\n"
        in files[kernel_c.SOURCE_PATH]
    )
    values = cbuild.default_values(cat)
    values[0x0A00000300000008] |= 1 << 1  # TD_PRESERVING: the handoff is read
    dump = cbuild.build_and_run(cat, tmp_path, values, flavor=flavor)
    assert dump.ret == 0 and dump.members == cbuild.expected(cat, values)


@pytest.mark.parametrize("flavor", ["map", "functions"])
@pytest.mark.parametrize("preserving", [False, True])
def test_a_gate_in_c_as_a_kernel_helper(small, tmp_path, flavor, preserving):
    cat = cbuild.with_kernel(
        small, gate_helpers=(("TDX_FEATURES0.TD_PRESERVING", "tdx_supports_runtime_update"),)
    )
    source = emit(cat, flavor)[kernel_c.SOURCE_PATH]
    assert (
        "\tif (tdx_supports_runtime_update(sysinfo))\n"
        "\t\tret = ret ?: get_tdx_sys_info_handoff(&sysinfo->handoff);\n" in source
    )
    assert "TDX_FEATURES0_TD_PRESERVING" not in source
    values = cbuild.default_values(cat)
    values[0x0A00000300000008] = (1 << 18) | (int(preserving) << 1)
    dump = cbuild.build_and_run(cat, tmp_path, values, flavor=flavor)
    assert (0x8900000100000000 in dump.reads) == preserving
    assert dump.members == cbuild.expected(cat, values)


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_the_early_return_idiom(shipped, tmp_path, flavor):
    cat = cbuild.with_kernel(shipped, errors="return", struct_settings=())
    source = emit(cat, flavor)[kernel_c.SOURCE_PATH]
    assert "ret ?:" not in source and "!ret" not in source
    if flavor == "functions":
        assert (
            "\tret = read_sys_metadata_field(0x9100000100000008, &val);\n\tif (ret)\n"
            "\t\treturn ret;\n\n\tsysinfo_tdmr->max_tdmrs = val;\n\n"
        ) in source
        assert (
            "\tfor (i = 0; i < sysinfo_td_conf->num_cpuid_config; i++) {\n"
            "\t\tfor (j = 0; j < 2; j++) {\n"
            "\t\t\tret = read_sys_metadata_field(0x9900000300000500 + i * 2 + j, &val);\n"
        ) in source
    values = cbuild.default_values(cat)
    dump = cbuild.build_and_run(cat, tmp_path, values, {0x9100000100000009: -EIO})
    assert dump.ret == -EIO and dump.reads[-1] == 0x9100000100000009
    dump = cbuild.build_and_run(cat, tmp_path / "ok", values)
    assert (dump.ret, dump.members) == (0, cbuild.expected(cat, values))


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_helpers_are_init_only_when_every_caller_is(shipped, flavor):
    source = emit(shipped, "map")[kernel_c.SOURCE_PATH]
    # the version and handoff readers run after init: the scalar helpers they call must too
    assert "\nstatic void tdx_store_member(" in source
    assert "\nstatic int read_sys_metadata_multi(" in source
    assert "\nstatic __init int read_sys_metadata_array(" in source  # td_conf only
    every_init = with_structs(shipped)
    source = emit(
        cbuild.with_kernel(every_init, structs=shipped.settings.kernel.structs[:-1]), "map"
    )[kernel_c.SOURCE_PATH]
    assert "\nstatic __init void tdx_store_member(" in source
    assert "\nstatic __init int read_sys_metadata_multi(" in source


def test_map_tables_name_no_index(every_struct):
    source = emit(every_struct, "map")[kernel_c.SOURCE_PATH]
    assert re.findall(r"fields\[\d", source) == []
    assert re.findall(r"read_sys_metadata_multi\([^,]+, \d", source) == []
    assert "ret = read_sys_metadata_multi(fields, ARRAY_SIZE(fields));\n" in source


# -- never collide with the kernel ----------------------------------------------------


def test_bits_the_kernel_defines_are_never_redefined(shipped):
    cat = cbuild.with_kernel(shipped, bit_defines=True)
    header = emit(cat, "functions")[kernel_c.HEADER_PATH]
    assert "#define TDX_FEATURES0_TD_MIGRATION\t\t\tBIT_ULL(0)\n" in header
    assert "TDX_FEATURES0_NO_RBP_MOD" not in header and "TDX_FEATURES0_TD_PRESERVING" not in header
    assert "#include <linux/bits.h>\n#include <linux/types.h>\n" in header


def test_a_gate_bit_the_kernel_lacks_is_defined(small):
    header = emit(small, "functions")[kernel_c.HEADER_PATH]
    assert (
        "/* Bit definitions of TDX_FEATURES0 metadata field */\n"
        "#define TDX_FEATURES0_DYNAMIC_PAMT\tBIT_ULL(36)\n"
    ) in header
    tree = (("TDX_FEATURES0_DYNAMIC_PAMT", ("BIT(36)", "arch/x86/virt/vmx/tdx/tdx.h:9")),)
    header = emit(small, "functions", tree)[kernel_c.HEADER_PATH]
    assert "DYNAMIC_PAMT" not in header and "<linux/bits.h>" not in header


@pytest.mark.parametrize(
    "name,value,message",
    [
        (
            "TDX_FEATURES0_DYNAMIC_PAMT",
            "BIT(35)",
            "TDX_FEATURES0_DYNAMIC_PAMT is defined by the kernel "
            "at tdx.h:3 as BIT(35); the generated code would redefine it as BIT_ULL(36)",
        ),
        (
            "MD_FIELD_ID_WORD",
            "0x9000000200000004ULL",
            "MD_FIELD_ID_WORD is defined by the kernel at "
            "tdx.h:3 as 0x9000000200000004ULL; the generated code would redefine it as "
            "0x9000000200000003ULL",
        ),
        (
            "tdx_sys_info_tables",
            "a type",
            "tdx_sys_info_tables is declared by the kernel at tdx.h:3; "
            "the generated code would redefine it",
        ),
    ],
)
def test_a_name_the_kernel_defines_otherwise_is_refused(small, name, value, message):
    with pytest.raises(kernel_c.NameClash) as exc:
        emit(small, "map", ((name, (value, "tdx.h:3")),))
    assert str(exc.value) == message


def test_an_id_define_the_kernel_has_is_used(small):
    tree = (("MD_FIELD_ID_WORD", ("0x9000000200000003ULL", "tdx.h:3")),)
    source = emit(small, "map", tree)[kernel_c.SOURCE_PATH]
    assert "#define MD_FIELD_ID_WORD" not in source and "TD_SYSINFO_MAP(WORD," in source
