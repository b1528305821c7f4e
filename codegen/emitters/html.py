"""The HTML view of the docs: one self-contained page (inline CSS, the SVG inline).

Rendered from the same reference() as the Markdown, by
templates/docs/global-metadata.html.j2 inside an autoescape block, so
schema text is escaped once, by Jinja2.  No script, font or stylesheet is
loaded from anywhere: the page opens from disk without a network.
"""

from __future__ import annotations

import re

from markupsafe import Markup

from codegen.emitters.render import render


def in_comment(line: str) -> str:
    """A line for inside an HTML comment (Markdown's too): '--' may not appear there, and a
    schema file named 10-x-->.toml would end the comment."""
    return line.replace("--", "- -")


def comment(banner: list[str]) -> str:
    """The banner as an HTML/XML comment."""
    body = "\n".join(map(in_comment, banner))
    return f"<!--\n{body}\n-->\n"


_SPECIAL = re.compile("[&<>'\"]").search


def escape(text: str) -> str:
    """markupsafe's escape, which the template's autoescape applies, as a str (no Markup
    object per cell).  Most cells have nothing to escape: one search finds that, and
    str.replace, five times, is twice as fast as str.translate with a table."""
    if not _SPECIAL(text):
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("'", "&#39;").replace('"', "&#34;")


def _tds(cells) -> str:
    """The <td>s of docs.Cells (text, is code): one comprehension, as a page has 140,000."""
    return "".join(
        [
            f"<td><code>{escape(text)}</code></td>" if code and text else f"<td>{escape(text)}</td>"
            for text, code in cells
        ]
    )


# A table's rows come from these functions, not from a loop and a macro in the template: a
# Jinja2 macro call costs more than the row it writes, and a 10,000-field page has 20,000
# rows.  Each row is one line, as the template's own loops wrote them.


def rows(table) -> Markup:
    """<tr> lines of rows of Cells, escaped as the template's autoescape would escape them."""
    return Markup("".join(f"<tr>{_tds(row)}</tr>\n" for row in table))


def matrix_rows(matrix, marks: dict) -> Markup:
    """<tr> lines of the availability matrix: a row's cells, then one mark per release."""
    css = {marks["yes"]: "yes", marks["gated"]: "gated", marks["absent"]: "absent"}
    return Markup(
        "".join(
            f"<tr>{_tds(row['cells'])}"
            + "".join(f'<td class="mark {css[m]}">{escape(m)}</td>' for m in row["marks"])
            + "</tr>\n"
            for row in matrix
        )
    )


def page(banner: list[str], ref: dict) -> str:
    return render(
        "docs/global-metadata.html.j2",
        banner=comment(banner),
        rows=rows,
        matrix_rows=matrix_rows,
        **ref,
    )
