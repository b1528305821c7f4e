"""What import-json prints: normalised records, or [[field]] tables to paste.

The TOML is a starting point for fields the schema lacks (matched by class
and field code): id, class, shape and access come from the JSON; struct is
the one of the schema field just before it in its class ("TODO" for a new
class),
member and type follow the ABI name and element size.  The compiler then
checks the result like any other schema text.
"""

from __future__ import annotations

import json

from codegen.abi import fieldid
from codegen.abi.release import Release
from codegen.evolve.intel_json import JsonField, JsonRelease
from codegen.spec.model import Catalogue


def records(rel: JsonRelease) -> dict:
    return {
        "file": rel.file,
        "info": rel.info,
        "version": rel.version,
        "fields": [
            {
                "name": f.name,
                "id": fieldid.canonical(f.id),
                "class": f.class_code,
                "element_size": f.element_size,
                "num_fields": f.num_fields,
                "num_elements": f.num_elements,
                "host_access": f.host_access,
                "guest_access": f.guest_access,
                "description": f.description,
                "line": f.line,
            }
            for f in rel.fields
        ],
    }


def _readable(access: str) -> bool:
    return access.strip().upper().startswith("R")


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def toml_stubs(rel: JsonRelease, cat: Catalogue) -> str:
    known = {f.key for f in cat.fields}
    try:
        since = str(Release.parse(rel.version.strip()))
    except ValueError:
        since = None
    missing = [f for f in rel.fields if f.key not in known]
    out = [f"# {len(missing)} field(s) of {rel.file} that the schema lacks"]
    for f in missing:
        out.append("")
        out.extend(_stub(f, _neighbour_struct(cat, f), since))
    return "\n".join(out) + "\n"


def _neighbour_struct(cat: Catalogue, f: JsonField) -> str:
    """The struct of the schema field just before this one in its class (else just after)."""
    same = [g for g in cat.fields if g.class_code == f.class_code]
    before = [g for g in same if g.key < f.key]
    pick = before[-1] if before else (same[0] if same else None)
    return pick.struct if pick else "TODO"


def _stub(f: JsonField, struct: str, since: str | None) -> list[str]:
    lines = [
        "[[field]]",
        f"name = {_q(f.name)}",
        f'id = "{fieldid.canonical(f.id)}"',
        f"class = {f.class_code:#04x}",
        f"element_size = {f.element_size}",
    ]
    if f.num_fields > 1:
        lines.append(f"num_fields = {f.num_fields}")
    if f.num_elements > 1:
        lines.append(f"num_elements = {f.num_elements}")
    lines += [
        f"struct = {_q(struct)}",
        f"member = {_q(f.name.lower())}",
        f'type = "u{f.element_size * 8}"',
    ]
    if since:
        lines.append(f'since = "{since}"')
    if f.host_access and not _readable(f.host_access):
        lines.append("host_readable = false")
    if f.guest_access:
        lines.append(f"guest_readable = {str(_readable(f.guest_access)).lower()}")
    lines.append(f"description = {_q(f.description or f.name)}")
    return lines
