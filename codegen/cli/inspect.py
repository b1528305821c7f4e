"""Verbs explain and list: what an id means, what the catalogue holds."""

from __future__ import annotations

import json
import sys

from codegen.cli.common import (EXIT_INVALID, EXIT_OK, UsageError, add_format_arg, add_schema_arg,
                                load_catalogue)



def register(sub) -> None:
    p = sub.add_parser("explain", help="decode a field id and name the field it belongs to")
    p.add_argument("id", metavar="ID", help="field id, e.g. 0x9100000100000008 (-1: the null id)")
    add_schema_arg(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("list", help="the catalogue of fields as a table")
    add_schema_arg(p)
    add_format_arg(p)
    p.set_defaults(func=cmd_list)


def cmd_explain(args) -> int:
    from codegen.abi import fieldid

    try:
        fid = fieldid.parse(args.id)
    except ValueError as exc:
        raise UsageError(f"cannot explain '{args.id}': {exc}") from None
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    print(fieldid.fmt(fid))
    if fid == fieldid.NULL_ID:
        print("  the null id (-1): TDH.SYS.RD answers with the first field's id; "
              "TDH.SYS.RDALL starts at the first field")
        return EXIT_OK
    d = fieldid.decode(fid)
    for name, bits, value in fieldid.explain(fid):
        extra = ""
        if name == "CLASS_CODE":
            cls = catalogue.md_class(value)
            extra = f"  {cls.name}" if cls else "  (no such class in the schema)"
        elif name == "ELEMENT_SIZE_CODE":
            extra = f"  {fieldid.ELEMENT_SIZES[value]} byte(s)"
        elif name == "CONTEXT_CODE":
            extra = "  " + {0: "global (SYS)", 1: "TD", 2: "VCPU"}.get(value, "reserved")
        elif name.startswith("RESERVED") and value:
            extra = "  must be 0"
        print(f"  {name:<24}{bits:>6}  {value:#x}{extra}")
    problems = []
    if fid & fieldid.RESERVED_MASK:
        problems.append("reserved bits are set: TDH.SYS.RD answers TDX_METADATA_FIELD_ID_INCORRECT")
    if fid & fieldid.LAST_MASK:
        problems.append("LAST_ELEMENT_IN_FIELD / LAST_FIELD_IN_SEQUENCE are set: this is a sequence "
                        "header, not an element id; TDH.SYS.RD rejects it")
    found = catalogue.locate(fid)
    if found is None:
        print(f"no field of the schema holds class {d.class_code:#04x} field code "
              f"{d.field_code:#x}", file=sys.stderr)
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
    print(f"  shape:    {f.num_fields} field(s) x {f.num_elements} element(s) of "
          f"{f.element_size} byte(s), base id {fieldid.fmt(f.id)}")
    if f.count:
        print(f"  count:    {f.count}")
    gates = [g.text for g in (struct.gate, f.gate) if g is not None]
    print(f"  gate:     {', '.join(gates) if gates else 'none (always read)'}")
    print(f"  since:    {f.since or 'no public module release'}")
    if d.element_size != f.element_size:
        problems.append(f"ELEMENT_SIZE_CODE says {d.element_size} byte(s) but {f.name} has "
                        f"{f.element_size}: TDH.SYS.RD ignores it, TDH.SYS.RDALL rejects it")
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
        rows.append({
            "name": f.name, "id": fieldid.fmt(f.id), "class": f.class_code,
            "element_size": f.element_size, "num_fields": f.num_fields,
            "num_elements": f.num_elements, "struct": structs[f.struct].c_name,
            "member": f.member, "type": f.ctype, "capacity": f.capacity, "count": f.count,
            "since": str(f.since) if f.since else None,
        })
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    header = ("CLASS", "ID", "NAME", "SIZE", "SHAPE", "STRUCT.MEMBER")
    table = [header]
    for r in rows:
        shape = f"{r['num_fields']}x{r['num_elements']}"
        table.append((f"{r['class']:#04x}", r["id"], r["name"], str(r["element_size"]), shape,
                      f"{r['struct']}.{r['member']}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK
