"""JSON the simulator reads (replay dumps, `sim batch` lines), with positions.

json.loads gives no position for a value, raises RecursionError on deep
nesting and keeps the last of duplicate keys.  load() gives every object's
line and column, and turns each of those failures into JsonError at a line
and column.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner

from codegen import chars

MAX_DEPTH = 64  # far deeper than any dump (4) or batch line (1)


class JsonError(ValueError):
    def __init__(self, message: str, line: int, col: int):
        super().__init__(f"{message} (line {line} column {col})")
        self.message, self.line, self.col = message, line, col


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of text[index]."""
    line = text.count("\n", 0, index) + 1
    return line, index - text.rfind("\n", 0, index)


def load(text: str) -> tuple[object, dict[int, tuple[int, int]]]:
    """The value of text, and id(object) -> (line, col) of each object's `{`."""
    where: dict[int, tuple[int, int]] = {}
    depth = 0
    decoder = json.JSONDecoder(object_pairs_hook=no_duplicates)

    def nested(parse):
        def parse_nested(s_and_end, *args):
            nonlocal depth
            s, end = s_and_end
            if depth >= MAX_DEPTH:
                raise JsonError(f"nested more than {MAX_DEPTH} deep", *position(s, end - 1))
            depth += 1
            try:
                value, after = parse(s_and_end, *args)
            except DuplicateKey as exc:
                raise JsonError(f"duplicate key {exc.args[0]!r}", *position(s, end - 1)) from None
            finally:
                depth -= 1
            if isinstance(value, dict):
                where[id(value)] = position(s, end - 1)
            return value, after

        return parse_nested

    # the pure-Python scanner's hooks, which typeshed does not declare
    decoder.parse_object = nested(json.decoder.JSONObject)  # type: ignore[attr-defined]
    decoder.parse_array = nested(decoder.parse_array)  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        return decoder.decode(text), where
    except json.JSONDecodeError as exc:
        raise JsonError(exc.msg, exc.lineno, exc.colno) from None
    except ValueError:
        if found := chars.long_number(text):  # an integer too long for int()
            raise JsonError(*found) from None
        raise


class DuplicateKey(ValueError):
    """A key given twice in one object; args[0] is the key."""


def no_duplicates(pairs):
    """object_pairs_hook for json.loads: json keeps the last of duplicate keys silently."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return out
