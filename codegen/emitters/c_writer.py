"""Kernel C layout: the one place that knows tabs, 100 columns and aligned defines.

The kernel emitter builds statements with a CodeWriter and lays out
defines and comments with the helpers here; templates only arrange the
pieces.  Every line is checked against the same rules the tests apply
(see problems()).
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager

TAB = 8
MAX_COLUMNS = 100


def columns(line: str) -> int:
    """Display width of a line, tabs expanded to the next multiple of 8."""
    return len(line.expandtabs(TAB))


def indent_to(column: int) -> str:
    """Tabs then spaces reaching a display column (kernel continuation style)."""
    return "\t" * (column // TAB) + " " * (column % TAB)


def align_defines(pairs: list[tuple[str, str]], comments: dict[str, str] | None = None) -> list[str]:
    """#define NAME<tabs>VALUE lines with every value starting at the same tab stop."""
    if not pairs:
        return []
    widest = max(len(f"#define {name}") for name, _ in pairs)
    stop = (widest // TAB + 1) * TAB
    lines = []
    for name, value in pairs:
        head = f"#define {name}"
        tabs = -(-(stop - len(head)) // TAB)
        line = f"{head}{chr(9) * tabs}{value}"
        comment = (comments or {}).get(name)
        if comment and columns(f"{line}\t/* {comment} */") <= MAX_COLUMNS:
            line += f"\t/* {comment} */"
        lines.append(line)
    return lines


def comment(text: str | list[str], indent: int = 0) -> list[str]:
    """A C comment wrapped to the column limit: one line when it fits, else a block."""
    paragraphs = [text] if isinstance(text, str) else list(text)
    lead = "\t" * indent
    if len(paragraphs) == 1 and "\n" not in paragraphs[0]:
        one = f"{lead}/* {paragraphs[0]} */"
        if columns(one) <= MAX_COLUMNS:
            return [one]
    width = MAX_COLUMNS - columns(f"{lead} * ")
    body = []
    for para in paragraphs:
        if para == "":
            body.append(f"{lead} *")
            continue
        for line in para.split("\n"):
            # a line keeps its own indentation (the banner's file list)
            lead_ws = line[:len(line) - len(line.lstrip())]
            # a word longer than the line is split rather than left past column 100
            wrapped = textwrap.wrap(line.strip(), width, break_long_words=True,
                                    break_on_hyphens=False, initial_indent=lead_ws,
                                    subsequent_indent=lead_ws)
            body.extend(f"{lead} * {w}" for w in wrapped or [""])
    return [f"{lead}/*", *(b.rstrip() for b in body), f"{lead} */"]


def align_continuations(text: str) -> str:
    """Align the backslashes of each multi-line macro at one tab stop."""
    lines = text.split("\n")
    out: list[str] = []
    run: list[str] = []
    for line in lines + [""]:
        if line.endswith("\\"):
            run.append(line[:-1].rstrip())
            continue
        if run:
            stop = (max(columns(body) for body in run) // TAB + 1) * TAB
            for body in run:
                tabs = -(-(stop - columns(body)) // TAB)
                out.append(body + "\t" * tabs + "\\")
            run = []
        out.append(line)
    return "\n".join(out[:-1])


class CodeWriter:
    """Lines of C at a current indentation level, wrapped to the column limit."""

    def __init__(self, level: int = 1):
        self.level = level
        self.lines: list[str] = []

    def line(self, text: str = "") -> None:
        self.lines.append("\t" * self.level + text if text else "")

    def fill(self, head: str, pieces: list[str], tail: str = "") -> None:
        """head + pieces + tail on one line, or broken after pieces, aligned after head.

        pieces carry their own separators ("a,", "b"); lines join them with
        a space.  Continuation lines start at the column where head ends
        (after an opening parenthesis, as kernel style aligns arguments).
        """
        lead = "\t" * self.level
        one = lead + head + " ".join(pieces) + tail
        if columns(one) <= MAX_COLUMNS or not pieces:
            self.lines.append(one)
            return
        cont = indent_to(columns(lead + head))
        current = lead + head + pieces[0]
        if columns(current + (tail if len(pieces) == 1 else "")) > MAX_COLUMNS:
            # even the first piece does not fit after head (long names): break after
            # head and indent the pieces one tab deeper instead
            self.lines.append(lead + head.rstrip())
            cont = lead + "\t"
            current = cont + pieces[0]
        for n, piece in enumerate(pieces[1:], 2):
            end = tail if n == len(pieces) else ""
            if columns(f"{current} {piece}{end}") <= MAX_COLUMNS:
                current += " " + piece
            else:
                self.lines.append(current)
                current = cont + piece
        self.lines.append(current + tail)

    def extend(self, lines: list[str]) -> None:
        self.lines.extend(lines)

    @contextmanager
    def block(self, head: str | None = None, *, braces: bool = True):
        """A nested block: `head {` ... `}` (or only indented, for one statement)."""
        if head is not None:
            self.line(head + " {" if braces else head)
        self.level += 1
        try:
            yield self
        finally:
            self.level -= 1
            if head is not None and braces:
                self.line("}")

    def text(self) -> str:
        return "\n".join(self.lines)


def problems(text: str) -> list[str]:
    """Kernel-style violations in generated C: what and on which line."""
    out = []
    lines = text.split("\n")
    for n, line in enumerate(lines, 1):
        if columns(line) > MAX_COLUMNS:
            out.append(f"line {n}: {columns(line)} columns (limit {MAX_COLUMNS})")
        if line != line.rstrip():
            out.append(f"line {n}: trailing whitespace")
        if line.startswith(" ") and not line.startswith(" *"):
            out.append(f"line {n}: indented with spaces")
    if not text.endswith("\n") or text.endswith("\n\n"):
        out.append("file must end with exactly one newline")
    return out
