"""Semantic rules over the whole schema; builds the validated Catalogue.

Every rule has a name (the part in error[NAME]) and reports where the
problem is; duplicates point at both sites.  Rules run in linear time
(dictionaries, one sorted pass for ranges) so large schemas stay fast.
"""

from __future__ import annotations

import keyword
import re
import sys

from codegen.abi import fieldid
from codegen.spec.diagnostics import Note, Reporter
from codegen.spec import elaborate
from codegen.spec.model import (C_TYPE_BYTES, OVERRIDABLE, Bit, Catalogue, Field, Gate, MdClass,
                                Override, Settings, Source, Struct)
from codegen.abi.release import VERSION_FIELDS, Release

C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic
    _Imaginary _Noreturn _Static_assert _Thread_local asm typeof bool true false
    u8 u16 u32 u64 s8 s16 s32 s64
""".split())

# \Z, not $: "$" also matches before a trailing newline, which would leak into generated code
RE_MEMBER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)\Z")
RE_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
RE_ABI_NAME = re.compile(r"^[A-Z][A-Z0-9_]*\Z")

# Longest names whose generated lines (defines, signatures, tables) fit kernel style's
# 100 columns in every flavour; tests/test_codegen_safety.py builds names of these lengths.
MAX_NAME = {"field": 40, "bit": 32, "member": 40, "struct": 24, "c_name": 40}
# Names the generated code defines itself, which a schema name would collide with.
GENERATED_NAMES = {
    "member": frozenset({"astuple", "as_dict"}),                   # methods of runtime.Record
    "struct": frozenset({"all", "all_rd", "all_rdall"}),           # read_<struct> vs read_all*
    "c_name": frozenset({"tdx_sys_info", "tdx_metadata_field_mapping"}),
}


def check(loaded, rep: Reporter) -> Catalogue | None:
    return _Checker(loaded, rep).run()


class _Checker:
    def __init__(self, loaded, rep: Reporter):
        self.rep = rep
        self.loaded = loaded
        self.classes = [e for e in loaded.entries if e.kind == "class"]
        self.structs = [e for e in loaded.entries if e.kind == "struct"]
        self.fields = [e for e in loaded.entries if e.kind == "field"]
        settings = [e for e in loaded.entries if e.kind == "settings"]
        self.settings = settings[0] if settings else None
        # names present in the text even if their entry failed typing:
        # references to them are not reported again (no cascades).
        self.known_field_names = {e.name for e in self.fields if e.name}
        self.known_struct_names = {e.name for e in self.structs if e.name}
        self.referenced_structs = {e.raw.get("struct") for e in self.fields
                                   if isinstance(e.raw.get("struct"), str)}
        if loaded.incomplete:  # a file is unreadable: any name may be in it
            self.known_field_names = _Everything()
            self.known_struct_names = _Everything()
        self.entry_at = {(e.doc.shown, e.path): e for e in self.fields}

    def err(self, rule, message, loc, *notes):
        self.rep.error(rule, message, loc, *notes)

    # -- driver ------------------------------------------------------------
    def run(self) -> Catalogue | None:
        classes = self.check_classes()
        fields = self.check_fields(classes)
        structs_spec = self.check_structs()
        self.check_members(fields)
        self.check_id_ranges(fields)
        settings = self.check_settings(structs_spec, fields)
        by_name = {f.name: f for f in fields}
        fields = self.resolve_refs(fields, by_name)
        structs = self.build_structs(structs_spec, fields, by_name)
        if settings is not None:
            self.check_read_order(settings, structs, by_name)
        if self.rep.errors or settings is None:
            return None
        return elaborate.catalogue(list(classes.values()), fields, list(structs.values()),
                                   settings, self.loaded.sources)

    # -- classes -------------------------------------------------------------
    def check_classes(self) -> dict[int, MdClass]:
        out: dict[int, MdClass] = {}
        names: dict[str, object] = {}
        code_locs: dict[int, object] = {}
        for e in self.classes:
            spec = e.spec
            if spec is None:
                continue
            self.text_safe(e, spec.name, "name")
            self.text_safe(e, spec.description, "description")
            if spec.code in out:
                self.dup("DUPLICATE-CLASS", f"class code {spec.code:#04x} is declared twice",
                         e.loc("code"), code_locs[spec.code])
                continue
            src = Source(e.doc.shown, e.line, e.path)
            if spec.name in names:
                self.dup("DUPLICATE-CLASS", f"class name '{spec.name}' is declared twice",
                         e.loc("name"), names[spec.name])
                out[spec.code] = MdClass(spec.code, spec.name, spec.description, src)
                code_locs[spec.code] = e.loc("code")
                continue
            out[spec.code] = MdClass(spec.code, spec.name, spec.description, src)
            code_locs[spec.code] = e.loc("code")
            names[spec.name] = e.loc("name")
        return out

    def dup(self, rule, message, loc, first):
        """Report a duplicate at loc, with a note at the first definition."""
        first_loc = self._loc_of(first) if isinstance(first, Source) else first
        self.err(rule, message, loc, Note("first defined here", first_loc))

    def _loc_of(self, src: Source):
        from codegen.spec.diagnostics import Location
        for e in self.loaded.entries:
            if e.doc.shown == src.file:
                return Location(src.file, src.line, 1, 1, e.doc.line(src.line))
        return Location(src.file, src.line)

    # -- fields: per-entry checks ---------------------------------------------
    def check_fields(self, classes: dict[int, MdClass]) -> list[Field]:
        out: list[Field] = []
        seen_names: dict[str, Source] = {}
        class_by_name = {c.name: c.code for c in classes.values()}
        for e in self.fields:
            s = e.spec
            if s is None:
                continue
            ok = True
            src = Source(e.doc.shown, e.line, e.path)
            if not RE_ABI_NAME.match(s.name):
                self.err("BAD-NAME", f"field name '{s.name}' must be an upper-case ABI name "
                         "(A-Z, 0-9, _; starting with a letter)", e.loc("name"))
                ok = False
            elif self.too_long(e, s.name, "field", "name"):
                ok = False
            elif s.name in seen_names:
                self.dup("DUPLICATE-FIELD", f"field {s.name} is declared twice", e.loc("name"),
                         seen_names[s.name])
                ok = False
            else:
                seen_names[s.name] = e.loc("name")
            self.text_safe(e, s.description, "description")
            if s.unverified is not None:
                self.text_safe(e, s.unverified, "unverified")
            # class: code or name
            if isinstance(s.class_, str):
                code = class_by_name.get(s.class_)
                if code is None:
                    self.err("UNKNOWN-CLASS", f"class '{s.class_}' is not declared by any [class] "
                             f"table (known: {', '.join(sorted(class_by_name)) or 'none'})",
                             e.loc("class"))
                    ok = False
            else:
                code = s.class_
                if code not in classes:
                    known = ", ".join(f"{c:#04x}" for c in sorted(classes)) or "none"
                    self.err("UNKNOWN-CLASS", f"class {code:#04x} is not declared by any [class] "
                             f"table (known: {known})", e.loc("class"))
                    ok = False
                    code = None  # reported once, not again as an id mismatch
            try:
                fid = fieldid.parse(s.id)
                if not s.id.strip().lower().startswith("0x"):
                    raise ValueError(f"'{s.id}' must be written in hex, starting with 0x")
            except ValueError as exc:
                self.err("ID-FORMAT", str(exc), e.loc("id"))
                continue
            if not self.check_id(e, s, fid, code):
                ok = False
            since = self.release(e, s.since, "since") if s.since is not None else None
            m = RE_MEMBER.match(s.member)
            if not m:
                self.err("C-IDENTIFIER", f"member '{s.member}' is not a C identifier "
                         "(optionally followed by [N] dimensions)", e.loc("member"))
                continue
            member, dims_text = m.group(1), m.group(2)
            if not self.identifier(e, member, "member", lower=True, kind="member"):
                ok = False
            capacity = s.capacity if s.capacity is not None else s.num_fields
            if s.capacity is not None and s.num_fields == 1:
                self.err("CAPACITY-ON-SCALAR", f"{s.name} is not an array (num_fields = 1); "
                         "'capacity' applies to arrays only", e.loc("capacity"))
                ok = False
            if capacity < s.num_fields and s.count is None:
                self.err("CAPACITY-TOO-SMALL", f"{s.name} has {s.num_fields} fields but the "
                         f"member holds {capacity}; name the live-count field with 'count' so "
                         "readers can check it, or raise 'capacity'", e.loc("capacity"))
                ok = False
            dims = ((capacity,) if s.num_fields > 1 else ()) + \
                   ((s.num_elements,) if s.num_elements > 1 else ())
            if dims_text:
                declared = tuple(int(d) for d in re.findall(r"\d+", dims_text))
                if declared != dims:
                    want = "".join(f"[{d}]" for d in dims) or "no dimensions"
                    self.err("SHAPE-MISMATCH", f"member {s.member} does not match the field's "
                             f"shape: {s.num_fields} field(s) x {s.num_elements} element(s)"
                             f"{f', capacity {capacity}' if s.capacity else ''} gives {want}",
                             e.loc("member"))
                    ok = False
            if C_TYPE_BYTES[s.type] < s.element_size and not s.truncate:
                self.err("TYPE-TOO-NARROW", f"{s.type} cannot hold the {s.element_size}-byte "
                         f"element of {s.name}; use u{s.element_size * 8}, or set "
                         "'truncate = true' if dropping the high bits is intended", e.loc("type"))
                ok = False
            elif s.truncate and C_TYPE_BYTES[s.type] >= s.element_size:
                self.rep.warning("TRUNCATE-UNNEEDED", f"'truncate' is set but {s.type} already "
                                 f"holds the {s.element_size}-byte element", e.loc("truncate"))
            if s.count is not None and s.num_fields == 1:
                self.err("COUNT-ON-SCALAR", f"{s.name} is not an array; 'count' applies to "
                         "arrays only", e.loc("count"))
                ok = False
            bits = self.check_bits(e, s)
            overrides = self.check_overrides(e, s, fid, capacity)
            if not ok or overrides is None:
                continue
            out.append(elaborate.field(s, src, fid, member, capacity, since, bits, overrides))
        return out

    def check_overrides(self, e, s, fid: int, capacity: int) -> tuple[Override, ...] | None:
        """Overrides name a compared attribute, give a reason, and differ from the schema."""
        ours = {"id": fid, "element_size": s.element_size, "num_fields": s.num_fields,
                "num_elements": s.num_elements, "capacity": capacity}
        out = []
        for key, spec in sorted(s.overrides.items()):
            if key not in OVERRIDABLE:
                self.err("OVERRIDE-KEY", f"cannot override '{key}' (overridable: "
                         f"{', '.join(OVERRIDABLE)})", e.loc("overrides", key, key=True))
                continue
            value = spec.json_
            if key == "id":
                try:
                    value = fieldid.parse(value) if isinstance(value, str) else None
                except ValueError:
                    value = None
                if value is None:
                    self.err("OVERRIDE-VALUE", "an id override gives the JSON's id as a hex "
                             'string, e.g. json = "0x9100000000000013"',
                             e.loc("overrides", key, "json"))
                    continue
            elif not isinstance(value, int):
                self.err("OVERRIDE-VALUE", f"the JSON's {key} is a number, not {value!r}",
                         e.loc("overrides", key, "json"))
                continue
            if not spec.reason.strip():
                self.err("OVERRIDE-REASON", f"override of {key} needs a reason (why the schema "
                         "deviates from Intel's JSON)", e.loc("overrides", key, "reason"))
                continue
            self.text_safe(e, spec.reason, "overrides", key, "reason")
            if value == ours[key]:
                self.err("OVERRIDE-UNNEEDED", f"override of {key} says the JSON has {spec.json_}, "
                         "which is the schema's own value; remove the override",
                         e.loc("overrides", key, "json"))
                continue
            out.append(Override(key, value, spec.reason.strip()))
        return tuple(out) if len(out) == len(s.overrides) else None

    def check_id(self, e, s, fid: int, code) -> bool:
        d = fieldid.decode(fid)
        text = fieldid.fmt(fid)
        problems = []
        if fid & fieldid.RESERVED_MASK:
            bits = [name for name, lo, w in fieldid.LAYOUT
                    if name.startswith("RESERVED") and fieldid.get(fid, name)]
            problems.append(("ID-RESERVED-BITS", f"id {text} sets reserved bits "
                             f"({', '.join(b.replace('RESERVED_', '').replace('_', ':') for b in bits)})"
                             "; they must be 0"))
        if fid & fieldid.LAST_MASK:
            problems.append(("ID-LAST-BITS", f"id {text} sets LAST_ELEMENT_IN_FIELD="
                             f"{d.last_element_in_field} / LAST_FIELD_IN_SEQUENCE="
                             f"{d.last_field_in_sequence}; a base id has both 0 (give the shape "
                             "with num_fields and num_elements)"))
        if d.context_code:
            problems.append(("ID-CONTEXT", f"id {text} has CONTEXT_CODE {d.context_code}; "
                             "global metadata has context 0"))
        if d.inc_size or d.write_mask_valid:
            problems.append(("ID-FLAG-BITS", f"id {text} sets INC_SIZE or WRITE_MASK_VALID; "
                             "a global field's base id has both 0"))
        if code is not None and d.class_code != code:
            problems.append(("ID-CLASS-MISMATCH", f"id {text} encodes class {d.class_code:#04x} "
                             f"but the field declares class {code:#04x}"))
        if d.element_size != s.element_size:
            problems.append(("ID-SIZE-MISMATCH", f"id {text} encodes ELEMENT_SIZE_CODE "
                             f"{d.element_size_code} ({d.element_size} bytes) but element_size "
                             f"is {s.element_size}"))
        if d.field_code + s.num_fields * s.num_elements - 1 > fieldid.MAX_FIELD_CODE:
            problems.append(("ID-RANGE-OVERFLOW", f"{s.name} covers field codes past 0xFFFFFF"))
        for rule, message in problems:
            self.err(rule, message, e.loc("id"))
        return not problems

    def check_bits(self, e, s) -> tuple[Bit, ...]:
        bits = []
        seen: dict[int, str] = {}
        if s.bits and not (s.num_fields == 1 and s.num_elements == 1):
            self.err("BITS-ON-ARRAY", f"{s.name} is an array; only scalar flag fields can name "
                     "bits", e.loc("bits", key=True))
            return ()
        for name, spec in s.bits.items():
            index = spec if isinstance(spec, int) else spec.bit
            desc = "" if isinstance(spec, int) else spec.description
            if not RE_ABI_NAME.match(name):
                self.err("BAD-NAME", f"bit name '{name}' must be an upper-case name (A-Z, 0-9, _)",
                         e.loc("bits", name, key=True))
                continue
            if self.too_long(e, name, "bit", "bits", name, key=True):
                continue
            if not 0 <= index < s.element_size * 8:
                self.err("BIT-RANGE", f"bit {name} = {index} is outside the "
                         f"{s.element_size * 8}-bit element of {s.name}", e.loc("bits", name))
                continue
            if index in seen:
                self.err("DUPLICATE-BIT", f"bits {seen[index]} and {name} of {s.name} both name "
                         f"bit {index}", e.loc("bits", name),
                         Note(f"{seen[index]} is defined here", e.loc("bits", seen[index])))
                continue
            seen[index] = name
            self.text_safe(e, desc, "bits", name, "description")
            bits.append(Bit(name, index, desc.strip()))
        return tuple(sorted(bits, key=lambda b: b.bit))

    # -- cross-entry checks -------------------------------------------------
    def check_id_ranges(self, fields: list[Field]) -> None:
        """No shared id (bit 63 ignored) and no overlapping ranges: one sorted pass."""
        ordered = sorted(fields, key=lambda f: (f.key, f.source.file, f.source.line))
        prev: Field | None = None
        for f in ordered:
            if prev is not None and prev.class_code == f.class_code:
                loc = self._field_loc(f, "id")
                if prev.field_code == f.field_code:
                    self.err("DUPLICATE-ID", f"{f.name} has the same id as {prev.name} "
                             f"(class {f.class_code:#04x}, field code {f.field_code:#x}; bit 63 is "
                             "not part of the lookup key)", loc,
                             Note(f"{prev.name} is defined here", self._field_loc(prev, "id")))
                elif prev.field_code + prev.num_ids > f.field_code:
                    last = prev.field_code + prev.num_ids - 1
                    self.err("ID-RANGE-OVERLAP", f"{f.name} (field code {f.field_code:#x}) lies "
                             f"inside {prev.name}, which covers field codes "
                             f"{prev.field_code:#x}..{last:#x}", loc,
                             Note(f"{prev.name} is defined here", self._field_loc(prev, "id")))
            if prev is None or prev.class_code != f.class_code or \
                    f.field_code + f.num_ids > prev.field_code + prev.num_ids:
                prev = f

    def _field_loc(self, f: Field, key: str):
        entry = self._entry_of(f)
        return entry.loc(key)

    def _entry_of(self, f: Field):
        return self.entry_at[(f.source.file, f.source.path)]

    def check_structs(self) -> dict:
        out: dict[str, tuple] = {}
        c_names: dict[str, Source] = {}
        for e in self.structs:
            s = e.spec
            if s is None:
                continue
            src = Source(e.doc.shown, e.line, e.path)
            ok = self.identifier(e, s.name, "name", lower=True, kind="struct")
            ok = self.identifier(e, s.c_name, "c_name", lower=True, kind="c_name") and ok
            self.text_safe(e, s.description, "description")
            if s.name in out:
                self.dup("DUPLICATE-STRUCT", f"struct '{s.name}' is declared twice "
                         "(it would be two members of struct tdx_sys_info)", e.loc("name"),
                         out[s.name][0].loc("name"))
                continue
            if s.c_name in c_names:
                self.dup("DUPLICATE-STRUCT", f"C struct name '{s.c_name}' is used twice",
                         e.loc("c_name"), c_names[s.c_name])
                continue
            if ok:
                out[s.name] = (e, src)
                c_names[s.c_name] = e.loc("c_name")
        return out

    def check_members(self, fields: list[Field]) -> None:
        seen: dict[tuple[str, str], Field] = {}
        for f in fields:
            k = (f.struct, f.member)
            if k in seen:
                first = seen[k]
                self.err("DUPLICATE-MEMBER", f"{f.name} and {first.name} are both read into "
                         f"{f.struct}.{f.member}", self._field_loc(f, "member"),
                         Note(f"{first.name} is defined here", self._field_loc(first, "member")))
            else:
                seen[k] = f

    def resolve_refs(self, fields: list[Field], by_name: dict[str, Field]) -> list[Field]:
        out = []
        for f in fields:
            e = self._entry_of(f)
            ok = True
            if f.count is not None:
                c = by_name.get(f.count)
                if c is None:
                    if f.count not in self.known_field_names:
                        self.err("COUNT-UNKNOWN", f"count field '{f.count}' of {f.name} is not "
                                 "declared", e.loc("count"))
                    ok = False
                elif not c.is_scalar:
                    self.err("COUNT-NOT-SCALAR", f"count field {c.name} of {f.name} is an array; "
                             "a live count is a single element", e.loc("count"),
                             Note(f"{c.name} is defined here", self._field_loc(c, "name")))
                    ok = False
            gate = self.gate(e, e.spec.gate, by_name, ("gate",)) if e.spec.gate is not None else None
            if gate is False:
                ok = False
            if ok:
                out.append(elaborate.with_gate(f, gate or None))
        return out

    def gate(self, e, spec, by_name, keys) -> Gate | None | bool:
        """Resolve a gate spec; False when it is invalid (already reported)."""
        from codegen.spec.shapes import GateSpec
        if isinstance(spec, str):
            spec = GateSpec(feature=spec)
        if (spec.feature is None) == (spec.release is None):
            self.err("GATE-FORM", "a gate names exactly one of feature = \"FIELD.BIT\" or "
                     "release = \"M.m.uu\"", e.loc(*keys))
            return False
        if spec.release is not None:
            rel = self.release(e, spec.release, *keys, "release")
            if rel is not None and rel.tag:
                self.err("RELEASE-FORMAT", f"a release gate cannot name a build tag ('{rel}'): it "
                         "compares the module's MAJOR, MINOR and UPDATE_VERSION, which carry none",
                         e.loc(*keys, "release"))
                return False
            return elaborate.release_gate(rel) if rel is not None else False
        loc = e.loc(*keys) if isinstance(e.raw.get(keys[0]), str) else e.loc(*keys, "feature")
        field_name, _, bit_name = spec.feature.partition(".")
        if not bit_name:
            self.err("GATE-FORM", f"feature gate '{spec.feature}' must be FIELD.BIT, e.g. "
                     "TDX_FEATURES0.TD_PRESERVING", loc)
            return False
        flag = by_name.get(field_name)
        if flag is None:
            if field_name not in self.known_field_names:
                self.err("GATE-UNKNOWN-FIELD", f"gate names field '{field_name}', which is not "
                         "declared", loc)
            return False
        bit = next((b for b in flag.bits if b.name == bit_name), None)
        if bit is None:
            known = ", ".join(b.name for b in flag.bits) or "none"
            self.err("GATE-UNKNOWN-BIT", f"{field_name} has no bit named '{bit_name}' "
                     f"(named bits: {known})", loc)
            return False
        return elaborate.feature_gate(flag, bit_name)

    def build_structs(self, specs: dict, fields: list[Field], by_name) -> dict[str, Struct]:
        members: dict[str, list[Field]] = {name: [] for name in specs}
        for f in fields:
            if f.struct in members:
                members[f.struct].append(f)
            elif f.struct not in self.known_struct_names:
                known = ", ".join(sorted(specs)) or "none"
                self.err("UNKNOWN-STRUCT", f"{f.name} is read into struct '{f.struct}', which no "
                         f"[[struct]] declares (known: {known})", self._field_loc(f, "struct"))
        out = {}
        for name, (e, src) in specs.items():
            gate = self.gate(e, e.spec.gate, by_name, ("gate",)) if e.spec.gate is not None else None
            if gate is False:
                continue
            if not members[name] and name not in self.referenced_structs:
                self.rep.warning("STRUCT-EMPTY", f"struct '{name}' has no fields", e.loc("name"))
            out[name] = elaborate.struct(e.spec, src, gate, members[name])
        return out

    # -- settings ------------------------------------------------------------
    def check_settings(self, structs: dict, fields: list[Field]) -> Settings | None:
        e = self.settings
        if e is None or e.spec is None:
            return None
        s = e.spec
        baseline = self.release(e, s.schema_.baseline, "schema", "baseline")
        ok = baseline is not None
        lists = {}
        for output in ("kernel", "python", "docs"):
            names = getattr(s, output).structs
            seen: dict[str, int] = {}
            for i, name in enumerate(names):
                if name in seen:
                    self.err("SETTINGS-DUPLICATE", f"struct '{name}' is listed twice in "
                             f"[{output}].structs", e.loc(output, "structs", i),
                             Note("first listed here", e.loc(output, "structs", seen[name])))
                    ok = False
                elif name not in structs:
                    if name not in self.known_struct_names:
                        self.err("SETTINGS-UNKNOWN-STRUCT", f"[{output}].structs names struct "
                                 f"'{name}', which no [[struct]] declares", e.loc(output, "structs", i))
                    ok = False
                seen.setdefault(name, i)
            lists[output] = tuple(names)
        used = set().union(*lists.values())
        for name, (se, _) in sorted(structs.items()):
            if name not in used:
                self.rep.warning("STRUCT-UNUSED", f"struct '{name}' is in no output's structs "
                                 "list in settings.toml", se.loc("name"))
        package = s.python.package
        if not RE_IDENT.match(package) or keyword.iskeyword(package) or len(package) > 64:
            self.err("BAD-NAME", f"python package '{package[:70]}' is not a Python identifier of "
                     "at most 64 characters (it names a directory)", e.loc("python", "package"))
            ok = False
        elif package == "codegen" or package in sys.stdlib_module_names:
            self.err("RESERVED-WORD", f"python package '{package}' would shadow the "
                     f"{'tdx-codegen runtime' if package == 'codegen' else 'standard library'} "
                     "module of that name", e.loc("python", "package"))
            ok = False
        field_names = {f.name for f in fields}
        for i, name in enumerate(s.kernel.exclude_fields):
            if name not in field_names and name not in self.known_field_names:
                self.err("SETTINGS-UNKNOWN-FIELD", f"[kernel].exclude_fields names field '{name}', "
                         "which is not declared", e.loc("kernel", "exclude_fields", i))
                ok = False
        prints = []
        members = {(f.struct, f.member): f for f in fields}
        for i, text in enumerate(s.kernel.print):
            struct, _, member = text.partition(".")
            f = members.get((struct, member))
            if f is None or struct not in lists["kernel"] or f.name in s.kernel.exclude_fields:
                self.err("SETTINGS-BAD-PRINT", f"[kernel].print entry '{text}' is not a member of "
                         "a struct in the kernel output (write struct.member)",
                         e.loc("kernel", "print", i))
                ok = False
            elif not f.is_scalar:
                self.err("SETTINGS-BAD-PRINT", f"[kernel].print entry '{text}' is an array; only "
                         "scalars can be printed", e.loc("kernel", "print", i))
                ok = False
            else:
                prints.append((struct, member))
        requires = []
        by_name = {f.name: f for f in fields}
        for i, text in enumerate(s.kernel.require_features):
            field_name, _, bit_name = text.partition(".")
            f = by_name.get(field_name)
            if f is None or not any(b.name == bit_name for b in f.bits):
                self.err("SETTINGS-BAD-FEATURE", f"[kernel].require_features entry '{text}' is not "
                         "a named bit of a declared flag field (write FIELD.BIT)",
                         e.loc("kernel", "require_features", i))
                ok = False
            else:
                requires.append((field_name, bit_name))
        if not ok:
            return None
        return elaborate.settings(s, baseline, lists, prints, requires)

    def check_read_order(self, settings: Settings, structs: dict[str, Struct], by_name) -> None:
        """Count and gate fields must be read before what depends on them."""
        outputs = {"kernel": settings.kernel.structs, "python": settings.python_structs}
        for output, names in outputs.items():
            excluded = settings.kernel.exclude_fields if output == "kernel" else frozenset()
            position: dict[str, int] = {}  # field name -> read position
            for si, sname in enumerate(names):
                struct = structs.get(sname)
                if struct is None:
                    continue
                for fi, f in enumerate(struct.fields):
                    if f.name not in excluded:
                        position[f.name] = (si, fi)
            for sname in names:
                struct = structs.get(sname)
                if struct is None:
                    continue
                s_entry = next(e for e in self.structs if e.spec is not None and e.spec.name == sname)
                if struct.gate is not None:
                    self.gate_order(output, struct.gate, position, (names.index(sname), -1),
                                    s_entry.loc("gate"), f"struct {sname}")
                for f in struct.fields:
                    if f.name in excluded:
                        continue
                    here = position[f.name]
                    if f.count is not None:
                        at = position.get(f.count)
                        if at is None or at >= here:
                            where = "is not in" if at is None else "is read after it in"
                            self.err("COUNT-READ-LATER", f"count field {f.count} of {f.name} "
                                     f"{where} the {output} output; it must be read first (same "
                                     "struct, or a struct earlier in the structs list)",
                                     self._field_loc(f, "count"))
                    if f.gate is not None:
                        self.gate_order(output, f.gate, position, here, self._field_loc(f, "gate"),
                                        f.name)

    def gate_order(self, output, gate: Gate, position, here, loc, what) -> None:
        needed = [gate.feature_field] if gate.release is None else VERSION_FIELDS
        for name in needed:
            at = position.get(name)
            if at is None or at >= here:
                where = "is not in" if at is None else "is read after it in"
                self.err("GATE-READ-LATER", f"the gate of {what} needs {name}, which {where} the "
                         f"{output} output; put its struct earlier in [{output}].structs", loc)
                return

    # -- helpers -------------------------------------------------------------
    def identifier(self, e, name: str, key: str, lower: bool = False, kind: str = "") -> bool:
        if not RE_IDENT.match(name):
            self.err("C-IDENTIFIER", f"'{name}' is not a C identifier (letters, digits and _, "
                     "not starting with a digit)", e.loc(key))
            return False
        if name.startswith("_"):
            self.err("C-IDENTIFIER", f"'{name}' starts with '_': such names are reserved in C and "
                     "taken by kernel macros (__init, __user)", e.loc(key))
            return False
        if kind and self.too_long(e, name, kind, key):
            return False
        if name in GENERATED_NAMES.get(kind, ()):
            self.err("RESERVED-WORD", f"'{name}' is a name the generated code defines itself "
                     f"and cannot name a {'struct' if kind == 'c_name' else kind}", e.loc(key))
            return False
        if lower and name != name.lower():
            self.err("C-IDENTIFIER", f"'{name}' must be lower case (kernel style)", e.loc(key))
            return False
        if name in C_KEYWORDS or keyword.iskeyword(name) or keyword.issoftkeyword(name):
            lang = "C" if name in C_KEYWORDS else "Python"
            self.err("RESERVED-WORD", f"'{name}' is a {lang} keyword or reserved type name and "
                     "cannot name a member", e.loc(key))
            return False
        return True

    def too_long(self, e, name: str, kind: str, *keys, key: bool = False) -> bool:
        if len(name) <= MAX_NAME[kind]:
            return False
        self.err("NAME-TOO-LONG", f"{kind} name '{name[:20]}...' has {len(name)} characters; at "
                 f"most {MAX_NAME[kind]} keep generated kernel lines within 100 columns",
                 e.loc(*keys, key=key))
        return True

    def text_safe(self, e, text: str, *keys) -> None:
        """Reject text that could break out of a C comment or a Python docstring."""
        for bad, why in (("*/", "would end a C comment"), ("/*", "would open a nested C comment"),
                         ('"""', "would end a Python docstring"),
                         ("??/", "is a C trigraph for a backslash (gcc -Wtrigraphs)")):
            if bad in text:
                self.err("UNSAFE-TEXT", f"text contains '{bad}', which {why} in generated code",
                         e.loc(*keys))
                return
        for ch in text:
            if ch != "\n" and not ch.isprintable():
                self.err("UNSAFE-TEXT", f"text contains the non-printable character "
                         f"U+{ord(ch):04X}", e.loc(*keys))
                return

    def release(self, e, text: str, *keys) -> Release | None:
        try:
            return Release.parse(text)
        except ValueError as exc:
            self.err("RELEASE-FORMAT", str(exc), e.loc(*keys))
            return None


class _Everything:
    """Stands for the set of names when a file could not be read."""

    def __contains__(self, item) -> bool:
        return True

