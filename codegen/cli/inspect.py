"""Verbs explain and list: what an id means, what the catalogue holds."""

from __future__ import annotations

import json
import os
import re
import sys

from codegen.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    add_format_arg,
    add_schema_arg,
    load_catalogue,
)


def register(sub) -> None:
    p = sub.add_parser("explain", help="decode a field id and name the field it belongs to")
    p.add_argument(
        "id",
        metavar="ID",
        help="field id, e.g. 0x9100000100000008 (-1: the null id), "
        "or a field name, e.g. MAX_TDMRS or CMR_BASE[3]",
    )
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the bit ruler (default auto: on a terminal, unless NO_COLOR is set)",
    )
    add_schema_arg(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("list", help="the catalogue of fields as a table")
    add_schema_arg(p)
    add_format_arg(p)
    p.set_defaults(func=cmd_list)


# A field name, optionally with an element index: MAX_TDMRS, CMR_BASE[3], CPUID_CONFIG_VALUES[1][0]
_FIELD_REF = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9]+)\](?:\[([0-9]+)\])?)?\Z")
# SGR colours of the sub-fields on a terminal, in turn; reserved ones are dim
_COLOURS = ("36", "33", "32", "35", "34", "31")
_DIM = "2"


def field_ref(text: str, catalogue) -> int:
    """The id of a field name (its base id) or of NAME[i] / NAME[i][j]; UsageError if none."""
    import difflib

    m = _FIELD_REF.match(text.strip())
    name, index, element = m.groups()
    try:
        f = catalogue.field(name)
    except KeyError:
        close = difflib.get_close_matches(name, [f.name for f in catalogue.fields], 1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(
            f"cannot explain '{text}': no field named {name} in the schema{hint}; "
            "ids are written as 0x followed by hex digits"
        ) from None
    i, j = int(index or 0), int(element or 0)
    if i >= f.num_fields or j >= f.num_elements:
        raise UsageError(
            f"cannot explain '{text}': {name} has {f.num_fields} field(s) of "
            f"{f.num_elements} element(s)"
        )
    return f.element_id(i, j)


def use_colour(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def paint(text: str, sgr: str | None) -> str:
    return f"\x1b[{sgr}m{text}\x1b[0m" if sgr else text


def ruler(fid: int, colour: bool) -> tuple[list[str], dict[str, str]]:
    """The id's bits under their bit numbers (tens, then units), a | between sub-fields;
    and the colour of each sub-field (empty without colour)."""
    from codegen.abi import fieldid

    tens, units, bits, colours = [], [], [], {}
    turn = 0
    for name, lo, width in reversed(fieldid.LAYOUT):
        if name.startswith("RESERVED"):
            sgr = _DIM
        else:
            sgr, turn = _COLOURS[turn % len(_COLOURS)], turn + 1
        colours[name] = sgr if colour else ""
        span = range(lo + width - 1, lo - 1, -1)
        tens.append("".join(str(b // 10) for b in span))
        units.append("".join(str(b % 10) for b in span))
        bits.append(paint("".join(str((fid >> b) & 1) for b in span), colours[name] or None))
    return ["   " + " ".join(tens), "   " + " ".join(units), "  |" + "|".join(bits) + "|"], colours


def cmd_explain(args) -> int:
    from codegen.abi import fieldid

    by_name = _FIELD_REF.match(args.id.strip()) is not None
    if not by_name:
        try:
            fid = fieldid.parse(args.id)
        except ValueError as exc:
            raise UsageError(f"cannot explain '{args.id}': {exc}") from None
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    if by_name:
        fid = field_ref(args.id, catalogue)
    print(fieldid.fmt(fid))
    if fid == fieldid.NULL_ID:
        print(
            "  the null id (-1): TDH.SYS.RD answers with the first field's id; "
            "TDH.SYS.RDALL starts at the first field"
        )
        return EXIT_OK
    d = fieldid.decode(fid)
    lines, colours = ruler(fid, use_colour(args.color))
    print("\n".join(lines))
    for name, bits, value in fieldid.explain(fid):
        extra = fieldid.meaning(name, value)
        if name == "CLASS_CODE":
            cls = catalogue.md_class(value)
            extra = cls.name if cls else "(no such class in the schema)"
        extra = f"  {extra}" if extra else ""
        print(f"  {paint(f'{name:<24}', colours[name] or None)}{bits:>6}  {value:#x}{extra}")
    problems = []
    if fid & fieldid.RESERVED_MASK:
        problems.append("reserved bits are set: TDH.SYS.RD answers TDX_METADATA_FIELD_ID_INCORRECT")
    if fid & fieldid.LAST_MASK:
        problems.append(
            "LAST_ELEMENT_IN_FIELD / LAST_FIELD_IN_SEQUENCE are set: this is a sequence "
            "header, not an element id; TDH.SYS.RD rejects it"
        )
    found = catalogue.locate(fid)
    if found is None:
        print(
            f"no field of the schema holds class {d.class_code:#04x} field code {d.field_code:#x}",
            file=sys.stderr,
        )
        for p in problems:
            print(f"note: {p}", file=sys.stderr)
        return EXIT_INVALID
    f, index, element = found
    struct = catalogue.struct(f.struct)
    where = f.name
    if f.is_array:
        where += f"[{index}]"
    if f.num_elements > 1:
        where += f" element {element} of {f.num_elements}"
    print(f"field: {where}")
    member = f"{struct.c_name}.{f.member}" + "".join(f"[{n}]" for n in f.dims)
    print(f"  member:   {member} ({f.ctype})")
    print(
        f"  shape:    {f.num_fields} field(s) x {f.num_elements} element(s) of "
        f"{f.element_size} byte(s), base id {fieldid.fmt(f.id)}"
    )
    if f.count:
        print(f"  count:    {f.count}")
    gates = [g.text for g in (struct.gate, f.gate) if g is not None]
    print(f"  gate:     {', '.join(gates) if gates else 'none (always read)'}")
    print(f"  since:    {f.since or 'no public module release'}")
    if d.element_size != f.element_size:
        problems.append(
            f"ELEMENT_SIZE_CODE says {d.element_size} byte(s) but {f.name} has "
            f"{f.element_size}: TDH.SYS.RD ignores it, TDH.SYS.RDALL rejects it"
        )
    if (fid ^ f.id) & fieldid.NON_ARCH_BIT:
        problems.append("bit 63 differs from the table's id: not part of the lookup key")
    for p in problems:
        print(f"  note:     {p}")
    return EXIT_OK


def cmd_list(args) -> int:
    from codegen.abi import fieldid

    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    structs = {s.name: s for s in catalogue.structs}
    rows = []
    for f in catalogue.fields:
        rows.append(
            {
                "name": f.name,
                "id": fieldid.fmt(f.id),
                "class": f.class_code,
                "element_size": f.element_size,
                "num_fields": f.num_fields,
                "num_elements": f.num_elements,
                "struct": structs[f.struct].c_name,
                "member": f.member,
                "type": f.ctype,
                "capacity": f.capacity,
                "count": f.count,
                "since": str(f.since) if f.since else None,
            }
        )
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    header = ("CLASS", "ID", "NAME", "SIZE", "SHAPE", "STRUCT.MEMBER")
    table = [header]
    for r in rows:
        shape = f"{r['num_fields']}x{r['num_elements']}"
        table.append(
            (
                f"{r['class']:#04x}",
                r["id"],
                r["name"],
                str(r["element_size"]),
                shape,
                f"{r['struct']}.{r['member']}",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK
