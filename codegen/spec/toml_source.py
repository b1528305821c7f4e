"""Load TOML files and keep the source position of every key and value.

tomllib parses values but keeps no positions, so this module scans the
same text once more for structure only: table headers, keys, inline tables
and array elements.  The result maps a key path such as
("field", 3, "id") to the (line, col) where that key's value starts, which
is what diagnostics point at.  Values always come from tomllib; this scan
runs only on text tomllib has accepted.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser, packaged for older Pythons
    import tomli as tomllib

from codegen.spec.diagnostics import Location

KeyPath = tuple  # of str keys and int array indices


class Document:
    """A parsed TOML file; source positions are scanned on first use.

    Most runs report nothing, so the full position scan runs only when a
    diagnostic asks for a location; table header lines (which the model
    records as each entry's source) come from a cheap line scan.
    """

    def __init__(self, path: Path, shown: str, text: str, data: dict):
        self.path, self.shown, self.text, self.data = path, shown, text, data
        self._scan = None
        self._headers = None

    @property
    def positions(self) -> dict:
        """KeyPath -> (line, col, length) of the value."""
        return self._scanned()[0]

    @property
    def key_positions(self) -> dict:
        """KeyPath -> (line, col, length) of the key."""
        return self._scanned()[1]

    def _scanned(self):
        if self._scan is None:
            self._scan = _Scanner(self.text).run()
        return self._scan

    def header_line(self, keypath: KeyPath) -> int:
        """Line of the table header of ("class",) or ("field", i), without the full scan."""
        if self._headers is None:
            self._headers = {}
            counts: dict = {}
            for number, line in enumerate(self.text.splitlines(), 1):
                m = _HEADER_LINE.match(line)
                if not m:
                    continue
                if m.group(1):  # [[name]]
                    name = m.group(1)
                    i = counts.get(name, 0)
                    counts[name] = i + 1
                    self._headers.setdefault((name, i), number)
                else:
                    self._headers.setdefault((m.group(2),), number)
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
        lines = getattr(self, "_lines", None)
        if lines is None:
            lines = self._lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


class TomlSyntaxError(Exception):
    def __init__(self, message: str, loc: Location):
        super().__init__(message)
        self.message, self.loc = message, loc


def load(path: Path, shown: str) -> Document:
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TomlSyntaxError("file is not valid UTF-8", Location(shown, line, 1)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line, col = _split_toml_error(str(exc))
        lines = text.splitlines()
        src = lines[line - 1] if 0 < line <= len(lines) else ""
        raise TomlSyntaxError(message, Location(shown, line, col, 1, src)) from None
    return Document(Path(path), shown, text, data)


def _split_toml_error(text: str) -> tuple[str, int, int]:
    # tomllib: "Invalid value (at line 3, column 5)" or "(at end of document)"
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", text)
    if m:
        return text[: m.start()], int(m.group(1)), int(m.group(2))
    m = re.search(r"\s*\(at end of document\)$", text)
    if m:
        return text[: m.start()] + " at end of file", 0, 0
    return text, 0, 0


# a plain top-level table header: [[field]] or [class] (dotted or quoted ones take the full scan)
_HEADER_LINE = re.compile(r"^[ \t]*(?:\[\[[ \t]*([A-Za-z0-9_-]+)[ \t]*\]\]|\[[ \t]*([A-Za-z0-9_-]+)[ \t]*\])[ \t]*(?:#.*)?$")
_WS = re.compile(r"[ \t\r]*")
_WS_NL = re.compile(r"[ \t\r\n]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]*")
_BARE_VALUE = re.compile(r"[^,\]}\n#]*?(?=[ \t\r]*(?:[,\]}\n#]|$))")
_SIMPLE_KV = re.compile(
    r'([A-Za-z0-9_-]+)[ \t]*=[ \t]*("(?:[^"\\\n]|\\.)*"|[0-9A-Za-z+\-.:_]+)[ \t]*(?:#[^\n]*)?(?=\n|$)')
_BASIC = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_LITERAL = re.compile(r"'([^'\n]*)'")


class _Scanner:
    """Structure-only TOML scanner over text that tomllib already accepted."""

    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.line = 1
        self.line_start = 0
        self.values: dict = {}
        self.keys: dict = {}
        self.aot_counts: dict = {}   # array-of-tables path (without indices) -> count
        self.explicit: dict = {}     # table path (without indices) -> resolved path

    # -- positions -------------------------------------------------------
    def pos(self) -> tuple[int, int]:
        return self.line, self.i - self.line_start + 1

    def advance(self, n: int = 1) -> None:
        self.advance_to(self.i + n)

    def advance_to(self, j: int) -> None:
        """Move to index j, keeping the line count (one slice scan, not per character)."""
        newlines = self.s.count("\n", self.i, j)
        if newlines:
            self.line += newlines
            self.line_start = self.s.rindex("\n", self.i, j) + 1
        self.i = j

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def skip_ws(self, newlines: bool = False) -> None:
        pattern = _WS_NL if newlines else _WS
        while True:
            m = pattern.match(self.s, self.i)
            self.advance_to(m.end())
            if self.peek() != "#":
                return
            end = self.s.find("\n", self.i)
            self.advance_to(len(self.s) if end < 0 else end)

    # -- main loop -------------------------------------------------------
    def run(self):
        table: tuple = ()
        while self.i < len(self.s):
            self.skip_ws(newlines=True)
            if self.i >= len(self.s):
                break
            if self.peek() == "[":
                table = self.header()
            elif not self.simple_keyval(table):
                self.keyval(table)
        return self.values, self.keys

    def header(self) -> tuple:
        line, col = self.pos()
        start = self.i
        aot = self.peek(1) == "["
        self.advance(2 if aot else 1)
        self.skip_ws()
        names = self.dotted_key()
        self.skip_ws()
        self.advance(2 if aot else 1)
        plain = tuple(names)
        resolved = self.resolve(plain[:-1]) + (plain[-1],)
        if aot:
            count = self.aot_counts.get(plain, 0)
            self.aot_counts[plain] = count + 1
            resolved = resolved + (count,)
        self.keys[resolved] = (line, col, self.i - start)
        self.values.setdefault(resolved, (line, col, self.i - start))
        if aot:  # the array itself is located at its first header
            self.keys.setdefault(resolved[:-1], (line, col, self.i - start))
        return resolved

    def resolve(self, plain: tuple) -> tuple:
        """Insert the current index after every array-of-tables prefix."""
        out: tuple = ()
        for n in range(1, len(plain) + 1):
            out = out + (plain[n - 1],)
            if plain[:n] in self.aot_counts:
                out = out + (self.aot_counts[plain[:n]] - 1,)
        return out

    def keyval(self, table: tuple) -> None:
        line, col = self.pos()
        start = self.i
        names = self.dotted_key()
        path = table + tuple(names)
        self.keys[path] = (line, col, self.key_end - start)
        self.skip_ws()
        self.advance()  # '='
        self.skip_ws()
        self.value(path)

    def simple_keyval(self, table: tuple) -> bool:
        """Fast path for the common line `key = "text"` or `key = 123`."""
        m = _SIMPLE_KV.match(self.s, self.i)
        if m is None:
            return False
        line, start = self.line, self.i - self.line_start + 1
        path = table + (m.group(1),)
        self.keys[path] = (line, start, len(m.group(1)))
        vstart = m.start(2) - self.line_start + 1
        self.values[path] = (line, vstart, m.end(2) - m.start(2))
        self.i = m.end()  # the match never crosses a newline
        return True

    def dotted_key(self) -> list[str]:
        names = [self.simple_key()]
        self.key_end = self.i
        self.skip_ws()
        while self.peek() == ".":
            self.advance()
            self.skip_ws()
            names.append(self.simple_key())
            self.key_end = self.i
            self.skip_ws()
        return names

    def simple_key(self) -> str:
        c = self.peek()
        if c in "\"'":
            return self.string(decode=True)
        m = _BARE_KEY.match(self.s, self.i)
        self.advance_to(m.end())
        return m.group()

    def value(self, path: tuple) -> None:
        line, col = self.pos()
        start = self.i
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:  # number, boolean, date: up to the next delimiter, blanks trimmed
            m = _BARE_VALUE.match(self.s, self.i)
            self.advance_to(m.end())
        length = self.i - start if self.line == line else len(self.s[start:].split("\n", 1)[0])
        self.values[path] = (line, col, max(1, length))

    def array(self, path: tuple) -> None:
        self.advance()  # '['
        index = 0
        while True:
            self.skip_ws(newlines=True)
            if self.peek() in ("]", ""):
                self.advance()
                return
            self.value(path + (index,))
            index += 1
            self.skip_ws(newlines=True)
            if self.peek() == ",":
                self.advance()

    def inline_table(self, path: tuple) -> None:
        self.advance()  # '{'
        while True:
            self.skip_ws()
            if self.peek() in ("}", ""):
                self.advance()
                return
            self.keyval(path)
            self.skip_ws()
            if self.peek() == ",":
                self.advance()

    def string(self, decode: bool = False) -> str:
        """Skip a string; return its text (escapes decoded only when asked, for keys)."""
        q = self.peek()
        if self.s.startswith(q * 3, self.i):
            self.advance(3)
            end = self.s.find(q * 3, self.i)
            while self.peek(end - self.i + 3) == q:  # quotes just before the closing ones
                end += 1
            body = self.s[self.i:end]
            self.advance_to(end + 3)
            return body
        m = (_BASIC if q == '"' else _LITERAL).match(self.s, self.i)
        body = m.group(1)
        self.advance_to(m.end())
        if decode and q == '"' and "\\" in body:
            return tomllib.loads(f'k = "{body}"')["k"]
        return body
