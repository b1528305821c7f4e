"""Load TOML files and keep the source position of every key and value.

tomli parses values but keeps no positions, so a small reader here goes
over the same text once more for structure only: every TOML 1.0 form of
key (bare, quoted, dotted), table header ([a."b"], [[a.b]]) and value
(basic, literal and multi-line strings, numbers, dates, arrays over many
lines, inline tables, inline arrays of tables), with comments anywhere.
It maps a key path such as ("field", 3, "gate") to where that key and its
value start.  Values always come from tomli; the reader runs only on
text tomli accepted, and both must find the same key paths (anything
else is a bug here, raised as PositionReaderError).

tomli, not the standard library's tomllib: the same parser (tomllib was
made from it), but tomli's wheels are compiled with mypyc and parse a
large schema three to five times faster.  tomli 2.4 moved to TOML 1.1,
which this reader does not speak: pyproject.toml keeps it below.

About 400 lines: one reader for the whole of TOML 1.0's syntax, since a
position is only as right as the reader's idea of where each form ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import tomli

from codegen import chars
from codegen.paths import read_input
from codegen.spec.diagnostics import Location

KeyPath = tuple  # of str keys and int array indices
BOM = "\ufeff"


class Document:
    """A parsed TOML file; source positions are read on first use."""

    def __init__(self, path: Path, shown: str, text: str, data: dict):
        self.path, self.shown, self.text, self.data = path, shown, text, data
        self._read = None
        self._lines: list[str] | None = None
        self._headers: dict[KeyPath, int] | None = None

    @property
    def positions(self) -> dict:
        """KeyPath -> (line, col, length) of the value."""
        return self._positions()[0]

    @property
    def key_positions(self) -> dict:
        """KeyPath -> (line, col, length) of the key (a table's header, an element's value)."""
        return self._positions()[1]

    def _positions(self):
        if self._read is None:
            values, keys = _Reader(self.text).run()
            check_agreement(self.data, values, self.shown)
            self._read = values, keys
        return self._read

    def header_line(self, keypath: KeyPath) -> int:
        """Line where the table at keypath, e.g. ("field", 3), starts.

        Every entry's source needs this, so it is found without the position
        reader where it can be: a clean build then never runs the reader.
        """
        if self._headers is None:
            self._headers = _header_lines(self.text, self.data)
        line = self._headers.get(tuple(keypath))
        return line if line is not None else self.loc(keypath, key=True).line

    def loc(self, keypath: KeyPath = (), *, key: bool = False) -> Location:
        """Location of a value (or its key) at keypath, falling back to parents."""
        table = self.key_positions if key else self.positions
        path = tuple(keypath)
        while path:
            if path in table:
                line, col, length = table[path]
                return Location(self.shown, line, col, length, self.line(line))
            if not key and path in self.key_positions:
                line, col, length = self.key_positions[path]
                return Location(self.shown, line, col, length, self.line(line))
            path = path[:-1]
        return Location(self.shown, 1, 1, 1, self.line(1))

    def line(self, number: int) -> str:
        if self._lines is None:
            self._lines = _lines(self.text)
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""


# a top-level header, `[name]` or `[[name]]`, alone on its line but for a comment; the
# name starts with a letter and is not a bare value (true, false, inf, nan), so that a line
# `[1]` or `[true]` inside an array over many lines is never taken for one
_HEADER = re.compile(
    r"^[ \t]*(?:\[\[[ \t]*(?!(?:true|false|inf|nan)[ \t]*\])([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\]\]"
    r"|\[[ \t]*(?!(?:true|false|inf|nan)[ \t]*\])([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\])"
    r"[ \t]*(?:#[^\n]*)?\r?$",
    re.M,
)


def _header_lines(text: str, data: dict) -> dict[KeyPath, int]:
    """Lines of the top-level tables, ("class",), and array elements, ("field", 3).

    A line scan, trusted only where it cannot be fooled: not in a file with a
    multi-line string (whose lines may look like headers), and for a name
    only when its headers are exactly as many as tomli's tables under it (a
    quoted or dotted spelling, or an inline table, is left to the reader).
    """
    if '"""' in text or "'''" in text:
        return {}
    found: dict[KeyPath, int] = {}
    counts: dict[str, int] = {}
    line, pos = 1, 0
    for m in _HEADER.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        if m.group(1) is not None:
            name = m.group(1)
            found[(name, counts.get(name, 0))] = line
            counts[name] = counts.get(name, 0) + 1
        else:
            name = m.group(2)
            found[(name,)] = line
            counts[name] = counts.get(name, 0) + 1
    trusted = set()
    for name, n in counts.items():
        value = data.get(name)
        if isinstance(value, dict):
            ok = n == 1 and (name,) in found
        elif isinstance(value, list):
            ok = n == len(value) and (name, 0) in found
            ok = ok and all(isinstance(v, dict) for v in value)
        else:
            ok = False
        if ok:
            trusted.add(name)
    return {path: n for path, n in found.items() if path[0] in trusted}


def _lines(text: str) -> list[str]:
    # TOML ends lines at LF only; str.splitlines() would also split at U+2028 and
    # friends inside strings and shift every later line number
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


class TomlSyntaxError(Exception):
    def __init__(self, message: str, loc: Location):
        super().__init__(message)
        self.message, self.loc = message, loc


class PositionReaderError(AssertionError):
    """The position reader and tomli found different key paths: a bug in this module."""


def load(path: Path, shown: str) -> Document:
    raw = read_input(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message, line, col, text = chars.utf8_error(raw, exc)
        raise TomlSyntaxError(message, Location(shown, line, col, 1, text)) from None
    if text.startswith(BOM):
        raise TomlSyntaxError(
            "the file starts with a UTF-8 byte order mark (U+FEFF), which TOML "
            "does not allow; save it as UTF-8 without a BOM",
            Location(shown, 1, 1, 1, _lines(text)[0][1:]),
        )
    try:
        data = tomli.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer too long for int()
        if not isinstance(exc, tomli.TOMLDecodeError) and (found := chars.long_number(text)):
            message, line, col = found
            where = Location(shown, line, col, 1, _lines(text)[line - 1])
            raise TomlSyntaxError(message, where) from None
        if not isinstance(exc, tomli.TOMLDecodeError):
            raise
        message, line, col = _split_toml_error(str(exc))
        lines = _lines(text)
        src = lines[line - 1] if 0 < line <= len(lines) else ""
        if 0 < col <= len(src) and not src[col - 1].isascii() and src[col - 1] != BOM:
            message += f" ({chars.describe(src[col - 1])})"
        raise TomlSyntaxError(message, Location(shown, line, col, 1, src)) from None
    return Document(Path(path), shown, text, data)


def _split_toml_error(text: str) -> tuple[str, int, int]:
    # tomli: "Invalid value (at line 3, column 5)" or "(at end of document)"
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", text)
    if m:
        return text[: m.start()], int(m.group(1)), int(m.group(2))
    m = re.search(r"\s*\(at end of document\)$", text)
    if m:
        return text[: m.start()] + " at end of file", 0, 0
    return text, 0, 0


def key_paths(value, prefix: KeyPath = ()):
    """Every key path in parsed TOML data: each table key and each array index."""
    items: Iterable[tuple[str | int, object]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for k, v in items:
        path = (*prefix, k)
        yield path
        yield from key_paths(v, path)


def check_agreement(data: dict, values: dict, shown: str = "") -> None:
    """The reader must have placed exactly the key paths tomli parsed."""
    parsed = set(key_paths(data))
    if parsed != set(values):
        missing = sorted(map(repr, parsed - set(values)))[:3]
        extra = sorted(map(repr, set(values) - parsed))[:3]
        raise PositionReaderError(
            f"{shown}: the TOML position reader disagrees with tomli on "
            f"key paths (not placed: {missing}; not in the data: {extra})"
        )


# -- the position reader --------------------------------------------------------------------
_BLANK = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")  # whitespace, newlines and comments
_WS = re.compile(r"[ \t]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_STRINGS = {
    '"""': re.compile(r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"{3,5}'),
    "'''": re.compile(r"'''(?:[^']|'(?!''))*'{3,5}"),
    '"': re.compile(r'"(?:[^"\\\n]|\\.)*"'),
    "'": re.compile(r"'[^'\n]*'"),
}
# a date-time may hold one space ("1979-05-27 07:32:00"); other bare values hold none
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?"
    r"(?:[Zz]|[+-]\d{2}:\d{2})?)?"
)
_BARE_VALUE = re.compile(r"[A-Za-z0-9+\-_.:]+")
# the common line `key = "text"` or `key = 123`, read in one match (never crossing a newline)
_SIMPLE_LINE = re.compile(
    r'([A-Za-z0-9_-]+)[ \t]*=[ \t]*("(?:[^"\\\n]|\\.)*"|[A-Za-z0-9+\-_.:]+)'
    r"[ \t]*(?=\r?\n|#|\Z)"
)


class _Reader:
    """Positions of every key and value in text that tomli accepted."""

    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.line = 1
        self.line_start = 0
        self.values: dict = {}
        self.keys: dict = {}
        self.aot: dict = {}  # resolved path of an array of tables -> tables so far

    def run(self) -> tuple[dict, dict]:
        table: KeyPath = ()
        while True:
            self.skip(_BLANK)
            if self.i >= len(self.s):
                return self.values, self.keys
            if self.s[self.i] == "[":
                table = self.header()
            elif not self.simple_line(table):
                self.keyval(table)

    # -- moving through the text --------------------------------------------------------
    def pos(self) -> tuple[int, int]:
        return self.line, self.i - self.line_start + 1

    def advance_to(self, j: int) -> None:
        newlines = self.s.count("\n", self.i, j)
        if newlines:
            self.line += newlines
            self.line_start = self.s.rindex("\n", self.i, j) + 1
        self.i = j

    def match(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """pattern at the cursor, which it matches: tomli accepted the text."""
        m = pattern.match(self.s, self.i)
        if m is None:
            raise AssertionError(f"{pattern.pattern!r} does not match at {self.pos()}")
        return m

    def skip(self, pattern: re.Pattern[str]) -> None:
        self.advance_to(self.match(pattern).end())

    def span(self, line: int, col: int, start: int) -> tuple[int, int, int]:
        """(line, col, length) from start to here, cut at the end of the first line."""
        end = self.s.find("\n", start, self.i)
        return line, col, max(1, (self.i if end < 0 else end) - start)

    # -- structure ------------------------------------------------------------------------
    def header(self) -> KeyPath:
        line, col = self.pos()
        start = self.i
        aot = self.s.startswith("[[", self.i)
        self.advance_to(self.i + (2 if aot else 1))
        self.skip(_WS)
        names = [name for name, _ in self.key()]
        self.skip(_WS)
        self.advance_to(self.i + (2 if aot else 1))
        where = self.span(line, col, start)
        path: KeyPath = ()
        for name in names[:-1]:
            path = self.implicit((*path, name), where)
        path = (*path, names[-1])
        if aot:
            count = self.aot.get(path, 0)
            self.aot[path] = count + 1
            self.keys.setdefault(path, where)  # the array itself: its first header
            self.values.setdefault(path, where)
            path = (*path, count)
        self.keys[path] = self.values[path] = where
        return path

    def simple_line(self, table: KeyPath) -> bool:
        m = _SIMPLE_LINE.match(self.s, self.i)
        if m is None:
            return False
        col = self.i - self.line_start + 1
        path = (*table, m.group(1))
        self.keys[path] = (self.line, col, m.end(1) - m.start(1))
        self.values[path] = (self.line, col + m.start(2) - m.start(), m.end(2) - m.start(2))
        self.i = m.end()
        return True

    def implicit(self, path: KeyPath, where) -> KeyPath:
        """A table a header or dotted key passes through; into its last table if an array."""
        self.keys.setdefault(path, where)
        self.values.setdefault(path, where)
        if path in self.aot:
            path = (*path, self.aot[path] - 1)
        return path

    def keyval(self, table: KeyPath) -> None:
        line, col = self.pos()
        start = self.i
        segments = self.key()
        path = table
        for n, (name, end) in enumerate(segments):
            path = (*path, name)
            where = (line, col, end - start)  # the key as far as this segment
            if n < len(segments) - 1:
                self.implicit(path, where)
            else:
                self.keys[path] = where
        self.skip(_WS)
        self.advance_to(self.i + 1)  # '='
        self.skip(_WS)
        self.value(path)

    def key(self) -> list[tuple[str, int]]:
        """A dotted key: each part's name and the index where it ends."""
        parts = []
        while True:
            c = self.s[self.i]
            if c in "\"'":
                raw = self.string()
                name = raw[1:-1] if c == "'" or "\\" not in raw else tomli.loads(f"k = {raw}")["k"]
            else:
                m = self.match(_BARE_KEY)
                name = m.group()
                self.advance_to(m.end())
            parts.append((name, self.i))
            self.skip(_WS)
            if self.s.startswith(".", self.i):
                self.advance_to(self.i + 1)
                self.skip(_WS)
                continue
            return parts

    def value(self, path: KeyPath) -> None:
        line, col = self.pos()
        start = self.i
        c = self.s[self.i]
        if c in "\"'":
            self.string()
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:
            m = _DATETIME.match(self.s, self.i) or self.match(_BARE_VALUE)
            self.advance_to(m.end())
        self.values[path] = self.span(line, col, start)

    def array(self, path: KeyPath) -> None:
        self.advance_to(self.i + 1)  # '['
        index = 0
        while True:
            self.skip(_BLANK)
            if self.s[self.i] == "]":
                self.advance_to(self.i + 1)
                return
            element = (*path, index)
            self.value(element)
            self.keys[element] = self.values[element]  # an element has no key: its value stands in
            index += 1
            self.skip(_BLANK)
            if self.s[self.i] == ",":
                self.advance_to(self.i + 1)

    def inline_table(self, path: KeyPath) -> None:
        self.advance_to(self.i + 1)  # '{'
        while True:
            self.skip(_BLANK)
            if self.s[self.i] == "}":
                self.advance_to(self.i + 1)
                return
            self.keyval(path)
            self.skip(_BLANK)
            if self.s[self.i] == ",":
                self.advance_to(self.i + 1)

    def string(self) -> str:
        """Move past a string of any of the four kinds; return its text with the quotes."""
        q = self.s[self.i]
        kind = q * 3 if self.s.startswith(q * 3, self.i) else q
        m = self.match(_STRINGS[kind])
        self.advance_to(m.end())
        return m.group()
