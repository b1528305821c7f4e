"""Verbs explain and list: what an id means, what the catalogue holds."""

from __future__ import annotations

import os
import sys

from codegen.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    add_command,
    add_format_arg,
    add_schema_arg,
    emit,
    field_id,
    load_catalogue,
    parse_id,
    problem,
)

# The verbs register() adds: main() builds the parsers of one module, the verb's.
VERBS = ("explain", "list")


def register(sub) -> None:
    p = add_command(
        sub,
        "explain",
        help="decode a field id and name the field it belongs to",
        description="Show a field id on a bit ruler, each sub-field with its meaning, and "
        "the field of the\nschema that holds it (member, shape, gates, first release). "
        "Exit 1 when no field does.",
        examples=[
            "tdx-codegen explain 0x9100000100000008",
            "tdx-codegen explain MAX_TDMRS",
            "tdx-codegen explain 'CMR_BASE[3]' --format json",
        ],
    )
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
    add_format_arg(p)
    p.set_defaults(func=cmd_explain)

    p = add_command(
        sub,
        "list",
        help="the catalogue of fields as a table",
        description="Every field of the schema: class, id, name, element size, shape and "
        "the struct member\nit is read into.",
        examples=["tdx-codegen list", "tdx-codegen list --format json"],
    )
    add_schema_arg(p)
    add_format_arg(p)
    p.set_defaults(func=cmd_list)


# SGR colours of the sub-fields on a terminal, in turn; reserved ones are dim
_COLOURS = ("36", "33", "32", "35", "34", "31")
_DIM = "2"


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

    parse_id(args.id, "explain")  # a bad id is a usage error before the schema is read
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    fid = field_id(args.id, catalogue, "explain")
    if fid == fieldid.NULL_ID:
        null = (
            "the null id (-1): TDH.SYS.RD answers with the first field's id; "
            "TDH.SYS.RDALL starts at the first field"
        )
        text = fieldid.canonical(fid)
        if not emit(args, id=text, null=True, subfields=[], field=None, notes=[null]):
            print(f"{text}\n  {null}")
        return EXIT_OK
    d = fieldid.decode(fid)
    subfields = []
    for name, bits, value in fieldid.explain(fid):
        extra = fieldid.meaning(name, value)
        if name == "CLASS_CODE":
            cls = catalogue.md_class(value)
            extra = cls.name if cls else "(no such class in the schema)"
        subfields.append({"name": name, "bits": bits, "value": f"{value:#x}", "meaning": extra})
    notes = []
    if fid & fieldid.RESERVED_MASK:
        notes.append("reserved bits are set: TDH.SYS.RD answers TDX_METADATA_FIELD_ID_INCORRECT")
    if fid & fieldid.LAST_MASK:
        notes.append(
            "LAST_ELEMENT_IN_FIELD / LAST_FIELD_IN_SEQUENCE are set: this is a sequence "
            "header, not an element id; TDH.SYS.RD rejects it"
        )
    found = catalogue.locate(fid)
    field = None
    if found is not None:
        f, index, element = found
        struct = catalogue.struct(f.struct)
        if d.element_size != f.element_size:
            notes.append(
                f"ELEMENT_SIZE_CODE says {d.element_size} byte(s) but {f.name} has "
                f"{f.element_size}: TDH.SYS.RD ignores it, TDH.SYS.RDALL rejects it"
            )
        if (fid ^ f.id) & fieldid.NON_ARCH_BIT:
            notes.append("bit 63 differs from the table's id: not part of the lookup key")
        field = {
            "name": f.name,
            "index": index if f.is_array else None,
            "element": element if f.num_elements > 1 else None,
            "member": f"{struct.c_name}.{f.declarator}",
            "type": f.ctype,
            "num_fields": f.num_fields,
            "num_elements": f.num_elements,
            "element_size": f.element_size,
            "base_id": fieldid.canonical(f.id),
            "count": f.count or None,
            "gates": [g.text for g in struct.gates(f)],
            "since": str(f.since) if f.since else None,
        }
    missing = f"no field of the schema holds class {d.class_code:#04x} field code {d.field_code:#x}"
    text = fieldid.canonical(fid)
    if emit(args, id=text, null=False, subfields=subfields, field=field, notes=notes):
        if field is None:
            problem(args, "NO-FIELD", missing)
        return EXIT_OK if field is not None else EXIT_INVALID
    print(text)
    lines, colours = ruler(fid, use_colour(args.color))
    print("\n".join(lines))
    for sf in subfields:
        extra = f"  {sf['meaning']}" if sf["meaning"] else ""
        name = paint(f"{sf['name']:<24}", colours[sf["name"]] or None)
        print(f"  {name}{sf['bits']:>6}  {sf['value']}{extra}")
    if field is None:
        print(missing, file=sys.stderr)
        for p in notes:
            print(f"note: {p}", file=sys.stderr)
        return EXIT_INVALID
    where = field["name"]
    if field["index"] is not None:
        where += f"[{field['index']}]"
    if field["element"] is not None:
        where += f" element {field['element']} of {field['num_elements']}"
    print(f"field: {where}")
    print(f"  member:   {field['member']} ({field['type']})")
    print(
        f"  shape:    {field['num_fields']} field(s) x {field['num_elements']} element(s) of "
        f"{field['element_size']} byte(s), base id {field['base_id']}"
    )
    if field["count"]:
        print(f"  count:    {field['count']}")
    gates = field["gates"]
    print(f"  gate:     {', '.join(gates) if gates else 'none (always read)'}")
    print(f"  since:    {field['since'] or 'no public module release'}")
    for p in notes:
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
                "id": fieldid.canonical(f.id),
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
    if emit(args, fields=rows):
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
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK
