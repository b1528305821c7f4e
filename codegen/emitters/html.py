"""The HTML view of the docs: one self-contained page (inline CSS, the SVG inline).

Rendered from the same reference() as the Markdown, by
templates/docs/global-metadata.html.j2 inside an autoescape block, so
schema text is escaped once, by Jinja2.  No script, font or stylesheet is
loaded from anywhere: the page opens from disk without a network.
"""

from __future__ import annotations

from codegen.emitters.render import render


def in_comment(line: str) -> str:
    """A line for inside an HTML comment (Markdown's too): '--' may not appear there, and a
    schema file named 10-x-->.toml would end the comment."""
    return line.replace("--", "- -")


def comment(banner: list[str]) -> str:
    """The banner as an HTML/XML comment."""
    body = "\n".join(map(in_comment, banner))
    return f"<!--\n{body}\n-->\n"


def page(banner: list[str], ref: dict) -> str:
    return render("docs/global-metadata.html.j2", banner=comment(banner), **ref)
