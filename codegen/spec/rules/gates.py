"""Gates and releases: a struct or field read only when a feature bit is set, or from a
release on; the releases that have a field (since)."""

from __future__ import annotations

from codegen.abi.release import VERSION_FIELDS, Since
from codegen.spec import elaborate
from codegen.spec.model import Gate
from codegen.spec.rules import error, warning

RULES = (
    error("GATE-FORM", 'A gate names exactly one of feature = "FIELD.BIT" or release = "M.m.uu".'),
    error("GATE-UNKNOWN-FIELD", "A feature gate names a declared field."),
    error("GATE-UNKNOWN-BIT", "A feature gate names a named bit of that field."),
    error(
        "GATE-READ-LATER",
        "What a gate tests (the flag field, or the version fields) is read before what it gates.",
    ),
    error(
        "RELEASE-FORMAT",
        "A release is MAJOR.MINOR[.UPDATE][+TAG], each part 0..255; a release gate names no tag.",
        "a module reports its release as MAJOR_VERSION, MINOR_VERSION and UPDATE_VERSION, "
        "8 bits each, with no build tag",
    ),
    error(
        "SINCE-ORDER",
        "since is one release, or a list of one first release per release "
        "line (MAJOR.MINOR), oldest line first.",
        "release lines branch (2.0 from 1.5 after 1.5.06) and gain fields at different releases",
    ),
    warning(
        "KERNEL-READS-OPTIONAL",
        "A field the kernel reads is in every module it reads it on: from the kernel's baseline "
        "([kernel].baseline, else [schema].baseline), or from its release gate's release.",
        "TDH.SYS.RD of a field the module lacks fails (TDX_METADATA_FIELD_ID_INCORRECT), and "
        "the kernel's reader returns -EIO",
    ),
)


_EXCLUDE_IT = "add it to [kernel].exclude_fields"
_GATE_IT = "gate it (gate = { release = ... } or a feature bit)"


def check_kernel_reads(cx, settings, structs: dict) -> None:
    """Every kernel read is of a field the modules it is made on have: from the kernel's
    baseline on, or from the release a release gate opens at.  A feature gate is trusted:
    a module that sets the bit has the fields it gates."""
    k = settings.kernel
    base = settings.kernel_baseline
    named = "[kernel].baseline" if k.baseline is not None else "[schema].baseline"
    for sname in k.structs:
        struct = structs.get(sname)
        if struct is None:
            continue
        for f in struct.fields:
            gates = struct.gates(f)
            if f.name in k.exclude_fields or any(g.release is None for g in gates):
                continue
            floor = max([base, *(g.release for g in gates)])
            if not elaborate.lacked_by(floor, f):
                continue
            since = "is in no public release" if f.since is None else f"is new in {f.since}"
            loc = cx.field_loc(f, "name" if f.since is None else "since")
            if gates:  # the gate opens before the field is there
                why = "its gate" if any(g.release == floor for g in gates) else named
                message = (
                    f"the kernel reads {f.name} (struct {sname}) from release {floor} on "
                    f"({why}), but it {since}: on a {floor} module the read fails and TDX does "
                    "not come up; gate it at a release that has it, or on a feature bit"
                )
            else:
                ways = (
                    f"{_EXCLUDE_IT} or {_GATE_IT}"
                    if f.since is None  # no baseline has it
                    else f"{_EXCLUDE_IT}, {_GATE_IT} or raise [kernel].baseline"
                )
                message = (
                    f"the kernel reads {f.name} (struct {sname}), which {since}: on a {floor} "
                    f"module ({named}) the read fails and TDX does not come up; {ways}"
                )
            cx.warn("KERNEL-READS-OPTIONAL", message, loc)


def resolve_since(cx, e, spec: str | list[str]) -> Since | None:
    """A field's since: one release, or one per release line (None: reported)."""
    if isinstance(spec, str):
        rel = cx.release(e, spec, "since")
        return None if rel is None else Since(rel)
    releases = [cx.release(e, text, "since", i) for i, text in enumerate(spec)]
    if None in releases:
        return None
    since = Since(*releases)
    problem = since.order_error()
    if problem is not None:
        cx.err("SINCE-ORDER", problem, e.loc("since"))
        return None
    return since


def resolve_gate(cx, e, spec, by_name, keys) -> Gate | bool | None:
    """The Gate of a gate spec; False when it is invalid (already reported)."""
    from codegen.spec.shapes import GateSpec

    if isinstance(spec, str):
        spec = GateSpec(feature=spec)
    if (spec.feature is None) == (spec.release is None):
        cx.err(
            "GATE-FORM",
            'a gate names exactly one of feature = "FIELD.BIT" or release = "M.m.uu"',
            e.loc(*keys),
        )
        return False
    if spec.release is not None:
        rel = cx.release(e, spec.release, *keys, "release")
        if rel is not None and rel.tag:
            cx.err(
                "RELEASE-FORMAT",
                f"a release gate cannot name a build tag ('{rel}'): it "
                "compares the module's MAJOR, MINOR and UPDATE_VERSION, which carry none",
                e.loc(*keys, "release"),
            )
            return False
        return elaborate.release_gate(rel) if rel is not None else False
    loc = e.loc(*keys) if isinstance(e.raw.get(keys[0]), str) else e.loc(*keys, "feature")
    field_name, _, bit_name = spec.feature.partition(".")
    if not bit_name:
        cx.err(
            "GATE-FORM",
            f"feature gate '{spec.feature}' must be FIELD.BIT, e.g. TDX_FEATURES0.TD_PRESERVING",
            loc,
        )
        return False
    flag = by_name.get(field_name)
    if flag is None:
        if field_name not in cx.known_field_names:
            cx.err(
                "GATE-UNKNOWN-FIELD", f"gate names field '{field_name}', which is not declared", loc
            )
        return False
    if not any(b.name == bit_name for b in flag.bits):
        known = ", ".join(b.name for b in flag.bits) or "none"
        cx.err(
            "GATE-UNKNOWN-BIT",
            f"{field_name} has no bit named '{bit_name}' (named bits: {known})",
            loc,
        )
        return False
    return elaborate.feature_gate(flag, bit_name)


def gate_order(cx, output, gate: Gate, position, here, loc, what) -> None:
    needed = [gate.feature_field] if gate.release is None else VERSION_FIELDS
    for name in needed:
        at = position.get(name)
        if at is None or at >= here:
            where = "is not in" if at is None else "is read after it in"
            cx.err(
                "GATE-READ-LATER",
                f"the gate of {what} needs {name}, which {where} the "
                f"{output} output; put its struct earlier in [{output}].structs",
                loc,
            )
            return
