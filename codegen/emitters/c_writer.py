"""Kernel C layout: the one place that knows tabs, 100 columns, comments and defines.

The kernel emitter writes each file, first line to last, through one
CodeWriter: statements at the current indentation, calls wrapped at the
column limit, comments, #define blocks with their values (or a macro's
backslashes) at one tab stop, and blank lines between items.  Nothing
rewrites the text afterwards.
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


def _tabs_to(text: str, stop: int) -> str:
    return text + "\t" * -(-(stop - columns(text)) // TAB)


def _stop(texts: list[str]) -> int:
    """The first tab stop past the widest text."""
    return (max(columns(t) for t in texts) // TAB + 1) * TAB


class CodeWriter:
    """A C file being written: lines at a current indentation level."""

    def __init__(self, level: int = 0):
        self.level = level
        self.lines: list[str] = []

    @property
    def lead(self) -> str:
        return "\t" * self.level

    def line(self, text: str = "") -> None:
        self.lines.append(self.lead + text if text else "")

    def blank(self) -> None:
        """One blank line, never two, never at the top of a block."""
        if self.lines and self.lines[-1] != "" and not self.lines[-1].endswith("{"):
            self.lines.append("")

    def fill(
        self, head: str, pieces: list[str], tail: str = "", *, one_per_line: bool = False
    ) -> None:
        """head + pieces + tail on one line, or broken after pieces, aligned after head.

        pieces carry their own separators ("a,", "b"); lines join them with
        a space.  Continuation lines start at the column where head ends
        (after an opening parenthesis, as kernel style aligns arguments);
        one_per_line puts each piece on its own line once the call is broken.
        """
        lead = self.lead
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
            if not one_per_line and columns(f"{current} {piece}{end}") <= MAX_COLUMNS:
                current += " " + piece
            else:
                self.lines.append(current)
                current = cont + piece
        self.lines.append(current + tail)

    def comment(self, text: str | list[str], *, wrap: bool = True) -> None:
        """A C comment: one line when it fits, else a block.

        text is one paragraph or a list of lines ("" for an empty line);
        with wrap=False each line is kept as given (a banner's own words).
        """
        paragraphs = [text] if isinstance(text, str) else list(text)
        lead = self.lead
        if len(paragraphs) == 1:
            one = f"{lead}/* {paragraphs[0]} */"
            if columns(one) <= MAX_COLUMNS:
                self.lines.append(one)
                return
        width = MAX_COLUMNS - columns(f"{lead} * ")
        body = []
        for para in paragraphs:
            if para == "" or not wrap:
                body.append(f"{lead} * {para}".rstrip())
                continue
            # a line keeps its own indentation (a banner's file list)
            lead_ws = para[: len(para) - len(para.lstrip())]
            # a word longer than the line is split rather than left past column 100
            wrapped = textwrap.wrap(
                para.strip(),
                width,
                break_long_words=True,
                break_on_hyphens=False,
                initial_indent=lead_ws,
                subsequent_indent=lead_ws,
            )
            body.extend(f"{lead} * {w}".rstrip() for w in wrapped or [""])
        self.lines.extend([f"{lead}/*", *body, f"{lead} */"])

    def kerneldoc(self, what: str, purpose: str, members: list[tuple[str, str]]) -> None:
        """A kernel-doc comment: '/**', 'what - purpose', an '@member: text' line per member.

        Long texts wrap onto continuation lines one tab in, which kernel-doc joins back.
        """
        lead = self.lead
        width = MAX_COLUMNS - columns(f"{lead} * ")
        pad = " " * (TAB - columns(" * "))  # ' * ' and pad reach the tab stop ' *\t' does

        def para(first: str, text: str) -> list[str]:
            wrapped = textwrap.wrap(
                f"{first}{text}",
                width,
                subsequent_indent=pad,
                break_long_words=True,
                break_on_hyphens=False,
            )
            return [f"{lead} * {wrapped[0]}"] + [f"{lead} *\t{w[len(pad) :]}" for w in wrapped[1:]]

        body = para(f"{what} - ", purpose)
        for name, text in members:
            body.extend(para(f"@{name}: ", text))
        self.lines.extend([f"{lead}/**", *body, f"{lead} */"])

    def defines(self, pairs: list[tuple[str, str]]) -> None:
        """#define NAME<tabs>VALUE lines with every value starting at the same tab stop."""
        if pairs:
            stop = _stop([f"#define {name}" for name, _ in pairs])
            self.lines.extend(_tabs_to(f"#define {name}", stop) + value for name, value in pairs)

    def macro(self, head: str, body: list[str]) -> None:
        """A multi-line #define: body lines one tab in, backslashes at one tab stop."""
        texts = [f"#define {head}", *(f"\t{b}" for b in body[:-1])]
        stop = _stop(texts)
        self.lines.extend(_tabs_to(t, stop) + "\\" for t in texts)
        self.lines.append(f"\t{body[-1]}")

    @contextmanager
    def block(self, head: str | None = None, *, braces: bool = True, tail: str = ""):
        """A nested block: `head {` ... `}` (or only indented, for one statement)."""
        if head is not None:
            self.line(head + " {" if braces else head)
        self.level += 1
        try:
            yield self
        finally:
            self.level -= 1
            if head is not None and braces:
                self.line("}" + tail)

    def text(self) -> str:
        """The file: its lines, each ended by a newline."""
        return "".join(line + "\n" for line in self.lines)
