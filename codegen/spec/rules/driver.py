"""The order the checks run in, and the per-entry check of a [[field]].

Each [[field]] is checked whole: a problem in one key does not hide a
problem in another (a check that needs a valid id or member skips only
itself).  Entries that pass become Fields (codegen.spec.elaborate) for the
whole-schema checks, which return what they resolved (gates) for elaborate
to build with; references to entries that failed are not reported
again, so one mistake gives one error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codegen.spec import elaborate
from codegen.spec.model import Field, MdClass, Source
from codegen.spec.rules import gates, ids, names, settings, sizes, structs

if TYPE_CHECKING:
    from codegen.spec.compiler import Entry


def run(loaded, rep):
    from codegen.spec.rules.context import Context

    cx = Context(loaded, rep)
    classes = ids.check_classes(cx)
    fields = check_fields(cx, classes)
    structs_spec = structs.check_structs(cx)
    names.check_collisions(cx, structs_spec, fields)
    structs.check_members(cx, fields)
    ids.check_id_ranges(cx, fields)
    the_settings = settings.check_settings(cx, structs_spec, fields)
    by_name = {f.name: f for f in fields}
    fields = elaborate.resolve_refs(fields, check_refs(cx, fields, by_name))
    struct_gates = structs.check_struct_refs(cx, structs_spec, fields, by_name)
    built = elaborate.build_structs(structs_spec, struct_gates, fields)
    if the_settings is not None:
        structs.check_read_order(cx, the_settings, built)
        gates.check_kernel_reads(cx, the_settings, built)
    if rep.errors or the_settings is None:
        return None
    return elaborate.catalogue(
        list(classes.values()),
        fields,
        list(built.values()),
        the_settings,
        loaded.sources,
        loaded.releases,
    )


def check_fields(cx, classes: dict[int, MdClass]) -> list[Field]:
    out: list[Field] = []
    seen_names: dict[str, Entry] = {}
    for e in cx.fields:
        s = e.spec
        if s is None:
            continue
        ok = names.abi_name(cx, e, s.name, "field", "name")
        if s.name in seen_names:
            cx.dup(
                "DUPLICATE-FIELD",
                f"field {s.name} is declared twice",
                e.loc("name"),
                seen_names[s.name].loc("name"),
            )
            ok = False
        else:
            seen_names[s.name] = e  # its location is looked up only for a duplicate
        names.text_safe(cx, e, s.description, "description")
        if s.unverified is not None:
            names.text_safe(cx, e, s.unverified, "unverified")
        class_ok, code = ids.class_code(cx, e, s, classes)
        fid = ids.parse_id(cx, e, s)
        ok = class_ok and fid is not None and ids.check_id(cx, e, s, fid, code) and ok
        since = gates.resolve_since(cx, e, s.since) if s.since is not None else None
        m = names.RE_MEMBER.match(s.member)
        if m:
            member, dims_text = m.group(1), m.group(2)
            ok = names.identifier(cx, e, member, "member", "member") and ok
        else:
            cx.err(
                "C-IDENTIFIER",
                f"member '{s.member}' is not a C identifier "
                "(optionally followed by [N] dimensions)",
                e.loc("member"),
            )
            member, dims_text, ok = None, None, False
        ok = sizes.check_shape(cx, e, s, dims_text) and ok
        bits, bits_ok = sizes.check_bits(cx, e, s)
        ok = names.check_field_names(cx, e, s, bits) and bits_ok and ok
        overrides = sizes.check_overrides(cx, e, s, fid)
        if not ok or overrides is None or (s.since is not None and since is None):
            continue
        if fid is None or member is None:  # not ok then: this narrows the types
            continue
        out.append(
            elaborate.field(
                s,
                Source(e.doc.shown, e.line, e.path),
                fid,
                member,
                sizes.capacity_of(s),
                since,
                bits,
                overrides,
            )
        )
    return out


def check_refs(cx, fields: list[Field], by_name: dict[str, Field]) -> dict:
    """Gates of the fields whose count and gate are valid (name -> Gate or None)."""
    found = {}
    for f in fields:
        e = cx.entry_of(f)
        ok = structs.check_count(cx, f, by_name)
        gate = (
            gates.resolve_gate(cx, e, e.spec.gate, by_name, ("gate",))
            if e.spec.gate is not None
            else None
        )
        if gate is not False and ok:
            found[f.name] = gate
    return found
