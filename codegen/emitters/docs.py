"""Docs: a reference of every global metadata field, as Markdown and as an HTML page.

Three files from one description of the page (reference()):
docs/global-metadata.md (templates/docs/global-metadata.md.j2), the
field-id picture it shows, docs/field-id.svg (codegen.emitters.svg), and
docs/global-metadata.html (templates/docs/global-metadata.html.j2), the
same content on one self-contained page with the SVG inline.  Cells are
kept as plain text with a flag for code; each format escapes them its own
way (Markdown here, HTML by the template's autoescape).
"""

from __future__ import annotations

import re
from typing import Any

from codegen.abi import fieldid
from codegen.emitters import html, svg
from codegen.emitters.render import banner_lines, render
from codegen.outputs.writer import Output
from codegen.spec import names
from codegen.spec.model import Catalogue, Field, Struct

PATH = "docs/global-metadata.md"
SVG_PATH = "docs/field-id.svg"
HTML_PATH = "docs/global-metadata.html"
EXAMPLE_FIELD = "MAX_TDMRS"  # the id decoded on the layout picture (else the first field)

FIELD_COLUMNS = ("Field", "ID", "Size", "Shape", "Member", "Count", "Gate", "Since", "Description")
# Availability marks: the module has the field (and readers read it); has it, but readers
# read it only when a feature bit says so; does not have it.
YES, GATED, ABSENT = "yes", "gated", "-"


# A table cell: its text, and whether it is set as code (Markdown backticks, HTML <code>).
# Plain tuples made by plain() and code(), not a NamedTuple: a 10,000-field page has 140,000
# cells, and making a NamedTuple costs more than the cell's own text.
Cell = tuple[str, bool]


def plain(value: str) -> Cell:
    return (value, False)


def code(value: str) -> Cell:
    return (value, True)


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
    return f"{text[: m.end() - 1]}\\{text[m.end() - 1 :]}" if m else text


def heading(text: str) -> str:
    """Text safe at the end of an ATX heading: a trailing # would be read as its closing."""
    text = cell(text)
    return text[:-1] + "\\#" if text.endswith("#") else text


def label(text: str) -> str:
    """Text safe as a link's label: a backslash or bracket would end or escape the link."""
    return cell(re.sub(r"([\\\[\]])", r"\\\1", text))  # before cell(): its \| stays one escape


def md_cells(row) -> list[str]:
    """Each Cell of a row as Markdown (code in backticks), in one comprehension: a
    10,000-field page has 140,000."""
    return [(f"`{cell(v)}`" if is_code else cell(v)) if v else "" for v, is_code in row]


def slug(title: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub's rule), also the HTML id."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def shape(f: Field) -> str:
    text = str(f.num_fields) if f.num_elements == 1 else f"{f.num_fields} x {f.num_elements}"
    if f.capacity != f.num_fields:
        text += f" (capacity {f.capacity})"
    return text


def since(f: Field, catalogue: Catalogue) -> str:
    text = str(f.since) if f.since else "none public"
    return f"{text}, optional" if catalogue.optional(f) else text


def description(f: Field) -> str:
    text = " ".join(f.description.split())
    if f.unverified:
        text += f" Unverified: {f.unverified}."
    return text


def member(f: Field, s: Struct) -> str:
    return f"{s.c_name}.{f.declarator}"


def field_row(f: Field, s: Struct, catalogue: Catalogue) -> list[Cell]:
    return [
        code(f.name),
        code(fieldid.canonical(f.id)),
        plain(str(f.element_size)),
        plain(shape(f)),
        code(member(f, s)),
        code(f.count or ""),
        plain(", ".join(g.text for g in s.gates(f))),
        plain(since(f, catalogue)),
        plain(description(f)),
    ]


def kernel_members(catalogue: Catalogue) -> dict[str, str]:
    """Field name -> where the kernel output reads it: sysinfo->struct.member, or for a
    struct read on its own (not in struct tdx_sys_info), its reader's sysinfo_struct->member."""
    out = {}
    kernel = catalogue.settings.kernel
    for s in catalogue.output_structs("kernel"):
        options = kernel.struct_options(s.name)
        if options.in_sysinfo:
            where = f"sysinfo->{options.member}."
        else:
            where = f"{names.c_param(s.name)}->"
        for f in catalogue.output_fields("kernel", s):
            out[f.name] = where + f.declarator
    return out


def availability(f: Field, s: Struct, present: frozenset, release) -> str:
    """The matrix mark of f in a module of `release` (present: the names it has)."""
    if f.name not in present:
        return ABSENT
    # a release gate is decided by the release itself; a feature gate by the module's bits
    gates = s.gates(f)
    held = all(g.release <= release for g in gates if g.release is not None)
    feature = any(g.release is None for g in gates)
    return GATED if feature or not held else YES


def readable(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def example_field(fields: list[Field]) -> Field:
    return next((f for f in fields if f.name == EXAMPLE_FIELD), fields[0])


def layout_rows(fid: int, catalogue: Catalogue) -> list[list[Cell]]:
    rows = []
    for name, bits, value in fieldid.explain(fid):
        says = fieldid.meaning(name, value)
        if name == "CLASS_CODE":
            cls = catalogue.md_class(value)
            says = cls.name if cls else "no such class in the schema"
        rows.append(
            [
                plain(bits),
                code(name),
                code(f"{value:#x}"),
                plain(says),
                plain(fieldid.purpose(name)),
            ]
        )
    return rows


def reference(catalogue: Catalogue) -> dict:
    """Everything the page shows, as plain text cells: the one source of both formats."""
    structs = {s.name: s for s in catalogue.output_structs("docs")}
    fields = [f for f in catalogue.fields if f.struct in structs]  # (class, field code) order
    kernel = kernel_members(catalogue)
    releases = [
        (r, frozenset(f.name for f in catalogue.fields_of(r.release))) for r in catalogue.releases
    ]
    by_class: dict[int, list[Field]] = {}
    for f in fields:
        by_class.setdefault(f.class_code, []).append(f)
    classes: list[dict[str, Any]] = []  # the templates' view of each class
    for md_class in catalogue.classes:
        mine = by_class.get(md_class.code, [])
        if not mine:
            continue
        title = f"Class {md_class.code:#04x}: {md_class.name}"
        classes.append(
            {
                "title": title,
                "anchor": slug(title),
                "description": md_class.description,
                "rows": [field_row(f, structs[f.struct], catalogue) for f in mine],
                "flags": [
                    {
                        "title": f"{f.name} bits",
                        "anchor": slug(f"{f.name} bits"),
                        "rows": [
                            [plain(str(b.bit)), code(b.name), plain(b.description)] for b in f.bits
                        ],
                    }
                    for f in mine
                    if f.bits
                ],
            }
        )
    matrix = []
    for f in fields:
        s = structs[f.struct]
        matrix.append(
            {
                "cells": [
                    code(f.name),
                    plain(f"{f.class_code:#04x}"),
                    plain(readable(f.host_readable)),
                    plain(readable(f.guest_readable)),
                    code(kernel.get(f.name, "")),
                ],
                "marks": [availability(f, s, present, r.release) for r, present in releases],
            }
        )
    example = example_field(fields)
    toc: list[tuple[str, str, list[tuple[str, str]]]] = [  # (title, anchor, sub-entries)
        ("Field id layout", slug("Field id layout"), []),
        ("Availability by release", slug("Availability by release"), []),
    ]
    toc += [
        (c["title"], c["anchor"], [(b["title"], b["anchor"]) for b in c["flags"]]) for c in classes
    ]
    return {
        "field_count": len(fields),
        "baseline": str(catalogue.settings.baseline),
        "toc": toc,
        "example": {
            "name": example.name,
            "id": fieldid.canonical(example.id),
            "rows": layout_rows(example.id, catalogue),
        },
        "svg": svg.layout_svg(
            example.id, f"MD_FIELD_ID layout: {example.name} = {fieldid.canonical(example.id)}"
        ),
        "releases": [str(r.release) for r, _ in releases],
        "matrix": matrix,
        "classes": classes,
        "columns": FIELD_COLUMNS,
        "marks": {"yes": YES, "gated": GATED, "absent": ABSENT},
    }


def markdown(ref: dict) -> dict:
    """ref with every cell and text escaped for Markdown."""
    rows = lambda rows: [" | ".join(md_cells(row)) for row in rows]
    return {
        **ref,
        "toc": [(label(t), a, [(label(bt), ba) for bt, ba in sub]) for t, a, sub in ref["toc"]],
        "example": {**ref["example"], "rows": rows(ref["example"]["rows"])},
        "matrix": [" | ".join(md_cells(r["cells"]) + r["marks"]) for r in ref["matrix"]],
        "classes": [
            {
                **c,
                "title": heading(c["title"]),
                "description": paragraph(c["description"]),
                "rows": rows(c["rows"]),
                "flags": [{**b, "rows": rows(b["rows"])} for b in c["flags"]],
            }
            for c in ref["classes"]
        ],
    }


def emit(ctx) -> list[Output]:
    catalogue = ctx.catalogue
    ref = reference(catalogue)
    banner = banner_lines(ctx, [r.source for r in catalogue.releases])
    content = render(
        "docs/global-metadata.md.j2",
        banner=[html.in_comment(line) for line in banner],
        svg_file=SVG_PATH.rsplit("/")[-1],
        **markdown(ref),
    )
    return [
        Output(PATH, content),
        Output(SVG_PATH, html.comment(banner) + ref["svg"]),
        Output(HTML_PATH, html.page(banner, ref)),
    ]
