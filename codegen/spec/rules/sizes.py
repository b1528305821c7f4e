"""Shapes and sizes: the member holds the field's elements; named bits fit; overrides."""

from __future__ import annotations

import re

from codegen.abi import fieldid
from codegen.spec.diagnostics import Note
from codegen.spec.model import C_TYPE_BYTES, OVERRIDABLE, Bit, Override
from codegen.spec.rules import error, warning
from codegen.spec.rules.names import abi_name, text_safe

RULES = (
    error(
        "SHAPE-MISMATCH",
        "Dimensions written on a member are the field's shape.",
        "an entry holds num_fields fields of num_elements elements",
    ),
    error("CAPACITY-ON-SCALAR", "'capacity' is given only for arrays (num_fields > 1)."),
    error(
        "CAPACITY-TOO-SMALL",
        "A member holding fewer fields than the module has names "
        "the live-count field that readers check.",
    ),
    error(
        "TYPE-TOO-NARROW",
        "A member's type holds the whole element, unless the schema says truncate = true.",
        "an element holds element_size bytes",
    ),
    warning("TRUNCATE-UNNEEDED", "'truncate' is set only on a member narrower than its element."),
    error("COUNT-ON-SCALAR", "'count' is given only for arrays."),
    error("BITS-ON-ARRAY", "Only scalar flag fields name bits."),
    error(
        "BIT-RANGE",
        "A named bit lies within the field's element.",
        "an element holds element_size * 8 bits",
    ),
    error("DUPLICATE-BIT", "No two names name one bit of a field."),
    error("OVERRIDE-KEY", "An override names an attribute compared with Intel's JSON."),
    error(
        "OVERRIDE-VALUE", "An override gives the JSON's value: a number, or an id as a hex string."
    ),
    error("OVERRIDE-REASON", "An override says why the schema deviates from Intel's JSON."),
    error("OVERRIDE-UNNEEDED", "An override's JSON value differs from the schema's own."),
)


def capacity_of(s) -> int:
    return s.capacity if s.capacity is not None else s.num_fields


def check_shape(cx, e, s, dims_text: str | None) -> bool:
    """Capacity, dimensions, member type and count against the field's shape."""
    ok = True
    capacity = capacity_of(s)
    if s.capacity is not None and s.num_fields == 1:
        cx.err(
            "CAPACITY-ON-SCALAR",
            f"{s.name} is not an array (num_fields = 1); 'capacity' applies to arrays only",
            e.loc("capacity"),
        )
        ok = False
    if capacity < s.num_fields and s.count is None:
        cx.err(
            "CAPACITY-TOO-SMALL",
            f"{s.name} has {s.num_fields} fields but the "
            f"member holds {capacity}; name the live-count field with 'count' so "
            "readers can check it, or raise 'capacity'",
            e.loc("capacity"),
        )
        ok = False
    dims = ((capacity,) if s.num_fields > 1 else ()) + (
        (s.num_elements,) if s.num_elements > 1 else ()
    )
    if dims_text:
        declared = tuple(int(d) for d in re.findall(r"[0-9]+", dims_text))
        if declared != dims:
            want = "".join(f"[{d}]" for d in dims) or "no dimensions"
            cx.err(
                "SHAPE-MISMATCH",
                f"member {s.member} does not match the field's "
                f"shape: {s.num_fields} field(s) x {s.num_elements} element(s)"
                f"{f', capacity {capacity}' if s.capacity else ''} gives {want}",
                e.loc("member"),
            )
            ok = False
    if C_TYPE_BYTES[s.type] < s.element_size and not s.truncate:
        cx.err(
            "TYPE-TOO-NARROW",
            f"{s.type} cannot hold the {s.element_size}-byte "
            f"element of {s.name}; use u{s.element_size * 8}, or set "
            "'truncate = true' if dropping the high bits is intended",
            e.loc("type"),
        )
        ok = False
    elif s.truncate and C_TYPE_BYTES[s.type] >= s.element_size:
        cx.warn(
            "TRUNCATE-UNNEEDED",
            f"'truncate' is set but {s.type} already holds the {s.element_size}-byte element",
            e.loc("truncate"),
        )
    if s.count is not None and s.num_fields == 1:
        cx.err(
            "COUNT-ON-SCALAR",
            f"{s.name} is not an array; 'count' applies to arrays only",
            e.loc("count"),
        )
        ok = False
    return ok


def check_bits(cx, e, s) -> tuple[tuple[Bit, ...], bool]:
    """(the named bits that are valid, whether all are)."""
    bits = []
    seen: dict[int, str] = {}
    if s.bits and not (s.num_fields == 1 and s.num_elements == 1):
        cx.err(
            "BITS-ON-ARRAY",
            f"{s.name} is an array; only scalar flag fields can name bits",
            e.loc("bits", key=True),
        )
        return (), False
    ok = True
    for name, spec in s.bits.items():
        index = spec if isinstance(spec, int) else spec.bit
        desc = "" if isinstance(spec, int) else spec.description
        good = abi_name(cx, e, name, "bit", "bits", name, key=True)
        if not 0 <= index < s.element_size * 8:
            cx.err(
                "BIT-RANGE",
                f"bit {name} = {index} is outside the {s.element_size * 8}-bit element of {s.name}",
                e.loc("bits", name),
            )
            good = False
        elif index in seen:
            cx.err(
                "DUPLICATE-BIT",
                f"bits {seen[index]} and {name} of {s.name} both name bit {index}",
                e.loc("bits", name),
                Note(f"{seen[index]} is defined here", e.loc("bits", seen[index])),
            )
            good = False
        else:
            seen[index] = name
        text_safe(cx, e, desc, "bits", name, "description")
        if good:
            bits.append(Bit(name, index, desc.strip()))
        ok = ok and good
    return tuple(sorted(bits, key=lambda b: b.bit)), ok


def check_overrides(cx, e, s, fid: int | None) -> tuple[Override, ...] | None:
    """Overrides name a compared attribute, give a reason, and differ from the schema.

    fid is None when the id is invalid (already reported): an id override is then
    checked for its form but not compared.
    """
    ours = {
        "id": fid,
        "element_size": s.element_size,
        "num_fields": s.num_fields,
        "num_elements": s.num_elements,
        "capacity": capacity_of(s),
    }
    out = []
    for key, spec in sorted(s.overrides.items()):
        good = True
        if key not in OVERRIDABLE:
            cx.err(
                "OVERRIDE-KEY",
                f"cannot override '{key}' (overridable: {', '.join(OVERRIDABLE)})",
                e.loc("overrides", key, key=True),
            )
            good = False
        value = spec.json_
        if key == "id":
            try:
                value = fieldid.parse(value) if isinstance(value, str) else None
            except ValueError:
                value = None
            if value is None:
                cx.err(
                    "OVERRIDE-VALUE",
                    "an id override gives the JSON's id as a hex "
                    'string, e.g. json = "0x9100000000000013"',
                    e.loc("overrides", key, "json"),
                )
                good = False
        elif not isinstance(value, int):
            cx.err(
                "OVERRIDE-VALUE",
                f"the JSON's {key} is a number, not {value!r}",
                e.loc("overrides", key, "json"),
            )
            good = False
        if not spec.reason.strip():
            cx.err(
                "OVERRIDE-REASON",
                f"override of {key} needs a reason (why the schema deviates from Intel's JSON)",
                e.loc("overrides", key, "reason"),
            )
            good = False
        else:
            text_safe(cx, e, spec.reason, "overrides", key, "reason")
        if good and ours[key] is not None and value == ours[key]:
            cx.err(
                "OVERRIDE-UNNEEDED",
                f"override of {key} says the JSON has {spec.json_}, "
                "which is the schema's own value; remove the override",
                e.loc("overrides", key, "json"),
            )
            good = False
        if good:
            out.append(Override(key, value, spec.reason.strip()))
    return tuple(out) if len(out) == len(s.overrides) else None
