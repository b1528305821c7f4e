"""The HTML view of the docs: one self-contained page (inline CSS, the SVG inline).

Rendered from the same reference() as the Markdown, by
templates/docs/global-metadata.html.j2 inside an autoescape block, so
schema text is escaped once, by Jinja2.  No script, font or stylesheet is
loaded from anywhere: the page opens from disk without a network.
"""

from __future__ import annotations

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


# markupsafe's escape, which the template's autoescape applies, as one str.translate: no
# Markup object per cell
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&#39;", '"': "&#34;"})


def _tds(cells) -> str:
    out = []
    for text, code in cells:  # docs.Cell: its text, and whether it is code
        text = text.translate(_ESCAPE)
        out.append(f"<td><code>{text}</code></td>" if code and text else f"<td>{text}</td>")
    return "".join(out)


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
            + "".join(
                f'<td class="mark {css[m]}">{m.translate(_ESCAPE)}</td>' for m in row["marks"]
            )
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
