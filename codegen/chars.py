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
    return next((ch for ch in text if not ch.isascii()), None)
