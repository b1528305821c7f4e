"""Intel's published global metadata JSON ("TDX ABI definitions").

Format: {"Header": {"Info", "Version", ...},
"Fields": [{"Field Name", "Base FIELD_ID (Hex)", "Element Size (Bytes)",
"Num Fields" (2025: "Max Num Fields"), "Num Elements", "Class",
"Description", "Host VMM Access", "Guest Access", ...}]}.

Every problem in a file is reported, each with the file and the line of the
object it is in, so one run shows them all.  Numbers may be JSON numbers or
decimal strings (both appear in Intel's releases); ids are hex strings.
"""

from __future__ import annotations

import bisect
import json
import json.scanner
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codegen import chars
from codegen.abi import fieldid
from codegen.paths import read_bytes

NUM_FIELDS_KEYS = ("Num Fields", "Max Num Fields")  # older, newer spelling
ID_KEY = "Base FIELD_ID (Hex)"
SIZE_KEY = "Element Size (Bytes)"


class IntelJsonError(Exception):
    """The file cannot be used; carries every problem as 'file:line: message'."""

    def __init__(self, problems: list[str]):
        # names and values come from the file: a terminal escape in one is shown, not obeyed
        problems = [chars.escape(p) for p in problems]
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class JsonField:
    name: str
    id: int
    element_size: int
    num_fields: int
    num_elements: int
    class_name: str  # as the JSON gives it ("" when absent)
    host_access: str
    guest_access: str
    description: str
    line: int  # line of the field's object

    @property
    def key(self) -> tuple[int, int]:
        return fieldid.key(self.id)

    @property
    def class_code(self) -> int:
        return fieldid.get(self.id, "CLASS_CODE")


@dataclass(frozen=True)
class JsonRelease:
    file: str  # as shown to the user
    info: str
    version: str
    fields: tuple[JsonField, ...]  # by (class, field code)

    def where(self, f: JsonField) -> str:
        return f"{self.file}:{f.line}"


class _Obj(dict):
    """A JSON object that remembers the line it starts on."""

    line = 0


class _List(list):
    """A JSON list that remembers the line of each element."""

    lines: list[int]  # set by the decoder on every list it makes


def _decode(text: str, duplicates: list) -> object:
    """json.loads, but objects and list elements carry lines (pure-Python scanner).

    A key given twice in one object is appended to duplicates as (line, key):
    json.loads would silently keep the last value.
    """
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    decoder = json.JSONDecoder()
    # the pure-Python scanner's hooks, which typeshed does not declare
    plain_object, plain_array = decoder.parse_object, decoder.parse_array  # type: ignore[attr-defined]
    twice: list[str] = []  # keys given twice in the object just parsed

    def line_of(index: int) -> int:
        return bisect.bisect_right(starts, index)

    def pairs_hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out = dict(pairs)
        if len(out) < len(pairs):
            seen: set[str] = set()
            for k, _ in pairs:
                if k in seen:
                    twice.append(k)
                seen.add(k)
        return out

    def parse_object(s_and_end, *args):
        obj, end = plain_object(s_and_end, *args)
        out = _Obj(obj)
        out.line = line_of(s_and_end[1] - 1)
        duplicates.extend((out.line, key) for key in twice)
        twice.clear()
        return out, end

    def parse_array(s_and_end: tuple[str, int], scan_once: Callable) -> tuple[_List, int]:
        at: list[int] = []

        def scan(s: str, index: int) -> tuple[object, int]:
            at.append(index)
            return scan_once(s, index)

        values, end = plain_array(s_and_end, scan)
        out = _List(values)
        out.lines = [line_of(i) for i in at]
        return out, end

    decoder.parse_object, decoder.parse_array = parse_object, parse_array  # type: ignore[attr-defined]
    decoder.object_pairs_hook = pairs_hook
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text)


def load(path: Path, shown: str | None = None) -> JsonRelease:
    """Read and check one release's JSON; path '-' is standard input (shown as <stdin>)."""
    if str(path) == "-":
        import sys

        shown, raw = "<stdin>", sys.stdin.buffer.read()
        return parse(_decoded(raw, shown), shown)
    shown = shown or str(path)
    try:
        raw = read_bytes(path)
    except FileNotFoundError:
        raise IntelJsonError([f"{shown}: no such file"]) from None
    except OSError as exc:
        raise IntelJsonError([f"{shown}: {exc.strerror or exc}"]) from None
    return parse(_decoded(raw, shown), shown)


def _decoded(raw: bytes, shown: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message, line, col, _ = chars.utf8_error(raw, exc)
        raise IntelJsonError([f"{shown}:{line}:{col}: {message}"]) from None
    if text.startswith("\ufeff"):
        raise IntelJsonError(
            [
                f"{shown}:1:1: the file starts with a UTF-8 byte order mark "
                "(U+FEFF), which JSON does not allow; save it as UTF-8 without a BOM"
            ]
        )
    return text


def parse(text: str, shown: str) -> JsonRelease:
    duplicates: list[tuple[int, str]] = []
    try:
        doc = _decode(text, duplicates)
    except json.JSONDecodeError as exc:
        raise IntelJsonError(
            [f"{shown}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"]
        ) from None
    except RecursionError:
        raise IntelJsonError([f"{shown}: not valid JSON: nested too deeply"]) from None
    except ValueError:
        found = chars.long_number(text)  # an integer too long for int()
        if found is None:
            raise
        message, line, col = found
        raise IntelJsonError([f"{shown}:{line}:{col}: not valid JSON: {message}"]) from None
    problems = [
        f"{shown}:{line}: the key {json.dumps(key, ensure_ascii=False)} appears twice in "
        "one object; JSON keys must be unique"
        for line, key in duplicates
    ]
    if not isinstance(doc, _Obj):  # every object the decoder makes is an _Obj
        raise IntelJsonError(
            [
                *problems,
                f'{shown}:1: the top level must be an object with "Header" and '
                f'"Fields", not {_kind(doc)}',
            ]
        )
    header = doc.get("Header", {})
    info = version = ""
    if not isinstance(header, dict):
        problems.append(f'{shown}:{doc.line}: "Header" must be an object, not {_kind(header)}')
    else:
        info, version = str(header.get("Info", "")), str(header.get("Version", ""))
    entries = doc.get("Fields")
    if not isinstance(entries, _List):
        what = "is missing" if entries is None else f"must be a list, not {_kind(entries)}"
        raise IntelJsonError([*problems, f'{shown}:{doc.line}: "Fields" {what}'])
    fields: list[JsonField] = []
    names: dict[str, JsonField] = {}
    keys: dict[tuple[int, int], JsonField] = {}
    for index, entry in enumerate(entries):
        f = _field(entry, index, shown, entries.lines[index], problems)
        if f is None:
            continue
        if f.name in names:
            problems.append(
                f"{shown}:{f.line}: field {f.name} appears twice (first at line "
                f"{names[f.name].line})"
            )
            continue
        if f.key in keys:
            problems.append(
                f"{shown}:{f.line}: {f.name} has the id of {keys[f.key].name} "
                f"(line {keys[f.key].line}): class {f.class_code:#04x}, field code "
                f"{f.key[1]:#x}"
            )
            continue
        names[f.name], keys[f.key] = f, f
        fields.append(f)
    if problems:
        raise IntelJsonError(problems)
    return JsonRelease(shown, info, version, tuple(sorted(fields, key=lambda f: f.key)))


def _field(entry, index: int, shown: str, line: int, problems: list[str]) -> JsonField | None:
    if not isinstance(entry, dict):
        problems.append(
            f'{shown}:{line}: "Fields" entry {index + 1} must be an object, not {_kind(entry)}'
        )
        return None
    name = entry.get("Field Name")
    label = name if isinstance(name, str) and name else f"entry {index + 1}"
    before = len(problems)

    def bad(message: str) -> None:
        problems.append(f"{shown}:{line}: {label}: {message}")

    if not isinstance(name, str) or not name.strip():
        bad(
            '"Field Name" is missing'
            if name is None
            else f'"Field Name" must be a non-empty string, not {_kind(name)}'
        )
    elif any(map(chars.is_unsafe, name.strip())):
        odd = next(filter(chars.is_unsafe, name.strip()))
        bad(
            f'"Field Name" holds a control character ({chars.describe(odd)}), which no ABI name has'
        )
    present = [k for k in NUM_FIELDS_KEYS if k in entry]
    if not present:
        bad('"Num Fields" (or "Max Num Fields") is missing')
    elif len(present) == 2 and entry[present[0]] != entry[present[1]]:
        bad(
            f'"Num Fields" ({entry[present[0]]!r}) and "Max Num Fields" '
            f"({entry[present[1]]!r}) disagree"
        )
    fid = _hex_id(entry.get(ID_KEY), bad)
    size = _number(entry, SIZE_KEY, bad, choices=fieldid.ELEMENT_SIZES)
    num_fields = _number(entry, present[-1], bad, 1, fieldid.MAX_FIELDS) if present else None
    num_elements = _number(entry, "Num Elements", bad, 1, fieldid.MAX_ELEMENTS)
    if fid is not None and size is not None and fieldid.element_size(fid) != size:
        bad(
            f'"{ID_KEY}" {fieldid.canonical(fid)} encodes {fieldid.element_size(fid)}-byte '
            f'elements but "{SIZE_KEY}" is {size}'
        )
    texts = {}
    for key in ("Class", "Host VMM Access", "Guest Access"):
        value = entry.get(key, "")
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            bad(f'"{key}" must be a string, not {_kind(value)}')
        texts[key] = str(value)
    desc = entry.get("Description", [])
    if isinstance(desc, str):
        desc = [desc]
    if not isinstance(desc, list) or not all(isinstance(d, str) for d in desc):
        bad(f'"Description" must be a list of strings, not {_kind(desc)}')
        desc = []
    if len(problems) > before:
        return None
    # each part that is None here came with a problem above: this narrows the types
    if (
        not isinstance(name, str)
        or fid is None
        or size is None
        or num_fields is None
        or num_elements is None
    ):
        return None
    return JsonField(
        name.strip(),
        fid,
        size,
        num_fields,
        num_elements,
        texts["Class"],
        texts["Host VMM Access"],
        texts["Guest Access"],
        " ".join(desc).strip(),
        line,
    )


def _hex_id(value, bad) -> int | None:
    if value is None:
        bad(f'"{ID_KEY}" is missing')
        return None
    if not isinstance(value, str):
        bad(f'"{ID_KEY}" must be a hex string such as "0x0800000200000000", not {_kind(value)}')
        return None
    text = value.strip(" \t")
    try:  # the JSON writes ids in hex, with or without 0x
        fid = fieldid.parse(text if text[:2].lower() == "0x" else "0x" + text)
    except ValueError:
        odd = chars.first_non_ascii(text)
        bad(
            f'"{ID_KEY}" {value!r} is not a 64-bit hex number'
            + (f" ({chars.describe(odd)}, not ASCII)" if odd else "")
        )
        return None
    if fid & (fieldid.RESERVED_MASK | fieldid.LAST_MASK | fieldid.CONTEXT_MASK):
        bad(
            f'"{ID_KEY}" {fieldid.canonical(fid)} is not a global base id (reserved, LAST_* or '
            "context bits set)"
        )
        return None
    return fid


def _number(
    entry: dict, key: str, bad, low: int = 0, high: int = 0, choices: tuple[int, ...] = ()
) -> int | None:
    value = entry.get(key)
    if value is None:
        bad(f'"{key}" is missing')
        return None
    number = value
    if isinstance(value, str) and value.strip(" \t").isascii() and value.strip(" \t").isdigit():
        number = int(value.strip(" \t"))
    if not isinstance(number, int) or isinstance(number, bool):
        odd = chars.first_non_ascii(value) if isinstance(value, str) else None
        bad(
            f'"{key}" must be a number, not {_kind(value)}'
            + (f" ({chars.describe(odd)}, not an ASCII digit)" if odd else "")
        )
        return None
    if choices and number not in choices:
        bad(f'"{key}" is {number}; it must be one of {", ".join(map(str, choices))}')
        return None
    if not choices and not low <= number <= high:
        bad(f'"{key}" is {number}; it must be between {low} and {high}')
        return None
    return number


def _kind(value) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"the number {value!r}"
