"""Linux kernel C: tdx_global_metadata.h (structs) and .c (readers).

Two flavours of reader, chosen by ctx.kernel_flavor:
  functions  one read per element, the kernel's own generated file; with the
             shipped settings both files are the kernel's byte for byte;
  map        TD_SYSINFO_MAP tables read by generated helpers (the 2024
             "metadata reading tweaks" design).
Both express from the schema what the kernel once added by hand: array
capacity, count guards, __init, feature and release gates (or the kernel
helper standing for a gate), named ids, the print after the read and
required features.  Every line is written by one c_writer.CodeWriter.
The .c is #included by tdx.c after read_sys_metadata_field(), so it does
not compile alone.

Names the kernel already defines (KERNEL_DEFINES, and with --kernel-tree
what the tree's TDX files define) are never redefined: a bit or id define
the kernel has is used as it is, any other clash is an error.

Over 400 lines on purpose: both flavours share one model of the files (structs,
readers, gates, the top reader), and splitting them would put that model in two places.
"""

from __future__ import annotations

import re
from itertools import groupby

from codegen.abi import fieldid
from codegen.abi.release import VERSION_FIELDS
from codegen.emitters.c_writer import CodeWriter
from codegen.emitters.render import banner_lines
from codegen.outputs.writer import Output
from codegen.spec import names
from codegen.spec.model import Catalogue, Field, Gate, KernelPrint, Struct

HEADER_PATH, SOURCE_PATH = names.KERNEL_HEADER, names.KERNEL_SOURCE
FLAVORS = ("map", "functions")

# What mainline Linux defines in the files the generated ones are used with, so the
# generated code never redefines it, with or without --kernel-tree.  Source: torvalds/linux
# at the TDX module runtime update series (arch/x86/include/asm/tdx.h with
# TDX_VERSION_FMT and tdx_supports_runtime_update(); arch/x86/virt/vmx/tdx/tdx.h of v6.16
# still holds TDX_FEATURES0_NO_RBP_MOD as BIT(18)).  name -> (value, where).
KERNEL_DEFINES = {
    "TDX_FEATURES0_TD_PRESERVING": ("BIT_ULL(1)", "mainline arch/x86/include/asm/tdx.h"),
    "TDX_FEATURES0_NO_RBP_MOD": ("BIT_ULL(18)", "mainline arch/x86/include/asm/tdx.h"),
    "TDX_VERSION_FMT": ('"%u.%u.%02u"', "mainline arch/x86/include/asm/tdx.h"),
    "TDX_VERSION_SHIFT": ("16", "mainline arch/x86/virt/vmx/tdx/tdx.h"),
    "TDMR_INFO_ALIGNMENT": ("512", "mainline arch/x86/virt/vmx/tdx/tdx.h"),
    "TDMR_NR_WARN": ("4", "mainline arch/x86/virt/vmx/tdx/tdx.h"),
}


class NameClash(ValueError):
    """A name the generated code needs is defined differently by the kernel."""


def emit(ctx) -> list[Output]:
    if ctx.kernel_flavor not in FLAVORS:
        raise ValueError(
            f"unknown kernel C flavour '{ctx.kernel_flavor}' (expected {' or '.join(FLAVORS)})"
        )
    k = _Kernel(
        ctx.catalogue,
        ctx.kernel_flavor,
        {**KERNEL_DEFINES, **dict(getattr(ctx, "kernel_names", ()) or ())},
    )
    provenance = []
    if k.opts.provenance:
        provenance = ["", *banner_lines(ctx)]
    return [
        Output(HEADER_PATH, k.header([*k.opts.header_banner, *provenance])),
        Output(SOURCE_PATH, k.source([*k.opts.source_banner, *provenance])),
    ]


def bit_define(f: Field, bit: str) -> str:
    return names.bit_define(f.name, bit)


def gate_text(gate: Gate) -> str:
    if gate.release is not None:
        return f"the module release is {gate.release} or later"
    return f"{gate.feature_field}.{gate.feature_bit} is set"


def documented(description: str, gate: Gate | None) -> str:
    """A struct's or member's kernel-doc text: its description, and when it is read."""
    return description + (f" Read only when {gate_text(gate)}." if gate is not None else "")


_BIT_VALUE = re.compile(r"^\(?\s*(?:BIT|BIT_ULL|_BITUL|_BITULL)\s*\(\s*(\d+)\s*\)\s*\)?$")
_INT_VALUE = re.compile(r"^\(?\s*(0[xX][0-9A-Fa-f]+|\d+)(?:ULL|UL|U|LL|L)?\s*\)?$")


def _same_value(kernel: str, ours: str) -> bool:
    """Whether the kernel's define has our value (BIT(18) is BIT_ULL(18); 0x..ULL is 0x..)."""
    for pattern in (_BIT_VALUE, _INT_VALUE):
        a, b = pattern.match(kernel.strip()), pattern.match(ours)
        if a and b:
            return int(a.group(1), 0) == int(b.group(1), 0)
    return kernel.strip() == ours


class _Kernel:
    def __init__(self, catalogue: Catalogue, flavor: str, kernel_names: dict):
        self.cat = catalogue
        self.opts = catalogue.settings.kernel
        self.flavor = flavor
        self.kernel_names = kernel_names
        self.named = flavor == "map" or self.opts.named_ids
        self.structs = catalogue.output_structs("kernel")
        self.so = {s.name: self.opts.struct_options(s.name) for s in self.structs}
        self.fields = {s.name: catalogue.output_fields("kernel", s) for s in self.structs}
        # a struct all of whose fields are excluded is declared but has nothing to read
        self.read_structs = [s for s in self.structs if self.fields[s.name]]
        self.called = [s for s in self.read_structs if self.so[s.name].in_sysinfo]
        every = [f for s in self.structs for f in self.fields[s.name]]
        self.by_name = {f.name: f for f in every}
        self.defined: dict[str, str] = {}  # names this output defines -> what

    # -- names ----------------------------------------------------------------------
    def claim(self, name: str, value: str | None = None) -> bool:
        """Whether to define name: False when the kernel has it with this value."""
        theirs = self.kernel_names.get(name)
        if theirs is None:
            return True
        if value is not None and _same_value(theirs[0], value):
            return False
        kind = "declared" if theirs[0] == "a type" else "defined"
        shown = f" as {theirs[0]}" if theirs[0] and kind == "defined" else ""
        raise NameClash(
            f"{name} is {kind} by the kernel at {theirs[1]}{shown}; the generated "
            "code would redefine it" + (f" as {value}" if value is not None else "")
        )

    def used_bits(self) -> list[tuple[Field, str]]:
        """(flag field, bit name) of the gates and required features the C tests."""
        gates = [s.gate for s in self.called] + [
            f.gate for s in self.read_structs for f in self.fields[s.name]
        ]
        features = [
            g.feature
            for g in gates
            if g is not None and g.release is None and self.opts.gate_helper(g) is None
        ]
        used = [(self.by_name[n], b) for n, b in features + list(self.opts.require_features)]
        return used

    def bit_groups(self) -> list[tuple[Field, list[tuple[str, str]]]]:
        wanted = set(self.used_bits())
        groups = []
        for s in self.structs:
            for f in self.fields[s.name]:
                pairs = [
                    (bit_define(f, b.name), f"BIT_ULL({b.bit})")
                    for b in f.bits
                    if self.opts.bit_defines or (f, b.name) in wanted
                ]
                pairs = [(n, v) for n, v in pairs if self.claim(n, v)]
                if pairs:
                    groups.append((f, pairs))
        return groups

    # -- kernel-doc of the structs (struct_comments) -------------------------------------
    @staticmethod
    def struct_text(s) -> str:
        return documented(s.description, s.gate)

    def member_docs(self, s) -> list[tuple[str, str]]:
        """@member lines: the field's description, and the gate its read is under."""
        return [(f.member, documented(f.description, f.gate)) for f in self.fields[s.name]]

    # -- header -------------------------------------------------------------------------
    def header(self, banner: list[str]) -> str:
        o = self.opts
        w = CodeWriter()
        w.line("/* SPDX-License-Identifier: GPL-2.0 */")
        w.comment(banner, wrap=False)
        self.claim(o.guard)
        w.line(f"#ifndef {o.guard}")
        w.line(f"#define {o.guard}")
        groups = self.bit_groups()
        includes = list(o.includes)
        if groups and "linux/bits.h" not in includes:
            includes = sorted([*includes, "linux/bits.h"])
        w.blank()
        for inc in includes:
            w.line(f"#include <{inc}>")
        for f, pairs in groups:
            w.blank()
            w.comment(f"Bit definitions of {f.name} metadata field")
            w.defines(pairs)
        for s in self.structs:
            self.claim(s.c_name)
            w.blank()
            if o.struct_comments:
                w.kerneldoc(f"struct {s.c_name}", self.struct_text(s), self.member_docs(s))
            with w.block(f"struct {s.c_name}", tail=";"):
                for f in self.fields[s.name]:
                    w.line(f"{f.ctype} {f.declarator};")
        w.blank()
        if o.struct_comments:
            w.kerneldoc(
                "struct tdx_sys_info",
                "All TDX global metadata the kernel reads, one member per struct.",
                [
                    (self.so[s.name].member, self.struct_text(s))
                    for s in self.structs
                    if self.so[s.name].in_sysinfo
                ],
            )
        with w.block("struct tdx_sys_info", tail=";"):
            for s in self.structs:
                if self.so[s.name].in_sysinfo:
                    w.line(f"struct {s.c_name} {self.so[s.name].member};")
        w.blank()
        w.line("#endif")
        return w.text()

    # -- source ---------------------------------------------------------------------------
    def source(self, banner: list[str]) -> str:
        w = CodeWriter()
        w.line("// SPDX-License-Identifier: GPL-2.0")
        w.comment(banner, wrap=False)
        if self.named:
            pairs = [
                (names.id_define(f.name), f"{fieldid.canonical(f.id)}ULL")
                for s in self.structs
                for f in self.fields[s.name]
            ]
            pairs = [(n, v) for n, v in pairs if self.claim(n, v)]
            if pairs:
                w.blank()
                w.defines(pairs)
        if self.flavor == "map":
            self.map_helpers(w)
        self.release_helper(w)
        for s in self.read_structs:
            w.blank()
            self.reader(w, s)
        w.blank()
        self.top(w)
        return w.text()

    def id_text(self, f: Field) -> str:
        return names.id_define(f.name) if self.named else fieldid.canonical(f.id)

    def member(self, s: Struct) -> str:
        return self.so[s.name].member

    def ref(self, f: Field, here: Struct | None) -> str:
        """C expression of a member already read, from a struct reader or the top."""
        if here is not None and f.struct == here.name:
            return f"{names.c_param(here.name)}->{f.member}"
        return f"sysinfo->{self.member(self.cat.struct(f.struct))}.{f.member}"

    def gate_expr(self, gate: Gate, here: Struct | None) -> str:
        helper = self.opts.gate_helper(gate)
        if helper is not None:
            return f"{helper}(sysinfo)"
        if gate.release is not None:
            return f"tdx_module_release(sysinfo) >= {gate.release.code:#08x}"
        field, bit = gate.feature
        flag = self.by_name[field]
        return f"{self.ref(flag, here)} & {bit_define(flag, bit)}"

    def needs_sysinfo(self, s: Struct) -> bool:
        """A struct reader needs the whole sysinfo for gates or counts in other structs, a
        release gate (tdx_module_release() takes the whole sysinfo) or a gate helper."""
        return bool(self.cat.depends_on(s, "kernel")) or any(
            f.gate is not None and (f.gate.release is not None or self.opts.gate_helper(f.gate))
            for f in self.fields[s.name]
        )

    def release_users(self) -> list[bool]:
        """__init of each function that calls tdx_module_release()."""
        users = [
            self.so[s.name].init
            for s in self.read_structs
            if any(
                f.gate is not None
                and f.gate.release is not None
                and self.opts.gate_helper(f.gate) is None
                for f in self.fields[s.name]
            )
        ]
        if any(s.gate is not None and s.gate.release is not None for s in self.called):
            users.append(self.opts.top_is_init)
        return users

    def release_helper(self, w: CodeWriter) -> None:
        users = self.release_users()
        if not users:
            return
        major, minor, update = (self.ref(self.by_name[n], None) for n in VERSION_FIELDS)
        w.blank()
        w.comment("The module release as major << 16 | minor << 8 | update, for release gates.")
        self.signature(
            w, all(users), "u32", "tdx_module_release", ["const struct tdx_sys_info *sysinfo"]
        )
        with w.block(None):
            w.line(f"return (u32){major} << 16 |")
            w.line(f"       (u32){minor} << 8 |")
            w.line(f"       {update};")
        w.line("}")

    @staticmethod
    def signature(w: CodeWriter, init: bool, ret: str, name: str, params: list[str]) -> None:
        w.fill(
            f"static {'__init ' if init else ''}{ret} {name}(",
            [p + "," for p in params[:-1]] + [params[-1]],
            ")",
        )
        w.line("{")

    def params(self, s: Struct) -> list[str]:
        params = [f"struct {s.c_name} *{names.c_param(s.name)}"]
        if self.needs_sysinfo(s):
            params.append("const struct tdx_sys_info *sysinfo")
        return params

    def loop_type(self, s: Struct) -> str:
        """int, as the kernel's readers, unless a count is too wide for an int to compare."""
        wide = any(
            f.count is not None and self.by_name[f.count].member_bytes >= 4
            for f in self.fields[s.name]
        )
        return "unsigned int" if wide else "int"

    def guard(self, w: CodeWriter, f: Field, here: Struct) -> str:
        """Emit the capacity guard of a count-bounded array; return the loop bound."""
        if f.count is None:
            return str(f.num_fields)
        count = self.ref(self.by_name[f.count], here)
        w.fill("if (", [f"{count} >", f"ARRAY_SIZE({names.c_param(here.name)}->{f.member})"], ")")
        with w.block(braces=False):
            w.line("return -EINVAL;")
        return count

    # -- functions flavour: one read per element --------------------------------------
    def reader(self, w: CodeWriter, s: Struct) -> None:
        so = self.so[s.name]
        self.signature(w, so.init, "int", so.reader, self.params(s))
        with w.block(None):
            if self.flavor == "map":
                self.map_body(w, s)
            else:
                self.functions_body(w, s, so.errors == "chain")
        w.line("}")

    def functions_body(self, w: CodeWriter, s: Struct, chain: bool) -> None:
        fields = self.fields[s.name]
        loops = [
            v
            for v, used in (
                ("i", any(f.num_fields > 1 for f in fields)),
                ("j", any(f.num_elements > 1 for f in fields)),
            )
            if used
        ]
        w.line("int ret = 0;" if chain else "int ret;")
        w.line("u64 val;")
        if loops:
            w.line(f"{self.loop_type(s)} {', '.join(loops)};")
        w.line("")
        for gate, same_gate in groupby(fields, key=lambda f: f.gate):
            group = list(same_gate)
            if gate is None:
                for f in group:
                    self.read_elements(w, f, s, chain)
                continue
            # consecutive fields behind one gate share its test
            one = chain and len(group) == 1 and group[0].is_scalar and not group[0].truncates
            if not chain:
                w.blank()
            with w.block(f"if ({self.gate_expr(gate, s)})", braces=not one):
                for f in group:
                    self.read_elements(w, f, s, chain)
        if chain:
            w.line("")
            w.line("return ret;")
        else:
            w.line("return 0;")

    def read_elements(self, w: CodeWriter, f: Field, s: Struct, chain: bool) -> None:
        if not chain:
            w.blank()
        if f.truncates:
            w.comment(
                f"{f.name}: truncate = true in the schema, the {f.element_size}-byte "
                f"element is stored in a {f.ctype}."
            )
        target = f"{names.c_param(s.name)}->{f.member}"
        offset = []
        heads = []
        if f.num_fields > 1:
            bound = self.guard(w, f, s)
            heads.append(f"for (i = 0; i < {bound}; i++)")
            target += "[i]"
            offset.append("i" if f.num_elements == 1 else f"i * {f.num_elements}")
        if f.num_elements > 1:
            heads.append(f"for (j = 0; j < {f.num_elements}; j++)")
            target += "[j]"
            offset.append("j")
        id_expr = " + ".join([self.id_text(f), *offset])
        value = f"({f.ctype})val" if f.truncates else "val"

        def read():
            if chain:
                head = f"if (!ret && !(ret = read_sys_metadata_field({id_expr}, &val)))"
                if self.named:  # the kernel's own lines (raw ids) are never broken
                    w.fill(
                        "if (!ret && !(ret = read_sys_metadata_field(",
                        [f"{id_expr},", "&val"],
                        ")))",
                    )
                else:
                    w.line(head)
                with w.block(braces=False):
                    w.fill(f"{target} = ", [value], ";")
                return
            w.fill("ret = read_sys_metadata_field(", [f"{id_expr},", "&val"], ");")
            w.line("if (ret)")
            with w.block(braces=False):
                w.line("return ret;")
            w.line("")
            w.fill(f"{target} = ", [value], ";")

        def nest(rest):
            if not rest:
                read()
                return
            with w.block(rest[0], braces=not chain):
                nest(rest[1:])

        nest(heads)

    # -- map flavour: TD_SYSINFO_MAP tables read by helpers ---------------------------------
    def map_users(self, scalar: bool | None) -> list[bool]:
        """__init of the readers using a helper (scalar tables, arrays, or either)."""
        return [
            self.so[s.name].init
            for s in self.read_structs
            if any(scalar is None or f.is_scalar == scalar for f in self.fields[s.name])
        ]

    def map_helpers(self, w: CodeWriter) -> None:
        lo, width = next((lo, n) for name, lo, n in fieldid.LAYOUT if name == "ELEMENT_SIZE_CODE")
        hi = lo + width - 1
        for name in (
            "MD_FIELD_ID_ELE_SIZE",
            "TD_SYSINFO_MAP",
            "TD_SYSINFO_MAP_TRUNCATE",
            "tdx_metadata_field_mapping",
        ):
            self.claim(name)
        w.blank()
        w.comment(
            f"Element size in bytes encoded in a field id (ELEMENT_SIZE_CODE, bits {hi}:{lo})."
        )
        w.macro(
            "MD_FIELD_ID_ELE_SIZE(_field_id)",
            [f"(1ULL << (((_field_id) & GENMASK_ULL({hi}, {lo})) >> {lo}))"],
        )
        w.blank()
        w.comment(
            "Where one field is read to: its id, its member (the first element) and "
            "the member's size."
        )
        with w.block("struct tdx_metadata_field_mapping", tail=";"):
            w.line("u64 field_id;")
            w.line("void *member;")
            w.line("int size;")
        w.blank()
        w.comment(
            "An entry for the member at _member; the build fails when the field's "
            "element does not fit."
        )
        w.macro(
            "TD_SYSINFO_MAP(_field_id, _member)",
            [
                "{ .field_id = MD_FIELD_ID_##_field_id,",
                "  .member   = (_member),",
                "  .size     = sizeof((_member)[0]) +",
                "\t      BUILD_BUG_ON_ZERO(MD_FIELD_ID_ELE_SIZE(MD_FIELD_ID_##_field_id) >",
                "\t\t\t\tsizeof((_member)[0])) }",
            ],
        )
        w.blank()
        w.comment(
            "An entry of a field the schema marks truncate = true: the member keeps the low bytes."
        )
        w.macro(
            "TD_SYSINFO_MAP_TRUNCATE(_field_id, _member)",
            [
                "{ .field_id = MD_FIELD_ID_##_field_id,",
                "  .member   = (_member),",
                "  .size     = sizeof((_member)[0]) }",
            ],
        )
        either, scalars, arrays = self.map_users(None), self.map_users(True), self.map_users(False)
        if either:
            w.blank()
            w.comment("Store an element in a member of 1, 2, 4 or 8 bytes.")
            self.signature(
                w, all(either), "void", "tdx_store_member", ["void *member", "int size", "u64 val"]
            )
            with w.block(None), w.block("switch (size)"):
                w.level -= 1
                for case, ctype in (
                    ("case 1:", "u8"),
                    ("case 2:", "u16"),
                    ("case 4:", "u32"),
                    ("default:", "u64"),
                ):
                    w.line(case)
                    with w.block(None):
                        w.line(f"*({ctype} *)member = val;")
                        w.line("break;")
                w.level += 1
            w.line("}")
        if scalars:
            w.blank()
            w.comment("Read each field of a mapping table into its member.")
            self.signature(
                w,
                all(scalars),
                "int",
                "read_sys_metadata_multi",
                ["const struct tdx_metadata_field_mapping *fields", "int nr_fields"],
            )
            with w.block(None):
                w.line("u64 val;")
                w.line("int i, ret;")
                w.line("")
                with w.block("for (i = 0; i < nr_fields; i++)"):
                    w.line("ret = read_sys_metadata_field(fields[i].field_id, &val);")
                    w.line("if (ret)")
                    w.line("\treturn ret;")
                    w.line("tdx_store_member(fields[i].member, fields[i].size, val);")
                w.line("return 0;")
            w.line("}")
        if arrays:
            w.blank()
            w.comment(
                [
                    "Read nr_elements consecutive elements of an array field: element k "
                    "has id field_id + k and is stored k elements after the member's first "
                    "element."
                ]
            )
            self.signature(
                w,
                all(arrays),
                "int",
                "read_sys_metadata_array",
                ["const struct tdx_metadata_field_mapping *field", "unsigned int nr_elements"],
            )
            with w.block(None):
                w.line("unsigned int k;")
                w.line("u64 val;")
                w.line("int ret;")
                w.line("")
                with w.block("for (k = 0; k < nr_elements; k++)"):
                    w.line("ret = read_sys_metadata_field(field->field_id + k, &val);")
                    w.line("if (ret)")
                    w.line("\treturn ret;")
                    w.line("tdx_store_member(field->member + k * field->size, field->size, val);")
                w.line("return 0;")
            w.line("}")

    @staticmethod
    def table_name(gate: Gate | None) -> str:
        if gate is None:
            return "fields"
        if gate.release is not None:
            r = gate.release
            return f"fields_release_{r.major}_{r.minor}_{r.update:02d}"
        return f"fields_{gate.feature_field}_{gate.feature_bit}".lower()

    def entry(self, w: CodeWriter, s: Struct, f: Field, head: str = "", tail: str = ",") -> None:
        macro = "TD_SYSINFO_MAP_TRUNCATE" if f.truncates else "TD_SYSINFO_MAP"
        member = f"{names.c_param(s.name)}->{f.member}"
        where = f"&{member}" if not f.dims else member + "[0]" * (len(f.dims) - 1)
        w.fill(f"{head}{macro}(", [f"{f.name},", where], ")" + tail)

    def map_body(self, w: CodeWriter, s: Struct) -> None:
        """One table per gate of the struct's scalars, one entry per array; then the reads."""
        fields = self.fields[s.name]
        tables: dict[Gate | None, list[Field]] = {}
        for f in fields:
            if f.is_scalar:
                tables.setdefault(f.gate, []).append(f)
        for gate, group in tables.items():
            with w.block(
                f"const struct tdx_metadata_field_mapping {self.table_name(gate)}[] =", tail=";"
            ):
                for f in group:
                    self.entry(w, s, f)
        arrays = [f for f in fields if not f.is_scalar]
        for f in arrays:
            w.line(f"const struct tdx_metadata_field_mapping map_{f.member} =")
            with w.block(braces=False):
                self.entry(w, s, f, tail=";")
        steps: list[tuple[Gate | None, object]] = [(g, g) for g in tables] + [
            (f.gate, f) for f in arrays
        ]
        tail = steps[-1][0] is None  # the last read returns the helper's result itself
        if len(steps) > 1 or not tail:
            w.line("int ret;")
        w.line("")
        for n, (gate, what) in enumerate(steps):
            if n:
                w.blank()
            if gate is None:
                self.map_step(w, s, what, tail and n == len(steps) - 1)
                continue
            with w.block(f"if ({self.gate_expr(gate, s)})"):
                self.map_step(w, s, what, False)
        if not tail:
            w.blank()
            w.line("return 0;")

    def map_step(self, w: CodeWriter, s: Struct, what, tail: bool) -> None:
        lhs = "return " if tail else "ret = "
        if isinstance(what, Field):
            f = what
            bound = self.guard(w, f, s)
            if f.num_elements > 1:
                bound = f"{bound} * {f.num_elements}" if f.count else str(f.num_ids)
            w.fill(f"{lhs}read_sys_metadata_array(", [f"&map_{f.member},", bound], ");")
        else:
            table = self.table_name(what)
            w.fill(f"{lhs}read_sys_metadata_multi(", [f"{table},", f"ARRAY_SIZE({table})"], ");")
        if not tail:
            w.line("if (ret)")
            w.line("\treturn ret;")

    # -- get_tdx_sys_info(), shared by both flavours ----------------------------------------
    def top(self, w: CodeWriter) -> None:
        o = self.opts
        self.signature(
            w, o.top_is_init, "int", "get_tdx_sys_info", ["struct tdx_sys_info *sysinfo"]
        )
        with w.block(None):
            if o.errors == "chain":
                self.top_chain(w)
            else:
                self.top_return(w)
        w.line("}")

    def print_after(self) -> int | None:
        if self.opts.print is None:
            return None
        names = [s.name for s in self.called]
        return max(names.index(sn) for sn, _ in self.opts.print.members)

    def requires(self) -> dict[str, list[tuple[Field, str]]]:
        out: dict[str, list[tuple[Field, str]]] = {}
        for name, bit in self.opts.require_features:
            f = self.by_name[name]
            out.setdefault(f.struct, []).append((f, bit))
        return out

    def call(self, s: Struct) -> str:
        args = [f"&sysinfo->{self.member(s)}"] + (["sysinfo"] if self.needs_sysinfo(s) else [])
        return f"{self.so[s.name].reader}({', '.join(args)})"

    def top_chain(self, w: CodeWriter) -> None:
        w.line("int ret = 0;")
        w.line("")
        after, requires, p = self.print_after(), self.requires(), self.opts.print
        apart = False  # the previous statement stands apart, with a blank line after it
        for i, s in enumerate(self.called):
            if s.gate is not None:
                w.blank()
                w.line(f"if ({self.gate_expr(s.gate, None)})")
                w.line(f"\tret = ret ?: {self.call(s)};")
                apart = True
            else:
                if apart:
                    w.blank()
                w.fill("ret = ret ?: ", [self.call(s)], ";")
                apart = False
            if p is not None and after == i:
                w.blank()
                if p.when == "ok":
                    w.line("if (!ret)")
                    with w.block(braces=False):
                        self.pr_info(w, p)
                else:
                    self.pr_info(w, p)
                apart = True
            for f, bit in requires.get(s.name, []):
                w.blank()
                with w.block(f"if (!ret && !({self.ref(f, None)} & {bit_define(f, bit)}))"):
                    w.line(f'pr_err("TDX module lacks required feature {f.name}.{bit}\\n");')
                    w.line("ret = -EINVAL;")
                apart = True
        w.blank()
        w.line("return ret;")

    def top_return(self, w: CodeWriter) -> None:
        called = self.called
        if not called:
            w.line("return 0;")
            return
        after, requires, p = self.print_after(), self.requires(), self.opts.print
        w.line("int ret;")
        for i, s in enumerate(called):
            w.blank()
            if i == len(called) - 1 and s.gate is None and after != i and s.name not in requires:
                w.fill("return ", [self.call(s)], ";")  # the last read needs no check of its own
                return
            if s.gate is not None:
                with w.block(f"if ({self.gate_expr(s.gate, None)})"):
                    self.checked_call(w, s)
            else:
                self.checked_call(w, s)
            if p is not None and after == i:
                w.blank()
                self.pr_info(w, p)
            for f, bit in requires.get(s.name, []):
                w.blank()
                with w.block(f"if (!({self.ref(f, None)} & {bit_define(f, bit)}))"):
                    w.line(f'pr_err("TDX module lacks required feature {f.name}.{bit}\\n");')
                    w.line("return -EINVAL;")
        w.blank()
        w.line("return 0;")

    def checked_call(self, w: CodeWriter, s: Struct) -> None:
        w.fill("ret = ", [self.call(s)], ";")
        w.line("if (ret)")
        w.line("\treturn ret;")

    def pr_info(self, w: CodeWriter, p: KernelPrint) -> None:
        members = [next(f for f in self.fields[sn] if f.member == m) for sn, m in p.members]
        fmt = p.format or " ".join("0x%llx" if f.ctype == "u64" else "%u" for f in members)
        if re.fullmatch(r"[A-Za-z]\w*", fmt):  # a macro the kernel defines
            text = " ".join(([f'"{p.prefix}"'] if p.prefix else []) + [fmt, '"\\n"'])
        else:
            text = f'"{p.prefix}{fmt}\\n"'
        args = [self.ref(f, None) for f in members]
        w.fill(
            "pr_info(",
            [text + ","] + [a + "," for a in args[:-1]] + [args[-1]],
            ");",
            one_per_line=True,
        )
