"""Compare two Catalogues and sort every change by how much it breaks.

Categories, strictest first:
  MODULE_ABI  what the TDX module answers changed: a field's id (class, field
              code, size code, bit 63), element size, number of fields or
              elements per field, or a field disappeared.  Ids never change
              between module releases, so this is almost always a bug.
  KERNEL_API  what code built from the schema sees changed: a struct or
              member renamed, retyped, narrowed, moved or removed, a field
              renamed (its MD_FIELD_ID_ define), structs reordered in an
              output, an array capacity shrunk, a gate added or changed, a
              bit renamed or removed, a field or struct dropped from an output.
  ADDITIVE    nothing existing breaks: a new field, struct, class or bit, a
              capacity grown, a gate lifted, a field or struct added to an
              output, a since that still has the field in a baseline module.

A field whose since changes so that a baseline module may lack it is
KERNEL_API: its readers may now give None.  So is a baseline moved: raised,
the readers or the kernel stop supporting the modules in between; the
schema's lowered, its readers may give None for more fields.  Only the
kernel's lowered is ADDITIVE: its reads are the same, on more modules.

release_diff() compares two modules instead (two profiles of the schema,
e.g. 1.5.06 and 2.0.08): the fields one release has and the other lacks,
and the values that differ.

About 400 lines: the categories above are one table of judgements, kept
beside each other so a change of policy is made in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from codegen.abi import fieldid
from codegen.spec.model import Catalogue, Field, Gate, Struct

CATEGORIES = ("MODULE_ABI", "KERNEL_API", "ADDITIVE")  # strictest first
OUTPUTS = ("kernel", "python", "docs")


@dataclass(frozen=True)
class Change:
    category: str
    kind: str  # short stable code, e.g. "field-removed"
    subject: str  # field or struct name
    message: str
    old: str  # file:line in OLD ("" when absent)
    new: str  # file:line in NEW

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def at_or_above(category: str, threshold: str) -> bool:
    return CATEGORIES.index(category) <= CATEGORIES.index(threshold)


class _Diff:
    def __init__(self, old_label: str, new_label: str):
        self.changes: list[Change] = []
        self.old_label, self.new_label = old_label, new_label

    def where(self, label: str, src) -> str:
        return f"{label}{src}" if src is not None else ""

    def add(self, category, kind, subject, message, old_src=None, new_src=None):
        self.changes.append(
            Change(
                category,
                kind,
                subject,
                message,
                self.where(self.old_label, old_src),
                self.where(self.new_label, new_src),
            )
        )


def compare(
    old: Catalogue, new: Catalogue, old_label: str = "", new_label: str = ""
) -> list[Change]:
    """Every change from old to new; labels prefix the locations (e.g. "HEAD~1:")."""
    d = _Diff(old_label, new_label)
    pairs = _match_fields(old, new, d)
    for a, b in pairs:
        _field(a, b, d)
    old_structs = {s.name: s for s in old.structs}
    new_structs = {s.name: s for s in new.structs}
    for name, s in old_structs.items():
        if name not in new_structs:
            d.add(
                "KERNEL_API",
                "struct-removed",
                name,
                f"struct {s.c_name} was removed",
                s.source,
                None,
            )
        else:
            _struct(s, new_structs[name], d)
    for name, s in new_structs.items():
        if name not in old_structs:
            d.add("ADDITIVE", "struct-added", name, f"new struct {s.c_name}", None, s.source)
    old_classes = {c.code for c in old.classes}
    for c in new.classes:
        if c.code not in old_classes:
            d.add(
                "ADDITIVE",
                "class-added",
                c.name,
                f"new class {c.code:#04x} {c.name}",
                None,
                c.source,
            )
    _outputs(old, new, {a.name: b for a, b in pairs}, d)
    _baselines(old, new, d)
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    return sorted(d.changes, key=lambda c: (rank[c.category], c.subject, c.kind, c.message))


def _match_fields(old: Catalogue, new: Catalogue, d: _Diff) -> list[tuple[Field, Field]]:
    """Pair fields by name, then the rest by (class, field code): a rename is not a removal."""
    new_by_name = {f.name: f for f in new.fields}
    pairs, old_rest = [], []
    for f in old.fields:
        if f.name in new_by_name:
            pairs.append((f, new_by_name.pop(f.name)))
        else:
            old_rest.append(f)
    new_by_key = {f.key: f for f in new_by_name.values()}
    for f in old_rest:
        g = new_by_key.pop(f.key, None)
        if g is None:
            d.add(
                "MODULE_ABI",
                "field-removed",
                f.name,
                f"field {f.name} ({fieldid.canonical(f.id)}) was removed",
                f.source,
                None,
            )
            continue
        d.add(
            "KERNEL_API",
            "field-renamed",
            f.name,
            f"field {f.name} was renamed {g.name} (same id {fieldid.canonical(g.id)})",
            f.source,
            g.source,
        )
        pairs.append((f, g))
    for g in new_by_key.values():
        d.add(
            "ADDITIVE",
            "field-added",
            g.name,
            f"new field {g.name} ({fieldid.canonical(g.id)})",
            None,
            g.source,
        )
    return pairs


def _field(a: Field, b: Field, d: _Diff) -> None:
    def add(category, kind, message):
        d.add(category, kind, b.name, f"{b.name}: {message}", a.source, b.source)

    if a.id != b.id:
        add("MODULE_ABI", "field-id", f"id {fieldid.canonical(a.id)} -> {fieldid.canonical(b.id)}")
    for attr, label in (
        ("element_size", "element size"),
        ("num_fields", "number of fields"),
        ("num_elements", "elements per field"),
    ):
        if getattr(a, attr) != getattr(b, attr):
            add(
                "MODULE_ABI",
                f"field-{attr.replace('_', '-')}",
                f"{label} {getattr(a, attr)} -> {getattr(b, attr)}",
            )
    if a.struct != b.struct:
        add("KERNEL_API", "member-moved", f"moved from struct {a.struct} to {b.struct}")
    if a.member != b.member:
        add("KERNEL_API", "member-renamed", f"member {a.member} -> {b.member}")
    if a.ctype != b.ctype:
        kind = "narrowed" if b.member_bytes < a.member_bytes else "retyped"
        add("KERNEL_API", f"member-{kind}", f"member {kind} {a.ctype} -> {b.ctype}")
    if a.is_array and b.is_array and a.capacity != b.capacity:
        if b.capacity < a.capacity:
            add("KERNEL_API", "capacity-shrunk", f"array capacity {a.capacity} -> {b.capacity}")
        else:
            add("ADDITIVE", "capacity-grown", f"array capacity {a.capacity} -> {b.capacity}")
    _gate(a.gate, b.gate, add)
    if a.since != b.since:
        was, now = a.since or "no public release", b.since or "no public release"
        if b.optional and not a.optional:
            add(
                "KERNEL_API",
                "since-optional",
                f"since {was} -> {now}: a baseline module may "
                "now lack it, so readers may give None",
            )
        else:
            add("ADDITIVE", "since-changed", f"since {was} -> {now}")
    old_bits = {x.bit: x.name for x in a.bits}
    new_bits = {x.bit: x.name for x in b.bits}
    for bit in sorted(old_bits.keys() | new_bits.keys()):
        old, new = old_bits.get(bit), new_bits.get(bit)
        if old == new:
            continue
        if old is None:
            add("ADDITIVE", "bit-added", f"new bit {new} = {bit}")
        elif new is None:
            add("KERNEL_API", "bit-removed", f"bit {old} = {bit} was removed")
        else:
            add("KERNEL_API", "bit-renamed", f"bit {bit} renamed {old} -> {new}")


def _gate(a: Gate | None, b: Gate | None, add) -> None:
    if a == b:
        return
    if a is not None and b is not None:
        add("KERNEL_API", "gate-changed", f"gate {a.text} -> {b.text}")
    elif b is not None:
        add("KERNEL_API", "gate-added", f"now read only when {b.text} (was read unconditionally)")
    elif a is not None:
        add("ADDITIVE", "gate-removed", f"no longer gated on {a.text}")


def _struct(a: Struct, b: Struct, d: _Diff) -> None:
    def add(category, kind, message):
        d.add(category, kind, b.name, f"struct {b.name}: {message}", a.source, b.source)

    if a.c_name != b.c_name:
        add("KERNEL_API", "struct-renamed", f"C name {a.c_name} -> {b.c_name}")
    _gate(a.gate, b.gate, add)
    members = [f.member for f in b.fields]
    common = [m for m in (f.member for f in a.fields) if m in members]
    if common != [m for m in members if m in common]:
        add(
            "KERNEL_API",
            "member-reordered",
            "members reordered: "
            f"{', '.join(common)} -> {', '.join(m for m in members if m in common)}",
        )


def _outputs(old: Catalogue, new: Catalogue, renamed: dict[str, Field], d: _Diff) -> None:
    """Structs and (kernel) fields entering or leaving an output, and struct order."""
    for output in OUTPUTS:
        before = [s.name for s in old.output_structs(output)]
        after = [s.name for s in new.output_structs(output)]
        src_old = {s.name: s.source for s in old.structs}
        src_new = {s.name: s.source for s in new.structs}
        for name in before:
            if name not in after and name in src_new:
                d.add(
                    "KERNEL_API",
                    "output-struct-removed",
                    name,
                    f"struct {name} is no longer in the {output} output",
                    src_old[name],
                    src_new[name],
                )
        for name in after:
            if name not in before and name in src_old:
                d.add(
                    "ADDITIVE",
                    "output-struct-added",
                    name,
                    f"struct {name} joins the {output} output",
                    src_old[name],
                    src_new[name],
                )
        common = [n for n in before if n in after]
        if common != [n for n in after if n in common]:
            d.add(
                "KERNEL_API",
                "output-reordered",
                output,
                f"{output} output: structs reordered: {', '.join(common)} -> "
                f"{', '.join(n for n in after if n in common)}",
            )
    # kernel exclusions: a field both sides have, in a struct both kernel outputs carry
    kept_old = {s.name for s in old.output_structs("kernel")}
    kept_new = {s.name for s in new.output_structs("kernel")}
    for a in old.fields:
        b = renamed.get(a.name)
        if b is None or a.struct not in kept_old or b.struct not in kept_new:
            continue
        was = a.name not in old.settings.kernel.exclude_fields
        now = b.name not in new.settings.kernel.exclude_fields
        if was and not now:
            d.add(
                "KERNEL_API",
                "kernel-field-dropped",
                b.name,
                f"{b.name} is no longer read by the kernel (exclude_fields)",
                a.source,
                b.source,
            )
        elif now and not was:
            d.add(
                "ADDITIVE",
                "kernel-field-added",
                b.name,
                f"{b.name} is now read by the kernel",
                a.source,
                b.source,
            )


def _baselines(old: Catalogue, new: Catalogue, d: _Diff) -> None:
    """The oldest module releases the readers ([schema].baseline) and the kernel support."""
    readers = (old.settings.baseline, new.settings.baseline)
    kernel = (old.settings.kernel_baseline, new.settings.kernel_baseline)
    for what, key, (a, b) in (
        ("the readers", "[schema].baseline", readers),
        ("the kernel", "[kernel].baseline", kernel),
    ):
        if a == b:
            continue
        if b > a:
            category, kind = "KERNEL_API", "baseline-raised"
            effect = f"modules before {b} are no longer supported by {what} (they were from {a})"
        elif what == "the readers":
            category, kind = "KERNEL_API", "baseline-lowered"
            effect = f"{what} may give None for the fields a {b} module lacks"
        else:
            category, kind = "ADDITIVE", "baseline-lowered"
            effect = f"modules from {b} on are supported by {what} (they were from {a})"
        d.add(category, kind, key, f"{key} {a} -> {b}: {effect}")


def format_text(changes: list[Change], old_name: str, new_name: str, fail_on: str) -> str:
    lines = [
        f"compat {old_name} -> {new_name}: "
        + (
            ", ".join(f"{sum(c.category == cat for c in changes)} {cat}" for cat in CATEGORIES)
            if changes
            else "no changes"
        )
    ]
    for c in changes:
        where = " -> ".join(w for w in (c.old, c.new) if w)
        lines.append(f"{c.category}: {c.message}" + (f" [{where}]" if where else ""))
    failing = sum(at_or_above(c.category, fail_on) for c in changes)
    if failing:
        lines.append(f"{failing} change(s) at or above {fail_on}")
    return "\n".join(lines) + "\n"


# -- two module releases ---------------------------------------------------------

RELEASE_KINDS = ("field-added", "field-removed", "value-changed")


@dataclass(frozen=True)
class ReleaseChange:
    kind: str  # one of RELEASE_KINDS
    field: str
    message: str
    at: str  # the field's schema location (file:line)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def release_diff(a, b) -> list[ReleaseChange]:
    """What a module of b has that one of a lacks, lacks that a has, and holds differently.

    a and b are codegen.sim.simulator.Module (a profile or a replay); fields in
    (class, field code) order, additions and removals before value changes.
    """
    have_a = {f.name: f for f in a.fields}
    have_b = {f.name: f for f in b.fields}
    out = []
    for f in sorted({**have_a, **have_b}.values(), key=lambda f: f.key):
        when = f" (since {f.since})" if f.since else ""
        if f.name not in have_a:
            out.append(
                ReleaseChange(
                    "field-added",
                    f.name,
                    f"new field {f.name} ({fieldid.canonical(f.id)}){when}",
                    str(f.source),
                )
            )
        elif f.name not in have_b:
            out.append(
                ReleaseChange(
                    "field-removed",
                    f.name,
                    f"field {f.name} ({fieldid.canonical(f.id)}) is absent{when}",
                    str(f.source),
                )
            )
    for f in sorted(have_a.values(), key=lambda f: f.key):
        if f.name not in have_b:
            continue
        old, new = a.values[f.name], b.values[f.name]
        if old == new:
            continue
        if f.num_ids == 1:
            what = f"{old[0]:#x} -> {new[0]:#x}"
        else:
            differ = [i for i, (x, y) in enumerate(zip(old, new, strict=True)) if x != y]
            k = differ[0]
            what = (
                f"{len(differ)} of its {f.num_ids} elements differ (element {k}: "
                f"{old[k]:#x} -> {new[k]:#x})"
            )
        out.append(ReleaseChange("value-changed", f.name, f"{f.name}: {what}", str(f.source)))
    rank = {k: i for i, k in enumerate(RELEASE_KINDS)}
    order = {
        f.name: i for i, f in enumerate(sorted({**have_a, **have_b}.values(), key=lambda f: f.key))
    }
    return sorted(out, key=lambda c: (rank[c.kind], order[c.field]))


def format_release_diff(changes: list[ReleaseChange], a_name: str, b_name: str) -> str:
    counts = {k: sum(c.kind == k for c in changes) for k in RELEASE_KINDS}
    lines = [
        f"release-diff {a_name} -> {b_name}: {counts['field-added']} added, "
        f"{counts['field-removed']} removed, {counts['value-changed']} changed"
    ]
    label = {"field-added": "added", "field-removed": "removed", "value-changed": "changed"}
    lines += [f"{label[c.kind]}: {c.message} [{c.at}]" for c in changes]
    return "\n".join(lines) + "\n"
