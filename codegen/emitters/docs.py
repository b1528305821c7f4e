"""Docs: a Markdown reference of every global metadata field, by class.

One file, docs/global-metadata.md, rendered from
templates/docs/global-metadata.md.j2.  Cells are escaped here (pipes,
newlines) so the template only lays out tables.
"""

from __future__ import annotations

import re

from codegen.abi import fieldid
from codegen.emitters.render import banner_lines, render
from codegen.spec.model import Catalogue, Field, Struct
from codegen.outputs.writer import Output

PATH = "docs/global-metadata.md"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


# What Markdown reads as a block at the start of a line (heading, quote, list, rule, fence,
# setext underline, ordered list): escaped so a description stays a paragraph.
_BLOCK_START = re.compile(r"^(?:[#>+*=_~`-]|[0-9]+[.)])")


def paragraph(text: str) -> str:
    """Text safe as a line of its own: one line, not taken for a block marker."""
    text = cell(text)
    m = _BLOCK_START.match(text)
    return f"{text[:m.end() - 1]}\\{text[m.end() - 1:]}" if m else text


def heading(text: str) -> str:
    """Text safe at the end of an ATX heading: a trailing # would be read as its closing."""
    text = cell(text)
    return text[:-1] + "\\#" if text.endswith("#") else text


def code(text: str) -> str:
    return f"`{cell(text)}`" if text else ""


def shape(f: Field) -> str:
    text = str(f.num_fields) if f.num_elements == 1 else f"{f.num_fields} x {f.num_elements}"
    if f.capacity != f.num_fields:
        text += f" (capacity {f.capacity})"
    return text


def since(f: Field, catalogue: Catalogue) -> str:
    text = str(f.since) if f.since else "none public"
    return f"{text}, optional" if catalogue.optional(f) else text


def description(f: Field) -> str:
    text = f.description
    if f.unverified:
        text += f" Unverified: {f.unverified}."
    return cell(text)


def field_row(f: Field, s: Struct, catalogue: Catalogue) -> list[str]:
    gates = [g.text for g in (s.gate, f.gate) if g is not None]
    member = f"{s.c_name}.{f.member}" + "".join(f"[{n}]" for n in f.dims)
    return [code(f.name), code(fieldid.fmt(f.id)), str(f.element_size), shape(f), code(member),
            code(f.count or ""), cell(", ".join(gates)), cell(since(f, catalogue)), description(f)]


def emit(ctx) -> list[Output]:
    catalogue = ctx.catalogue
    structs = {s.name: s for s in catalogue.output_structs("docs")}
    fields = [f for f in catalogue.fields if f.struct in structs]  # (class, field code) order
    classes = []
    for md_class in catalogue.classes:
        mine = [f for f in fields if f.class_code == md_class.code]
        if not mine:
            continue
        classes.append({
            "code": f"{md_class.code:#04x}",
            "name": heading(md_class.name),
            "description": paragraph(md_class.description),
            "rows": [field_row(f, structs[f.struct], catalogue) for f in mine],
            "flags": [{"name": f.name,
                       "bits": [(b.bit, b.name, cell(b.description)) for b in f.bits]}
                      for f in mine if f.bits],
        })
    content = render(
        "docs/global-metadata.md.j2",
        banner=banner_lines(ctx),
        baseline=str(catalogue.settings.baseline),
        classes=classes,
        field_count=len(fields),
    )
    return [Output(PATH, content)]
