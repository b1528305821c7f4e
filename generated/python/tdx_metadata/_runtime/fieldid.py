# Copied by tdx-codegen 0.1.0 from codegen/abi/fieldid.py
# Do not edit: run 'tdx-codegen build'.
"""The one codec for TDX metadata field identifiers (MD_FIELD_ID).

Everything that touches the bits of a field id goes through here: the
schema rules, the emitters, the simulator and the generated readers'
runtime.  Standard library only, so the generated readers stay cheap to
import.

Layout (64 bits):
    23:0  FIELD_CODE              33:32 ELEMENT_SIZE_CODE
    37:34 LAST_ELEMENT_IN_FIELD   46:38 LAST_FIELD_IN_SEQUENCE
    50    INC_SIZE                51    WRITE_MASK_VALID
    54:52 CONTEXT_CODE            61:56 CLASS_CODE
    63    NON_ARCH                31:24, 49:47, 55, 62 reserved
"""

from __future__ import annotations

MASK64 = (1 << 64) - 1
NULL_ID = MASK64  # the null id (-1) starts a walk and ends one

# (name, low bit, width) in bit order; the single source of the layout.
LAYOUT = (
    ("FIELD_CODE", 0, 24),
    ("RESERVED_31_24", 24, 8),
    ("ELEMENT_SIZE_CODE", 32, 2),
    ("LAST_ELEMENT_IN_FIELD", 34, 4),
    ("LAST_FIELD_IN_SEQUENCE", 38, 9),
    ("RESERVED_49_47", 47, 3),
    ("INC_SIZE", 50, 1),
    ("WRITE_MASK_VALID", 51, 1),
    ("CONTEXT_CODE", 52, 3),
    ("RESERVED_55", 55, 1),
    ("CLASS_CODE", 56, 6),
    ("RESERVED_62", 62, 1),
    ("NON_ARCH", 63, 1),
)
_BITS = {name: (lo, width) for name, lo, width in LAYOUT}


def _mask(name: str) -> int:
    lo, width = _BITS[name]
    return ((1 << width) - 1) << lo


RESERVED_MASK = sum(_mask(n) for n, _, _ in LAYOUT if n.startswith("RESERVED"))
LAST_MASK = _mask("LAST_ELEMENT_IN_FIELD") | _mask("LAST_FIELD_IN_SEQUENCE")
CONTEXT_MASK = _mask("CONTEXT_CODE")
FIELD_CODE_MASK = _mask("FIELD_CODE")
SIZE_CODE_MASK = _mask("ELEMENT_SIZE_CODE")
NON_ARCH_BIT = _mask("NON_ARCH")
INC_SIZE_BIT = _mask("INC_SIZE")
WRITE_MASK_VALID_BIT = _mask("WRITE_MASK_VALID")

MAX_ELEMENTS = 16  # LAST_ELEMENT_IN_FIELD is 4 bits
MAX_FIELDS = 512  # LAST_FIELD_IN_SEQUENCE is 9 bits
MAX_CLASS = 63
MAX_FIELD_CODE = (1 << 24) - 1

ELEMENT_SIZES = (1, 2, 4, 8)  # indexed by ELEMENT_SIZE_CODE


class FieldId(tuple):
    """A decoded field id: one attribute per sub-field of LAYOUT, lower-cased.

    A tuple with named attributes, as a NamedTuple, built without importing
    typing or collections (the readers' runtime imports this module).
    """

    __slots__ = ()
    _fields = tuple(name.lower() for name, _, _ in LAYOUT)
    # the properties the loop below sets, for type checkers (tests check they match LAYOUT)
    field_code: int
    reserved_31_24: int
    element_size_code: int
    last_element_in_field: int
    last_field_in_sequence: int
    reserved_49_47: int
    inc_size: int
    write_mask_valid: int
    context_code: int
    reserved_55: int
    class_code: int
    reserved_62: int
    non_arch: int

    def __new__(cls, *parts: int) -> FieldId:
        return cls._make(parts)

    @classmethod
    def _make(cls, parts) -> FieldId:
        self = tuple.__new__(cls, parts)
        if len(self) != len(cls._fields):
            raise TypeError(f"FieldId takes {len(cls._fields)} parts, {len(self)} given")
        return self

    def __repr__(self) -> str:
        return (
            "FieldId("
            + ", ".join(f"{n}={v}" for n, v in zip(self._fields, self, strict=True))
            + ")"
        )

    @property
    def element_size(self) -> int:
        return ELEMENT_SIZES[self[2]]  # element_size_code


def _part(index: int) -> property:
    return property(lambda self: self[index], doc=LAYOUT[index][0])


for _index, _name in enumerate(FieldId._fields):
    setattr(FieldId, _name, _part(_index))
del _index, _name


def get(field_id: int, name: str) -> int:
    lo, width = _BITS[name]
    return (field_id >> lo) & ((1 << width) - 1)


_SHIFT_MASKS = tuple((lo, (1 << width) - 1) for _, lo, width in LAYOUT)
_make = FieldId._make


def decode(field_id: int) -> FieldId:
    if not 0 <= field_id <= MASK64:
        raise ValueError(f"field id {field_id:#x} is not a 64-bit value")
    return _make([(field_id >> lo) & mask for lo, mask in _SHIFT_MASKS])


def encode(
    class_code: int,
    field_code: int,
    element_size: int,
    *,
    non_arch: bool = False,
    context_code: int = 0,
    last_element: int = 0,
    last_field: int = 0,
) -> int:
    """Build an id from its parts; element_size is in bytes."""
    if element_size not in ELEMENT_SIZES:
        raise ValueError(f"element size {element_size} is not 1, 2, 4 or 8")
    parts = {
        "FIELD_CODE": field_code,
        "ELEMENT_SIZE_CODE": ELEMENT_SIZES.index(element_size),
        "LAST_ELEMENT_IN_FIELD": last_element,
        "LAST_FIELD_IN_SEQUENCE": last_field,
        "CONTEXT_CODE": context_code,
        "CLASS_CODE": class_code,
        "NON_ARCH": int(non_arch),
    }
    value = 0
    for name, part in parts.items():
        lo, width = _BITS[name]
        if not 0 <= part < (1 << width):
            raise ValueError(f"{name} {part:#x} does not fit in {width} bits")
        value |= part << lo
    return value


def replace(field_id: int, **parts: int) -> int:
    """Return field_id with the named sub-fields (LAYOUT names) replaced."""
    for name, part in parts.items():
        lo, width = _BITS[name]
        if not 0 <= part < (1 << width):
            raise ValueError(f"{name} {part:#x} does not fit in {width} bits")
        field_id = (field_id & ~(((1 << width) - 1) << lo)) | (part << lo)
    return field_id


_CLASS_LO, _CLASS_WIDTH = _BITS["CLASS_CODE"]
_CLASS_MASK = (1 << _CLASS_WIDTH) - 1


def key(field_id: int) -> tuple[int, int]:
    """The lookup key (class, field code); bit 63 is not part of it."""
    return (field_id >> _CLASS_LO) & _CLASS_MASK, field_id & FIELD_CODE_MASK


def element_size(field_id: int) -> int:
    return ELEMENT_SIZES[get(field_id, "ELEMENT_SIZE_CODE")]


def size_code(size_bytes: int) -> int:
    return ELEMENT_SIZES.index(size_bytes)


def element_id(base_id: int, index: int) -> int:
    """Id of element `index` (field * elements + element) of an entry."""
    return base_id + index  # FIELD_CODE is the low bits; callers bound index


def find_entry(keys, sizes, field_id: int) -> tuple[int, int] | None:
    """(index, element offset) of the table entry holding field_id, or None.

    keys are the entries' key() in ascending order and sizes[i] the element
    ids entry i covers (fields * elements); bit 63 and the size code of
    field_id play no part.  The one lookup of an id in a table: the model,
    the simulator and the readers' messages all ask it.
    """
    from bisect import bisect_right  # here: the readers' import need not load it

    k = key(field_id)
    i = bisect_right(keys, k) - 1
    if i < 0 or keys[i][0] != k[0] or k[1] - keys[i][1] >= sizes[i]:
        return None
    return i, k[1] - keys[i][1]


def explain(field_id: int) -> list[tuple[str, str, int]]:
    """(name, bit range, value) for every sub-field, high bits first."""
    rows = []
    for name, lo, width in reversed(LAYOUT):
        bits = f"{lo}" if width == 1 else f"{lo + width - 1}:{lo}"
        rows.append((name, bits, get(field_id, name)))
    return rows


CONTEXT_NAMES = {0: "global (SYS)", 1: "TD", 2: "VCPU"}  # CONTEXT_CODE values

# What each sub-field of LAYOUT is for (RESERVED_* are reserved: 0), for docs and explain.
PURPOSE = {
    "FIELD_CODE": "the field within its class; element k of field i of an entry is "
    "base + i * elements + k",
    "ELEMENT_SIZE_CODE": "bytes per element: 1 << code",
    "LAST_ELEMENT_IN_FIELD": "elements per field - 1, in a TDH.SYS.RDALL sequence header; "
    "0 in an element id",
    "LAST_FIELD_IN_SEQUENCE": "fields in the sequence - 1, in a TDH.SYS.RDALL sequence header; "
    "0 in an element id",
    "INC_SIZE": "how a sequence's field codes step; 0 for every global field",
    "WRITE_MASK_VALID": "a write mask comes with the value (writes only; no global field is "
    "writable)",
    "CONTEXT_CODE": "scope: " + ", ".join(f"{k} {v}" for k, v in CONTEXT_NAMES.items()),
    "CLASS_CODE": "the metadata class: a table of related fields",
    "NON_ARCH": "set on non-architectural fields; not part of the lookup key",
}


def purpose(name: str) -> str:
    return "reserved: 0" if name.startswith("RESERVED") else PURPOSE[name]


def meaning(name: str, value: int) -> str:
    """What a sub-field's value says, as far as the codec knows (class names are the schema's)."""
    if name == "ELEMENT_SIZE_CODE":
        return f"{ELEMENT_SIZES[value]} byte(s)"
    if name == "CONTEXT_CODE":
        return CONTEXT_NAMES.get(value, "reserved")
    if name.startswith("RESERVED") and value:
        return "must be 0"
    return ""


# ASCII only: int() also takes full-width and Arabic-Indic digits, which look like an id
# but are not what any tool or the TDX module reads (compiled on first use: the readers
# import this module and need not load re)
_NUMBER = r"-?(?:0[xX][0-9A-Fa-f]+|0[oO][0-7]+|0[bB][01]+|[0-9]+)\Z"


def parse(text: str) -> int:
    """Parse a field id written in hex (0x...) or decimal; -1 is the null id."""
    import re

    from . import chars

    given = text.strip(" \t")
    text = given.replace("_", "")
    if text in ("-1", "-0x1"):
        return NULL_ID
    odd = chars.first_non_ascii(text)
    try:
        if odd is not None or not re.match(_NUMBER, text):
            raise ValueError
        value = int(text, 0)
    except ValueError:
        why = f": {chars.describe(odd)}, not ASCII" if odd else ""
        raise ValueError(
            f"'{chars.escape(given)}' is not a number{why} (write ids as 0x followed by hex digits)"
        ) from None
    if not 0 <= value <= MASK64:
        raise ValueError(f"{text} does not fit in 64 bits")
    return value


def canonical(field_id: int) -> str:
    """Canonical text of an id: 0x and 16 upper-case hex digits."""
    return f"0x{field_id:016X}"
