"""How user text is shown in messages: control characters escaped, others named.

Any input (a file name, a TOML value, a name in Intel's JSON) can hold a
terminal escape sequence or a look-alike of an ASCII letter; messages show
the first as a visible escape and name the second, so the user sees what
is really there.
"""

from __future__ import annotations

import unicodedata


def _escaped(ch: str) -> str:
    o = ord(ch)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def is_unsafe(ch: str) -> bool:
    """Characters a terminal may act on or not show: controls, formats, separators."""
    return not ch.isprintable() and ch != " "


def escape(text: str) -> str:
    """text with every unsafe character (newline and tab too) as a Python-style escape."""
    if text.isprintable():
        return text
    return "".join(_escaped(ch) if is_unsafe(ch) else ch for ch in text)


def describe(ch: str) -> str:
    """'х' is U+0445 CYRILLIC SMALL LETTER HA."""
    name = unicodedata.name(ch, "")
    shown = _escaped(ch) if is_unsafe(ch) else ch
    return f"'{shown}' is U+{ord(ch):04X}{' ' + name if name else ''}"


def first_non_ascii(text: str) -> str | None:
    if text.isascii():  # the common case, without a Python-level loop
        return None
    return next((ch for ch in text if not ch.isascii()), None)


class NotAscii(ValueError):
    """A number written with a character that is not ASCII; the message names it."""


def ascii_int(text: str, base: int = 0) -> int:
    """int(text, base) of ASCII digits only: int() also takes any script's digits ('٤٢', '４２')."""
    odd = first_non_ascii(text)
    if odd is not None:
        raise NotAscii(f"{describe(odd)}, not ASCII")
    return int(text, base)


def utf8_error(raw: bytes, exc: UnicodeDecodeError) -> tuple[str, int, int, str]:
    """(message, line, col, the line's text) for bytes that are not UTF-8."""
    start = raw.rfind(b"\n", 0, exc.start) + 1
    end = raw.find(b"\n", exc.start)
    text = raw[start : len(raw) if end < 0 else end].decode("utf-8", "replace").rstrip("\r")
    col = len(raw[start : exc.start].decode("utf-8", "replace")) + 1
    bad = " ".join(f"0x{b:02X}" for b in raw[exc.start : exc.end])
    return (
        f"not valid UTF-8 ({exc.reason} {bad}); save the file as UTF-8",
        raw.count(b"\n", 0, exc.start) + 1,
        col,
        text,
    )


def long_number(text: str) -> tuple[str, int, int] | None:
    """(message, line, col) of the first integer too long for int(), or None.

    Python refuses to convert more than sys.get_int_max_str_digits() digits (a
    guard against slow conversions); tomli and json then raise a bare
    ValueError without a position.  No value tdx-codegen reads is that long.
    """
    import re
    import sys

    limit = sys.get_int_max_str_digits()
    m = re.search(rf"[0-9][0-9_]{{{limit},}}", text) if limit else None
    if m is None or len(m.group().replace("_", "")) <= limit:
        return None
    line = text.count("\n", 0, m.start()) + 1
    col = m.start() - text.rfind("\n", 0, m.start())
    return f"a number of {len(m.group().replace('_', ''))} digits (at most {limit})", line, col
