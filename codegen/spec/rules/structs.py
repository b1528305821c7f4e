"""Structs, members and live counts: where each field is read to, and what bounds it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codegen.spec.diagnostics import Note
from codegen.spec.model import Field, Source
from codegen.spec.rules import error, warning
from codegen.spec.rules.names import check_struct_names, identifier, text_safe

if TYPE_CHECKING:
    from codegen.spec.compiler import Entry

RULES = (
    error("DUPLICATE-STRUCT", "Each struct name and C struct name is declared once."),
    error("UNKNOWN-STRUCT", "A field is read into a struct some [[struct]] declares."),
    warning("STRUCT-EMPTY", "A struct has fields."),
    error("DUPLICATE-MEMBER", "No two fields are read into one member."),
    error("COUNT-UNKNOWN", "A field's live count names a declared field."),
    error("COUNT-NOT-SCALAR", "A live count is a single element."),
    error("COUNT-READ-LATER", "A live count is read before the array it counts."),
)


def check_structs(cx) -> dict:
    """Struct entries that passed, by name: name -> (entry, source)."""
    out: dict[str, tuple] = {}
    c_names: dict[str, Entry] = {}
    for e in cx.structs:
        s = e.spec
        if s is None:
            continue
        ok = identifier(cx, e, s.name, "name", "struct")
        ok = identifier(cx, e, s.c_name, "c_name", "c_name") and ok
        ok = check_struct_names(cx, e, s) and ok
        text_safe(cx, e, s.description, "description")
        if s.name in out:
            cx.dup(
                "DUPLICATE-STRUCT",
                f"struct '{s.name}' is declared twice "
                "(it would be two members of struct tdx_sys_info)",
                e.loc("name"),
                out[s.name][0].loc("name"),
            )
            ok = False
        if s.c_name in c_names:
            cx.dup(
                "DUPLICATE-STRUCT",
                f"C struct name '{s.c_name}' is used twice",
                e.loc("c_name"),
                c_names[s.c_name].loc("c_name"),
            )
            ok = False
        if ok:
            out[s.name] = (e, Source(e.doc.shown, e.line, e.path))
            c_names[s.c_name] = e  # its location is looked up only for a duplicate
    return out


def check_members(cx, fields) -> None:
    seen: dict[tuple[str, str], Field] = {}
    for f in fields:
        k = (f.struct, f.member)
        if k in seen:
            first = seen[k]
            cx.err(
                "DUPLICATE-MEMBER",
                f"{f.name} and {first.name} are both read into {f.struct}.{f.member}",
                cx.field_loc(f, "member"),
                Note(f"{first.name} is defined here", cx.field_loc(first, "member")),
            )
        else:
            seen[k] = f


def check_count(cx, f, by_name) -> bool:
    if f.count is None:
        return True
    e = cx.entry_of(f)
    c = by_name.get(f.count)
    if c is None:
        if f.count not in cx.known_field_names:
            cx.err(
                "COUNT-UNKNOWN",
                f"count field '{f.count}' of {f.name} is not declared",
                e.loc("count"),
            )
        return False
    if not c.is_scalar:
        cx.err(
            "COUNT-NOT-SCALAR",
            f"count field {c.name} of {f.name} is an array; a live count is a single element",
            e.loc("count"),
            Note(f"{c.name} is defined here", cx.field_loc(c, "name")),
        )
        return False
    return True


def check_struct_refs(cx, specs: dict, fields, by_name) -> dict:
    """Gates of the structs whose gate is valid (name -> Gate or None); unknown structs and
    empty ones are reported."""
    from codegen.spec.rules.gates import resolve_gate

    members = dict.fromkeys(specs, 0)
    for f in fields:
        if f.struct in members:
            members[f.struct] += 1
        elif f.struct not in cx.known_struct_names:
            known = ", ".join(sorted(specs)) or "none"
            cx.err(
                "UNKNOWN-STRUCT",
                f"{f.name} is read into struct '{f.struct}', which no "
                f"[[struct]] declares (known: {known})",
                cx.field_loc(f, "struct"),
            )
    gates = {}
    for name, (e, _) in specs.items():
        gate = (
            resolve_gate(cx, e, e.spec.gate, by_name, ("gate",))
            if e.spec.gate is not None
            else None
        )
        if gate is False:
            continue
        if not members[name] and name not in cx.referenced_structs:
            cx.warn("STRUCT-EMPTY", f"struct '{name}' has no fields", e.loc("name"))
        gates[name] = gate
    return gates


def check_read_order(cx, settings, structs: dict) -> None:
    """Count and gate fields must be read before what depends on them."""
    from codegen.spec.rules.gates import gate_order
    from codegen.spec.rules.settings import check_apart, standalone

    outputs = {"kernel": settings.kernel.structs, "python": settings.python_structs}
    for output, names in outputs.items():
        excluded = settings.kernel.exclude_fields if output == "kernel" else frozenset()
        # a struct read on its own is read by no one before the others
        apart = standalone(settings) if output == "kernel" else frozenset()
        if apart:
            check_apart(
                cx, settings, structs, {f.name: f for s in structs.values() for f in s.fields}
            )
        position: dict[str, tuple[int, int]] = {}  # field name -> read position
        for si, sname in enumerate(names):
            struct = structs.get(sname)
            if struct is None or sname in apart:
                continue
            for fi, f in enumerate(struct.fields):
                if f.name not in excluded:
                    position[f.name] = (si, fi)
        for sname in names:
            struct = structs.get(sname)
            if struct is None or sname in apart:  # its reads: settings.check_apart
                continue
            if struct.gate is not None:
                s_entry = next(e for e in cx.structs if e.spec is not None and e.spec.name == sname)
                gate_order(
                    cx,
                    output,
                    struct.gate,
                    position,
                    (names.index(sname), -1),
                    s_entry.loc("gate"),
                    f"struct {sname}",
                )
            for f in struct.fields:
                if f.name in excluded:
                    continue
                here = position[f.name]
                if f.count is not None:
                    at = position.get(f.count)
                    if at is None or at >= here:
                        where = "is not in" if at is None else "is read after it in"
                        cx.err(
                            "COUNT-READ-LATER",
                            f"count field {f.count} of {f.name} "
                            f"{where} the {output} output; it must be read first (same "
                            "struct, or a struct earlier in the structs list)",
                            cx.field_loc(f, "count"),
                        )
                if f.gate is not None:
                    gate_order(cx, output, f.gate, position, here, cx.field_loc(f, "gate"), f.name)
