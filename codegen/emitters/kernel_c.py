"""Linux kernel C: tdx_global_metadata.h (structs, flag bits) and .c (readers).

Two flavours of reader, chosen by ctx.kernel_flavor:
  map        TD_SYSINFO_MAP tables read by generated helpers (the 2024
             "metadata reading tweaks" design);
  functions  one read per element, the style of the kernel's generated file.
Both express from the schema what the kernel once added by hand: array
capacity, count guards, __init, feature and release gates, named ids, the
print after the read and required features.  The .c is #included by tdx.c
after read_sys_metadata_field(), so it does not compile alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from itertools import groupby

from codegen.abi import fieldid
from codegen.emitters import c_writer
from codegen.emitters.c_writer import CodeWriter
from codegen.emitters.render import banner_lines, render
from codegen.spec import names
from codegen.spec.model import Catalogue, Field, Gate, Struct
from codegen.abi.release import VERSION_FIELDS
from codegen.outputs.writer import Output

HEADER_PATH, SOURCE_PATH = names.KERNEL_HEADER, names.KERNEL_SOURCE
FLAVORS = ("map", "functions")
SOURCE_TITLE = ["Readers of TDX global metadata into struct tdx_sys_info.", "",
                "This file does not compile on its own: tdx.c includes it after "
                "read_sys_metadata_field(), the SEAMCALL wrapper that reads one field."]


def emit(ctx) -> list[Output]:
    if ctx.kernel_flavor not in FLAVORS:
        raise ValueError(f"unknown kernel C flavour '{ctx.kernel_flavor}' "
                         f"(expected {' or '.join(FLAVORS)})")
    k = _Kernel(ctx.catalogue, ctx.kernel_flavor)
    banner = banner_lines(ctx)
    header = render("kernel/tdx_global_metadata.h.j2",
                    banner=c_writer.comment(["TDX global metadata structures.", "", *banner]),
                    bit_groups=k.bit_groups(), structs=k.header_structs(),
                    members=[(s.c_name, s.name) for s in k.structs])
    source = render("kernel/tdx_global_metadata.c.j2",
                    banner=c_writer.comment([*SOURCE_TITLE, "", *banner]),
                    flavor=k.flavor, init=k.init_attr, id_defines=k.id_defines(),
                    size_bits=_size_code_bits(),
                    need_multi=k.has_scalars, need_array=k.has_arrays,
                    need_release=k.has_release_gate,
                    release=k.release_members(), functions=k.functions(),
                    top=k.top_function())
    outputs = [Output(HEADER_PATH, header),
               Output(SOURCE_PATH, c_writer.align_continuations(source))]
    for out in outputs:
        bad = c_writer.problems(out.content)
        if bad:  # a layout bug in the emitter, never a schema error
            raise ValueError(f"{out.path} breaks kernel style: {'; '.join(bad[:3])}")
    return outputs


@dataclass
class _Function:
    """One generated per-struct reader."""
    name: str
    params: list[str]
    signature: list[str] = dc_field(default_factory=list)
    table: list[str] = dc_field(default_factory=list)   # map flavour: table entry lines
    locals: list[str] = dc_field(default_factory=list)
    body: list[str] = dc_field(default_factory=list)


class _Kernel:
    def __init__(self, catalogue: Catalogue, flavor: str):
        self.cat = catalogue
        self.opts = catalogue.settings.kernel
        self.flavor = flavor
        self.named = flavor == "map" or self.opts.named_ids
        self.init_attr = "__init " if self.opts.init else ""
        self.structs = catalogue.output_structs("kernel")
        self.fields = {s.name: catalogue.output_fields("kernel", s) for s in self.structs}
        # a struct all of whose fields are excluded is declared but has nothing to read
        self.read_structs = [s for s in self.structs if self.fields[s.name]]
        every = [f for s in self.structs for f in self.fields[s.name]]
        self.by_name = {f.name: f for f in every}
        self.has_scalars = any(f.is_scalar for f in every)
        self.has_arrays = any(not f.is_scalar for f in every)
        gates = [s.gate for s in self.read_structs] + [f.gate for f in every]
        self.has_release_gate = any(g is not None and g.release is not None for g in gates)

    # -- header -------------------------------------------------------------
    def bit_groups(self) -> list[dict]:
        groups = []
        for s in self.structs:
            for f in self.fields[s.name]:
                if f.bits:
                    pairs = [(bit_define(f, b.name), f"BIT_ULL({b.bit})") for b in f.bits]
                    groups.append({"comment": c_writer.comment(
                        f"Named bits of {f.name} (struct {s.c_name}.{f.member})."),
                        "defines": c_writer.align_defines(pairs)})
        return groups

    def header_structs(self) -> list[dict]:
        out = []
        for s in self.structs:
            text = s.description
            if s.gate is not None:
                text += f" Read only when {gate_text(s.gate)}."
            members = []
            for f in self.fields[s.name]:
                dims = "".join(f"[{n}]" for n in f.dims)
                members.append(f"\t{f.ctype} {f.member}{dims};")
            out.append({"c_name": s.c_name, "comment": c_writer.comment(text), "members": members})
        return out

    # -- source ---------------------------------------------------------------
    def id_defines(self) -> list[str]:
        if not self.named:
            return []
        pairs = [(names.id_define(f.name), f"{fieldid.fmt(f.id)}ULL")
                 for s in self.structs for f in self.fields[s.name]]
        return c_writer.align_defines(pairs)

    def id_text(self, f: Field) -> str:
        return names.id_define(f.name) if self.named else fieldid.fmt(f.id)

    def release_members(self) -> list[str]:
        """sysinfo->struct.member of major, minor and update version (release gates)."""
        if not self.has_release_gate:
            return []
        return [f"sysinfo->{self.by_name[n].struct}.{self.by_name[n].member}"
                for n in VERSION_FIELDS]

    def ref(self, f: Field, here: Struct | None) -> str:
        """C expression of a member already read, from a struct reader or the top."""
        if here is not None and f.struct == here.name:
            return f"sysinfo_{here.name}->{f.member}"
        return f"sysinfo->{f.struct}.{f.member}"

    def gate_expr(self, gate: Gate, here: Struct | None) -> str:
        if gate.release is not None:
            return f"tdx_module_release(sysinfo) >= {gate.release.code:#08x}"
        flag = self.by_name[gate.feature_field]
        return f"{self.ref(flag, here)} & {bit_define(flag, gate.feature_bit)}"

    def needs_sysinfo(self, s: Struct) -> bool:
        """A struct reader needs the whole sysinfo for gates or counts in other structs
        (tdx_module_release() takes the whole sysinfo)."""
        return bool(self.cat.depends_on(s, "kernel")) or any(
            f.gate is not None and f.gate.release is not None for f in self.fields[s.name])

    def functions(self) -> list[_Function]:
        out = []
        for s in self.read_structs:
            params = [f"struct {s.c_name} *sysinfo_{s.name}"]
            if self.needs_sysinfo(s):
                params.append("const struct tdx_sys_info *sysinfo")
            fn = _Function(names.c_reader(s.name), params)
            fn.signature = self.signature(fn)
            if self.flavor == "map":
                self.map_body(s, fn)
            else:
                self.functions_body(s, fn)
            out.append(fn)
        return out

    def signature(self, fn: _Function) -> list[str]:
        w = CodeWriter(level=0)
        w.fill(f"static {self.init_attr}int {fn.name}(",
               [p + "," for p in fn.params[:-1]] + [fn.params[-1]], ")")
        return w.lines

    def guard(self, w: CodeWriter, f: Field, here: Struct) -> str:
        """Emit the capacity guard of a count-bounded array; return the loop bound."""
        if f.count is None:
            return str(f.num_fields)
        count = self.ref(self.by_name[f.count], here)
        w.fill("if (", [f"{count} >", f"ARRAY_SIZE(sysinfo_{here.name}->{f.member})"], ")")
        with w.block(braces=False):
            w.line("return -EINVAL;")
        return count

    @staticmethod
    def store(f: Field, value: str) -> str:
        if f.truncates:
            return f"({f.ctype}){value}"
        return value

    # functions flavour: one read per element
    def functions_body(self, s: Struct, fn: _Function) -> None:
        w = CodeWriter()
        loops = set()
        for gate, fields in groupby(self.fields[s.name], key=lambda f: f.gate):
            if gate is not None:  # consecutive fields behind one gate share its test
                with w.block(f"if ({self.gate_expr(gate, s)})"):
                    for f in fields:
                        self.read_elements(w, f, s, loops)
            else:
                for f in fields:
                    self.read_elements(w, f, s, loops)
        w.line("")
        w.line("return 0;")
        fn.locals = ["u64 val;"]
        if loops:
            fn.locals.append(f"unsigned int {', '.join(sorted(loops))};")
        fn.locals.append("int ret;")
        fn.body = w.lines

    def read_elements(self, w: CodeWriter, f: Field, s: Struct, loops: set) -> None:
        if f.truncates:
            w.extend(c_writer.comment(f"{f.name}: truncate = true in the schema, the "
                                     f"{f.element_size}-byte element is stored in a {f.ctype}.",
                                     w.level))
        target = f"sysinfo_{s.name}->{f.member}"
        offset = []
        if f.num_fields > 1:
            bound = self.guard(w, f, s)
            loops.add("i")
            target += "[i]"
            offset.append("i" if f.num_elements == 1 else f"i * {f.num_elements}")
        if f.num_elements > 1:
            loops.add("j")
            target += "[j]"
            offset.append("j")
        id_expr = " + ".join([self.id_text(f)] + offset)
        heads = []
        if f.num_fields > 1:
            heads.append(f"for (i = 0; i < {bound}; i++)")
        if f.num_elements > 1:
            heads.append(f"for (j = 0; j < {f.num_elements}; j++)")
        self._nested(w, heads, lambda: self._read_one(w, id_expr, target, f))

    def _nested(self, w: CodeWriter, heads: list[str], inner) -> None:
        if not heads:
            inner()
            return
        with w.block(heads[0]):
            self._nested(w, heads[1:], inner)

    def _read_one(self, w: CodeWriter, id_expr: str, target: str, f: Field) -> None:
        w.fill("ret = read_sys_metadata_field(", [f"{id_expr},", "&val"], ");")
        w.line("if (ret)")
        with w.block(braces=False):
            w.line("return ret;")
        w.fill(f"{target} = ", [self.store(f, "val")], ";")

    # map flavour: a TD_SYSINFO_MAP table per struct, read in steps
    def map_body(self, s: Struct, fn: _Function) -> None:
        fields = self.fields[s.name]
        for f in fields:
            elem = f.member + "[0]" * len(f.dims)
            macro = "TD_SYSINFO_MAP"
            if f.truncates:
                macro = "TD_SYSINFO_MAP_TRUNCATE"
            w = CodeWriter(level=2)
            w.fill(f"{macro}(", [f"{f.name},", f"struct {s.c_name},", elem], "),")
            fn.table.extend(w.lines)
        steps = self.map_steps(fields)
        w = CodeWriter()
        for n, (kind, gate, indexes) in enumerate(steps):
            if gate is not None:
                with w.block(f"if ({self.gate_expr(gate, s)})"):
                    self.map_step(w, s, kind, indexes)
            else:
                self.map_step(w, s, kind, indexes, tail=n == len(steps) - 1)
        if steps[-1][1] is not None:
            w.line("")
            w.line("return 0;")
        fn.locals = ["int ret;"] if len(steps) > 1 or steps[-1][1] is not None else []
        fn.body = w.lines

    @staticmethod
    def map_steps(fields: tuple[Field, ...]) -> list[tuple[str, Gate | None, list[int]]]:
        """Consecutive scalars with the same gate share one multi read; arrays read alone."""
        steps: list[tuple[str, Gate | None, list[int]]] = []
        for i, f in enumerate(fields):
            kind = "multi" if f.is_scalar else "array"
            if kind == "multi" and steps and steps[-1][0] == "multi" and steps[-1][1] == f.gate:
                steps[-1][2].append(i)
            else:
                steps.append((kind, f.gate, [i]))
        return steps

    def map_step(self, w: CodeWriter, s: Struct, kind: str, indexes: list[int],
                 tail: bool = False) -> None:
        """One read step; the tail step returns the helper's result itself."""
        first = indexes[0]
        table = "fields" if first == 0 else f"&fields[{first}]"
        lhs = "return " if tail else "ret = "
        if kind == "multi":
            nr = len(indexes)
            whole = nr == len(self.fields[s.name])
            w.fill(f"{lhs}read_sys_metadata_multi(",
                   [f"{table},", "ARRAY_SIZE(fields)," if whole else f"{nr},",
                    f"sysinfo_{s.name}"], ");")
        else:
            f = self.fields[s.name][first]
            bound = self.guard(w, f, s)
            if f.num_elements > 1:
                bound = f"{bound} * {f.num_elements}" if f.count else str(f.num_ids)
            w.fill(f"{lhs}read_sys_metadata_array(",
                   [f"{table},", f"{bound},", f"sysinfo_{s.name}"], ");")
        if tail:
            return
        w.line("if (ret)")
        with w.block(braces=False):
            w.line("return ret;")

    # get_tdx_sys_info(), shared by both flavours
    def top_function(self) -> dict:
        w = CodeWriter()
        structs = self.read_structs
        if not structs:
            return {"locals": [], "body": ["\treturn 0;"]}
        print_after = max((structs.index(self.cat.struct(sn)) for sn, _ in self.opts.print),
                          default=None)
        requires: dict[str, list[tuple[str, str]]] = {}
        for field_name, bit in self.opts.require_features:
            requires.setdefault(self.by_name[field_name].struct, []).append((field_name, bit))
        for i, s in enumerate(structs):
            args = [f"&sysinfo->{s.name}"]
            if self.needs_sysinfo(s):
                args.append("sysinfo")
            call = f"{names.c_reader(s.name)}({', '.join(args)});"
            if i:
                w.line("")
            if i == len(structs) - 1 and s.gate is None and print_after != i \
                    and s.name not in requires:
                w.line(f"return {call}")   # the last read needs no check of its own
                return {"locals": ["int ret;"] if i else [], "body": w.lines}
            if s.gate is not None:
                with w.block(f"if ({self.gate_expr(s.gate, None)})"):
                    self._call(w, call)
            else:
                self._call(w, call)
            if print_after == i:
                w.line("")
                self._print(w)
            for field_name, bit in requires.get(s.name, []):
                flag = self.by_name[field_name]
                w.line("")
                with w.block(f"if (!({self.ref(flag, None)} & {bit_define(flag, bit)}))"):
                    w.line(f'pr_err("TDX module lacks required feature {field_name}.{bit}\\n");')
                    w.line("return -EINVAL;")
        w.line("")
        w.line("return 0;")
        return {"locals": ["int ret;"], "body": w.lines}

    @staticmethod
    def _call(w: CodeWriter, call: str) -> None:
        w.line(f"ret = {call}")
        w.line("if (ret)")
        with w.block(braces=False):
            w.line("return ret;")

    def _print(self, w: CodeWriter) -> None:
        fmt, args = [], []
        for sname, member in self.opts.print:
            f = next(f for f in self.fields[sname] if f.member == member)
            fmt.append(f"{sname}.{member}=" + ("0x%llx" if f.ctype == "u64" else "%u"))
            args.append(f"sysinfo->{sname}.{member}")
        pieces = [f'"{" ".join(fmt)}\\n",'] + [a + "," for a in args[:-1]] + [args[-1]]
        w.fill("pr_info(", pieces, ");")


def _size_code_bits() -> tuple[int, int]:
    """(high, low) bit of ELEMENT_SIZE_CODE, for the C macro that decodes it."""
    lo, width = next((lo, w) for name, lo, w in fieldid.LAYOUT if name == "ELEMENT_SIZE_CODE")
    return lo + width - 1, lo


def bit_define(f: Field, bit: str) -> str:
    return names.bit_define(f.name, bit)


def gate_text(gate: Gate) -> str:
    if gate.release is not None:
        return f"the module release is {gate.release} or later"
    return f"{gate.feature_field}.{gate.feature_bit} is set"
