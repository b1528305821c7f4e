"""Diagnostics: what is wrong, where (file:line:col), under a rule name.

Every check reports into one Reporter and keeps going, so a single run
shows every error.  Text output follows the compiler convention

    schema/17-tdmr-info.toml:12:6: error[DUPLICATE-ID]: ...
       12 | id = "0x9100000100000008"
          |      ^~~~~~~~~~~~~~~~~~~~

and `--format json` prints the same records for tools.  What comes from the
input (file names, values quoted in messages, source lines) is shown with
control characters escaped, and a long source line as a window around the
caret, so no input can flood or drive the terminal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from codegen import chars
from codegen.paths import display_path  # noqa: F401  (re-exported: diagnostics name files)

LONG_LINE = 200  # a source line longer than this is shown as a window ...
EXCERPT_WIDTH = 100  # ... of this many columns around the caret
MAX_MESSAGE = 400  # characters of a message; values quoted in it can be any length


@dataclass(frozen=True)
class Location:
    file: str  # as shown to the user (relative where possible)
    line: int = 0  # 1-based; 0 when unknown
    col: int = 0  # 1-based; 0 when unknown
    length: int = 1  # how many characters the caret underlines
    text: str = ""  # the source line, for the excerpt

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col or 1}"
        return self.file


@dataclass(frozen=True)
class Note:
    message: str
    loc: Location | None = None


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" or "warning"
    rule: str
    message: str
    loc: Location
    notes: tuple[Note, ...] = ()

    def sort_key(self):
        return (self.loc.file, self.loc.line, self.loc.col, self.rule, self.message)


class Reporter:
    """Collects diagnostics; never raises on the first problem."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, rule: str, message: str, loc: Location, *notes: Note) -> None:
        self._add("error", rule, message, loc, notes)

    def warning(self, rule: str, message: str, loc: Location, *notes: Note) -> None:
        self._add("warning", rule, message, loc, notes)

    def _add(self, severity: str, rule: str, message: str, loc: Location, notes) -> None:
        from codegen.spec.rules import REGISTRY  # every rule is declared there, once

        declared = REGISTRY.get(rule)
        if declared is None or declared.severity != severity:
            raise ValueError(f"{rule} is not a registered {severity} rule (codegen.spec.rules)")
        self.items.append(Diagnostic(severity, rule, message, loc, tuple(notes)))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=Diagnostic.sort_key)


def _excerpt(loc: Location) -> list[str]:
    if not loc.line or not loc.text:
        return []
    text = loc.text.rstrip("\n").expandtabs(1)
    col = min(max(loc.col, 1), len(text) + 1)
    length = max(1, min(loc.length, len(text) - col + 1))
    start, end, before, after = 0, len(text), "", ""
    if len(text) > LONG_LINE:  # a window around the caret; the caret keeps its place in it
        start = max(0, min(col - 1 - EXCERPT_WIDTH // 2, len(text) - EXCERPT_WIDTH))
        end = start + EXCERPT_WIDTH
        before, after = ("..." if start else ""), ("..." if end < len(text) else "")
        length = max(1, min(length, end - col + 1))
    lead = before + chars.escape(text[start : col - 1])
    marked = chars.escape(text[col - 1 : col - 1 + length]) or " "
    gutter = f"{loc.line:>5}"
    caret = " " * len(lead) + "^" + "~" * (len(marked) - 1)
    return [
        f"{gutter} | {lead}{chars.escape(text[col - 1 : end])}{after}",
        f"{' ' * len(gutter)} | {caret}",
    ]


def _cut(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[:MAX_MESSAGE]}... ({len(message) - MAX_MESSAGE} more characters)"


def _where(loc: Location) -> str:
    return chars.escape(str(loc))


def format_text(diags: list[Diagnostic]) -> str:
    lines: list[str] = []
    for d in diags:
        lines.append(f"{_where(d.loc)}: {d.severity}[{d.rule}]: {chars.escape(_cut(d.message))}")
        lines.extend(_excerpt(d.loc))
        for note in d.notes:
            where = f"{_where(note.loc)}: " if note.loc else ""
            lines.append(f"{where}note: {chars.escape(_cut(note.message))}")
            if note.loc:
                lines.extend(_excerpt(note.loc))
    return "\n".join(lines) + ("\n" if lines else "")


def summary(diags: list[Diagnostic]) -> str:
    errors = sum(d.severity == "error" for d in diags)
    warnings = len(diags) - errors
    plural = lambda n, word: f"{n} {word}{'' if n == 1 else 's'}"
    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def _loc_json(loc: Location | None):
    if loc is None:
        return None
    return {"file": loc.file, "line": loc.line, "col": loc.col}


def records(diags: list[Diagnostic]) -> list[dict]:
    """The diagnostics as JSON-ready dicts: the items of an envelope's "diagnostics"."""
    return [
        {
            "severity": d.severity,
            "rule": d.rule,
            "message": _cut(d.message),
            **_loc_json(d.loc),
            "notes": [{"message": _cut(n.message), "location": _loc_json(n.loc)} for n in d.notes],
        }
        for d in diags
    ]


def format_json(diags: list[Diagnostic]) -> str:
    return json.dumps(records(diags), indent=2) + "\n"


@dataclass
class CompileError(Exception):
    """Raised by the compiler when the schema has errors; carries all of them."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return format_text(self.diagnostics)
