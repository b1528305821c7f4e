"""Classes and field ids: what the TDX module's metadata table will accept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codegen.abi import fieldid
from codegen.spec import elaborate
from codegen.spec.diagnostics import Note
from codegen.spec.model import MdClass, Source
from codegen.spec.rules import error
from codegen.spec.rules.names import text_safe

if TYPE_CHECKING:
    from codegen.spec.compiler import Entry

RULES = (
    error("DUPLICATE-CLASS", "Each class code and class name is declared once."),
    error("UNKNOWN-CLASS", "A field's class is declared by a [class] table."),
    error(
        "ID-FORMAT",
        "An id is a 64-bit number written in hex, starting with 0x.",
        "a field identifier is 64 bits",
    ),
    error(
        "ID-RESERVED-BITS",
        "An id sets no reserved bit.",
        "the reserved bits of a field identifier are 0",
    ),
    error(
        "ID-LAST-BITS",
        "A base id has LAST_ELEMENT_IN_FIELD and LAST_FIELD_IN_SEQUENCE 0.",
        "those bits describe a sequence in TDH.SYS.RDALL output, not a field",
    ),
    error("ID-CONTEXT", "An id has CONTEXT_CODE 0.", "global metadata has context code 0"),
    error(
        "ID-FLAG-BITS",
        "An id has INC_SIZE and WRITE_MASK_VALID 0.",
        "a global field's base id has both 0",
    ),
    error("ID-CLASS-MISMATCH", "The id's CLASS_CODE is the field's declared class."),
    error(
        "ID-SIZE-MISMATCH",
        "The id's ELEMENT_SIZE_CODE encodes element_size.",
        "ELEMENT_SIZE_CODE n means elements of 2^n bytes",
    ),
    error(
        "ID-RANGE-OVERFLOW",
        "A field's elements have field codes within 24 bits.",
        "FIELD_CODE is 24 bits; element k of an entry has field code + k",
    ),
    error(
        "DUPLICATE-ID",
        "No two fields share a class and field code.",
        "the module looks a field up by class and field code; bit 63 (non-architectural) "
        "is not part of the key",
    ),
    error(
        "ID-RANGE-OVERLAP",
        "No field's id lies inside another field's range of elements.",
        "element k of an entry of num_fields x num_elements has field code + k",
    ),
)


def check_classes(cx) -> dict[int, MdClass]:
    out: dict[int, MdClass] = {}
    names: dict[str, Entry] = {}
    code_locs: dict[int, Entry] = {}
    for e in cx.classes:
        spec = e.spec
        if spec is None:
            continue
        text_safe(cx, e, spec.name, "name")
        text_safe(cx, e, spec.description, "description")
        if spec.code in out:
            cx.dup(
                "DUPLICATE-CLASS",
                f"class code {spec.code:#04x} is declared twice",
                e.loc("code"),
                code_locs[spec.code].loc("code"),
            )
            if spec.name in names:
                cx.dup(
                    "DUPLICATE-CLASS",
                    f"class name '{spec.name}' is declared twice",
                    e.loc("name"),
                    names[spec.name].loc("name"),
                )
            continue
        if spec.name in names:
            cx.dup(
                "DUPLICATE-CLASS",
                f"class name '{spec.name}' is declared twice",
                e.loc("name"),
                names[spec.name].loc("name"),
            )
        else:
            names[spec.name] = e  # locations are looked up only for a duplicate
        out[spec.code] = elaborate.md_class(spec, Source(e.doc.shown, e.line, e.path))
        code_locs[spec.code] = e
    return out


def class_code(cx, e, s, classes: dict[int, MdClass]) -> tuple[bool, int | None]:
    """(valid, class code) of a field's class, given as a code or a name."""
    if isinstance(s.class_, str):
        class_by_name = {c.name: c.code for c in classes.values()}
        code = class_by_name.get(s.class_)
        if code is None:
            cx.err(
                "UNKNOWN-CLASS",
                f"class '{s.class_}' is not declared by any [class] "
                f"table (known: {', '.join(sorted(class_by_name)) or 'none'})",
                e.loc("class"),
            )
            return False, None
        return True, code
    if s.class_ not in classes:
        known = ", ".join(f"{c:#04x}" for c in sorted(classes)) or "none"
        cx.err(
            "UNKNOWN-CLASS",
            f"class {s.class_:#04x} is not declared by any [class] table (known: {known})",
            e.loc("class"),
        )
        return False, None  # reported once, not again as an id mismatch
    return True, s.class_


def parse_id(cx, e, s) -> int | None:
    try:
        fid = fieldid.parse(s.id)
        if not s.id.strip().lower().startswith("0x"):
            raise ValueError(f"'{s.id}' must be written in hex, starting with 0x")
    except ValueError as exc:
        cx.err("ID-FORMAT", str(exc), e.loc("id"))
        return None
    return fid


def check_id(cx, e, s, fid: int, code) -> bool:
    d = fieldid.decode(fid)
    text = fieldid.canonical(fid)
    problems = []
    if fid & fieldid.RESERVED_MASK:
        bits = [
            name.replace("RESERVED_", "").replace("_", ":")
            for name, lo, w in fieldid.LAYOUT
            if name.startswith("RESERVED") and fieldid.get(fid, name)
        ]
        problems.append(
            (
                "ID-RESERVED-BITS",
                f"id {text} sets reserved bits ({', '.join(bits)}); they must be 0",
            )
        )
    if fid & fieldid.LAST_MASK:
        problems.append(
            (
                "ID-LAST-BITS",
                f"id {text} sets LAST_ELEMENT_IN_FIELD="
                f"{d.last_element_in_field} / LAST_FIELD_IN_SEQUENCE="
                f"{d.last_field_in_sequence}; a base id has both 0 (give the shape "
                "with num_fields and num_elements)",
            )
        )
    if d.context_code:
        problems.append(
            (
                "ID-CONTEXT",
                f"id {text} has CONTEXT_CODE {d.context_code}; global metadata has context 0",
            )
        )
    if d.inc_size or d.write_mask_valid:
        problems.append(
            (
                "ID-FLAG-BITS",
                f"id {text} sets INC_SIZE or WRITE_MASK_VALID; a global field's base id has both 0",
            )
        )
    if code is not None and d.class_code != code:
        problems.append(
            (
                "ID-CLASS-MISMATCH",
                f"id {text} encodes class {d.class_code:#04x} "
                f"but the field declares class {code:#04x}",
            )
        )
    if d.element_size != s.element_size:
        problems.append(
            (
                "ID-SIZE-MISMATCH",
                f"id {text} encodes ELEMENT_SIZE_CODE "
                f"{d.element_size_code} ({d.element_size} bytes) but element_size "
                f"is {s.element_size}",
            )
        )
    if d.field_code + s.num_fields * s.num_elements - 1 > fieldid.MAX_FIELD_CODE:
        problems.append(("ID-RANGE-OVERFLOW", f"{s.name} covers field codes past 0xFFFFFF"))
    for rule, message in problems:
        cx.err(rule, message, e.loc("id"))
    return not problems


def check_id_ranges(cx, fields) -> None:
    """No shared id (bit 63 ignored) and no overlapping ranges: one sorted pass."""
    ordered = sorted(fields, key=lambda f: (f.key, f.source.file, f.source.line))
    prev = None
    for f in ordered:
        if prev is not None and prev.class_code == f.class_code:
            if prev.field_code == f.field_code:
                cx.err(
                    "DUPLICATE-ID",
                    f"{f.name} has the same id as {prev.name} "
                    f"(class {f.class_code:#04x}, field code {f.field_code:#x}; bit 63 is "
                    "not part of the lookup key)",
                    cx.field_loc(f, "id"),
                    Note(f"{prev.name} is defined here", cx.field_loc(prev, "id")),
                )
            elif prev.field_code + prev.num_ids > f.field_code:
                last = prev.field_code + prev.num_ids - 1
                cx.err(
                    "ID-RANGE-OVERLAP",
                    f"{f.name} (field code {f.field_code:#x}) lies "
                    f"inside {prev.name}, which covers field codes "
                    f"{prev.field_code:#x}..{last:#x}",
                    cx.field_loc(f, "id"),
                    Note(f"{prev.name} is defined here", cx.field_loc(prev, "id")),
                )
        if (
            prev is None
            or prev.class_code != f.class_code
            or f.field_code + f.num_ids > prev.field_code + prev.num_ids
        ):
            prev = f
