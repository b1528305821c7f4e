"""codegen.evolve.kernel_reader: every style of tdx_global_metadata.{c,h}, read statement by statement.

The files here are written by the tests in the shapes kernel trees use
(generated readers, hand-edited early-return readers, feature-bit and
helper gates, named id defines, the map flavour), never copied from a tree.
"""

from codegen.evolve.kernel_reader import Read, read_files

HEADER = """\
/* SPDX-License-Identifier: GPL-2.0 */
/* Test header. */
#ifndef _TEST_TDX_GLOBAL_METADATA_H
#define _TEST_TDX_GLOBAL_METADATA_H

#include <linux/types.h>

struct tdx_sys_info_a {
\tu16 first;
\tu64 table[16];
\tu64 pairs[16][2];
\tu16 count;
};

struct tdx_sys_info_b {
\tu32 only;
};

struct tdx_sys_info {
\tstruct tdx_sys_info_a a;
\tstruct tdx_sys_info_b bee;
};

#endif
"""

SOURCE = """\
// SPDX-License-Identifier: GPL-2.0
/*
 * Test readers.
 */

#define MD_FIELD_ID_ONLY\t\t0x8800000200000001ULL

static __init int get_tdx_sys_info_a(struct tdx_sys_info_a *sysinfo_a)
{
\tint ret = 0;
\tu64 val;
\tint i, j;

\tif (!ret && !(ret = read_sys_metadata_field(0x9100000100000008, &val)))
\t\tsysinfo_a->first = val;
\tif (!ret && !(ret = read_sys_metadata_field(0x9100000100000009, &val)))
\t\tsysinfo_a->count = val;
\tif (sysinfo_a->count > ARRAY_SIZE(sysinfo_a->table))
\t\treturn -EINVAL;
\tfor (i = 0; i < sysinfo_a->count; i++)
\t\tif (!ret && !(ret = read_sys_metadata_field(0x9100000300000400 + i, &val)))
\t\t\tsysinfo_a->table[i] = val;
\tfor (i = 0; i < sysinfo_a->count; i++)
\t\tfor (j = 0; j < 2; j++)
\t\t\tif (!ret && !(ret = read_sys_metadata_field(0x9100000300000500 + i * 2 + j, &val)))
\t\t\t\tsysinfo_a->pairs[i][j] = val;

\treturn ret;
}

static int get_tdx_sys_info_b(struct tdx_sys_info_b *b)
{
\tint ret;
\tu64 val;

\tret = read_sys_metadata_field(MD_FIELD_ID_ONLY, &val);
\tif (ret)
\t\treturn ret;
\tb->only = (u32)val;

\treturn 0;
}

static __init int get_tdx_sys_info(struct tdx_sys_info *sysinfo)
{
\tint ret = 0;

\tret = ret ?: get_tdx_sys_info_a(&sysinfo->a);

\tpr_info("Module a: %u\\n",
\t\tsysinfo->a.first);

\tif (sysinfo->features.tdx_features0 & TDX_FEATURES0_B)
\t\tret = ret ?: get_tdx_sys_info_b(&sysinfo->bee);
\tif (tdx_supports_b(sysinfo))
\t\tret = ret ?: get_tdx_sys_info_b(&sysinfo->bee);

\treturn ret;
}
"""


def read(header=HEADER, source=SOURCE):
    return read_files("h.h", header, "s.c", source)


def test_header_structs_members_guard_includes_and_banner():
    tf = read()
    assert tf.header_banner == ["/* SPDX-License-Identifier: GPL-2.0 */", "/* Test header. */"]
    assert tf.guard == "_TEST_TDX_GLOBAL_METADATA_H"
    assert tf.includes == ["linux/types.h"]
    assert list(tf.structs) == ["tdx_sys_info_a", "tdx_sys_info_b", "tdx_sys_info"]
    a = tf.structs["tdx_sys_info_a"]
    assert [(m.name, m.ctype, m.dims, m.line) for m in a.members] == [
        ("first", "u16", (), 9),
        ("table", "u64", ("16",), 10),
        ("pairs", "u64", ("16", "2"), 11),
        ("count", "u16", (), 12),
    ]
    assert [(m.name, m.ctype) for m in tf.structs["tdx_sys_info"].members] == [
        ("a", "struct tdx_sys_info_a"),
        ("bee", "struct tdx_sys_info_b"),
    ]
    assert tf.problems == []


def test_generated_reader_with_loops_and_guards():
    tf = read()
    a = tf.readers["get_tdx_sys_info_a"]
    assert (a.struct, a.param, a.static, a.init, a.idiom, a.array_guard, a.line) == (
        "tdx_sys_info_a",
        "sysinfo_a",
        True,
        True,
        "chain",
        True,
        8,
    )
    assert a.reads == [
        Read(0x9100000100000008, "first", 0, 1, None, None, 14),
        Read(0x9100000100000009, "count", 0, 1, None, None, 16),
        Read(0x9100000300000400, "table", 1, 1, "count", None, 21),
        Read(0x9100000300000500, "pairs", 2, 2, "count", None, 25),
    ]


def test_hand_written_early_return_reader_with_a_named_id_and_a_cast():
    tf = read()
    assert tf.source_banner == [
        "// SPDX-License-Identifier: GPL-2.0",
        "/*",
        " * Test readers.",
        " */",
    ]
    assert tf.defines == {"MD_FIELD_ID_ONLY": 0x8800000200000001}
    b = tf.readers["get_tdx_sys_info_b"]
    assert (b.param, b.init, b.idiom) == ("b", False, "early")
    assert b.reads == [Read(0x8800000200000001, "only", 0, 1, None, "u32", 36)]


def test_top_level_calls_gates_and_print():
    top = read().top
    assert (top.static, top.init, top.line) == (True, True, 44)
    assert [
        (c.reader, c.member, c.gate_bit, c.gate_member, c.gate_helper, c.line) for c in top.calls
    ] == [
        ("get_tdx_sys_info_a", "a", None, None, None, 48),
        ("get_tdx_sys_info_b", "bee", "TDX_FEATURES0_B", ("features", "tdx_features0"), None, 54),
        ("get_tdx_sys_info_b", "bee", None, None, "tdx_supports_b", 56),
    ]
    assert top.print_format == '"Module a: %u\\n"'
    assert top.print_members == [("a", "first")]
    assert top.print_after == "get_tdx_sys_info_a"


def test_statements_it_cannot_read_are_reported_with_their_line():
    source = (
        SOURCE.replace("0x9100000100000009, &val", "base + 9, &val")
        .replace("\t\tsysinfo_a->first = val;\n", "\t\tstash(val);\n")
        .replace(
            "\tret = ret ?: get_tdx_sys_info_a(&sysinfo->a);",
            "\tret = get_tdx_sys_info_a(&sysinfo->a) ?: 1;",
        )
    )
    header = HEADER.replace("\tu32 only;", "\tunsigned long only;")
    assert [str(p) for p in read(header, source).problems] == [
        "h.h:16: struct tdx_sys_info_b: cannot read member line 'unsigned long only;' (expected "
        "'<u8|u16|u32|u64> name[N];')",
        "s.c:14: this read's value is never stored in a member",
        "s.c:16: cannot read the field id expression 'base + 9' (expected 0x<id>, "
        "MD_FIELD_ID_<NAME>, '+ i' or '+ i * N + j')",
        "s.c:48: cannot read the call 'ret = get_tdx_sys_info_a(&sysinfo->a) ?: 1;' (expected "
        "'ret = ret ?: reader(&sysinfo->member);')",
    ]


def test_undefined_named_id_and_mismatched_indexing():
    source = SOURCE.replace("MD_FIELD_ID_ONLY, &val", "MD_FIELD_ID_OTHER, &val").replace(
        "\t\t\tsysinfo_a->table[i] = val;", "\t\t\tsysinfo_a->table = val;"
    )
    assert [str(p) for p in read(source=source).problems] == [
        "s.c:22: sysinfo_a->table is indexed 0 time(s) but the read at line 21 has 1 loop "
        "index(es)",
        "s.c:36: MD_FIELD_ID_OTHER is not defined in this file",
    ]


def test_map_flavour_entries():
    source = """\
// SPDX-License-Identifier: GPL-2.0
#define MD_FIELD_ID_MAX_TDMRS\t0x9100000100000008ULL

static const struct tdx_metadata_field_mapping tdmr_fields[] __initconst = {
\tTD_SYSINFO_MAP(MAX_TDMRS, max_tdmrs),
\tTD_SYSINFO_MAP_TRUNCATE(0x9100000100000009ULL, max_reserved_per_tdmr),
};
"""
    tf = read(source=source)
    assert tf.map_entries == [
        (0x9100000100000008, "max_tdmrs", 5),
        (0x9100000100000009, "max_reserved_per_tdmr", 6),
    ]
    assert tf.problems == []
