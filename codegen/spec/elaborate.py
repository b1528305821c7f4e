"""Elaboration: checked schema entries -> the frozen Catalogue.

The rules (codegen.spec.rules) decide whether the schema is valid and
report every problem; this module only builds.  It reports nothing: what it
is given has passed the checks it depends on.  It also works out the facts
emitters need (a field is optional or may read as None, a struct depends on
others), once, so no emitter re-derives a rule's result.
"""

from __future__ import annotations

from dataclasses import replace

from codegen.abi import fieldid
from codegen.spec.model import (
    Catalogue,
    Field,
    Gate,
    KernelOptions,
    MdClass,
    Settings,
    Source,
    Struct,
)


def field(s, source: Source, fid: int, member: str, capacity: int, since, bits, overrides) -> Field:
    """A Field from a checked [[field]] spec and the values its checks parsed."""
    return Field(
        name=s.name,
        id=fid,
        class_code=fieldid.get(fid, "CLASS_CODE"),
        field_code=fid & fieldid.FIELD_CODE_MASK,
        element_size=s.element_size,
        num_fields=s.num_fields,
        num_elements=s.num_elements,
        struct=s.struct,
        member=member,
        ctype=s.type,
        description=s.description.strip(),
        since=since,
        host_readable=s.host_readable,
        guest_readable=s.guest_readable,
        capacity=capacity,
        count=s.count,
        gate=None,
        truncate=s.truncate,
        bits=bits,
        unverified=s.unverified,
        source=source,
        overrides=overrides,
    )


def feature_gate(flag: Field, bit_name: str) -> Gate:
    bit = next(b for b in flag.bits if b.name == bit_name)
    return Gate(feature_field=flag.name, feature_bit=bit_name, bit=bit.bit)


def release_gate(release) -> Gate:
    return Gate(release=release)


def resolve_refs(fields: list[Field], gates: dict) -> list[Field]:
    """The fields whose references checked out (gates: name -> Gate or None), gated."""
    # replace() only where a gate is added: rebuilding every Field is most of this phase
    return [
        f if gates[f.name] is None else replace(f, gate=gates[f.name])
        for f in fields
        if f.name in gates
    ]


def build_structs(specs: dict, gates: dict, fields: list[Field]) -> dict[str, Struct]:
    """Structs whose gate checked out (specs: name -> (entry, source)), with their fields."""
    members: dict[str, list[Field]] = {name: [] for name in gates}
    for f in fields:
        if f.struct in members:
            members[f.struct].append(f)
    out = {}
    for name, gate in gates.items():
        e, source = specs[name]
        out[name] = Struct(
            name,
            e.spec.c_name,
            e.spec.description.strip(),
            gate,
            tuple(sorted(members[name], key=lambda f: f.key)),
            source,
        )
    return out


def settings(s, baseline, kernel_baseline, lists: dict, requires, layout: dict) -> Settings:
    """layout: the KernelOptions of how the kernel C looks, as the settings rules worked out;
    kernel_baseline: [kernel].baseline, or None for the schema's."""
    k = s.kernel
    return Settings(
        baseline=baseline,
        kernel=KernelOptions(
            k.flavor,
            lists["kernel"],
            frozenset(k.exclude_fields),
            k.init,
            k.named_ids,
            require_features=tuple(requires),
            baseline=kernel_baseline,
            **layout,
        ),
        python_package=s.python.package,
        python_structs=lists["python"],
        docs_structs=lists["docs"],
    )


def lacked_by(baseline, f: Field) -> bool:
    """A module of the baseline release may lack f: first seen later, or in no public release."""
    return f.since is None or not f.since.has(baseline)


def catalogue(
    classes: list[MdClass],
    fields: list[Field],
    structs: list[Struct],
    settings: Settings,
    sources,
    releases=(),
) -> Catalogue:
    """The Catalogue, with each field's optional and nullable facts filled in."""
    optional = {f.name: lacked_by(settings.baseline, f) for f in fields}
    # A count field is a scalar without a count of its own (COUNT-NOT-SCALAR,
    # COUNT-ON-SCALAR), so one step decides whether a counted array may be None.
    own = {f.name: f.gate is not None or optional[f.name] for f in fields}
    done = {}
    for f in fields:
        nullable = own[f.name] or (f.count is not None and own[f.count])
        changed = (optional[f.name], nullable) != (f.optional, f.nullable)
        done[f.name] = replace(f, optional=optional[f.name], nullable=nullable) if changed else f
    structs = [
        s
        if all(done[f.name] is f for f in s.fields)
        else replace(s, fields=tuple(done[f.name] for f in s.fields))
        for s in structs
    ]
    return Catalogue(
        classes=tuple(sorted(classes, key=lambda c: c.code)),
        fields=tuple(sorted(done.values(), key=lambda f: f.key)),
        structs=tuple(sorted(structs, key=lambda s: s.name)),
        settings=settings,
        sources=tuple(sources),
        releases=tuple(sorted(releases, key=lambda r: (r.release, r.name))),
    )


def md_class(spec, source: Source) -> MdClass:
    return MdClass(spec.code, spec.name, spec.description, source)
