# Copied by tdx-codegen 0.1.0 from codegen/abi/rdall_list.py
# Do not edit: run 'tdx-codegen build'.
"""The metadata list format TDH.SYS.RDALL writes into a 4 KB page.

    bytes 0-7   list header: bits 15:0 bytes used (header included),
                bits 31:16 number of sequences, bits 63:32 zero
    then        sequences: an 8-byte header (a field id whose
                LAST_ELEMENT_IN_FIELD / LAST_FIELD_IN_SEQUENCE give the shape)
                followed by 8 bytes per element, little-endian

One place for this layout: the simulator writes it, the readers' runtime
parses it.  Standard library only.
"""

from __future__ import annotations

from . import fieldid

PAGE_SIZE = 4096
HEADER_SIZE = 8
ELEMENT_SIZE = 8


class ListFormatError(ValueError):
    """A page whose list header or sequences are inconsistent."""


class Sequence(tuple):
    """One sequence of a list (a tuple with named attributes, without importing typing).

    header        the sequence header id as written
    class_code    its class
    field_code    field code of the first element
    num_fields, num_elements
    values        num_fields * num_elements values, in order
    """

    __slots__ = ()
    _fields = ("header", "class_code", "field_code", "num_fields", "num_elements", "values")

    def __new__(
        cls,
        header: int,
        class_code: int,
        field_code: int,
        num_fields: int,
        num_elements: int,
        values: tuple[int, ...],
    ) -> Sequence:
        return tuple.__new__(
            cls, (header, class_code, field_code, num_fields, num_elements, values)
        )

    def __repr__(self) -> str:
        return (
            "Sequence("
            + ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self, strict=True))
            + ")"
        )

    header = property(lambda self: self[0])
    class_code = property(lambda self: self[1])
    field_code = property(lambda self: self[2])
    num_fields = property(lambda self: self[3])
    num_elements = property(lambda self: self[4])
    values = property(lambda self: self[5])

    def element_ids(self):
        """(element id, value) for every element, the id with shape bits cleared."""
        base = fieldid.replace(self.header, LAST_ELEMENT_IN_FIELD=0, LAST_FIELD_IN_SEQUENCE=0)
        for i, value in enumerate(self.values):
            yield base + i, value


def list_header(used: int, sequences: int) -> int:
    return (used & 0xFFFF) | ((sequences & 0xFFFF) << 16)


def sequence_header(first_id: int, num_fields: int, num_elements: int) -> int:
    return fieldid.replace(
        first_id, LAST_ELEMENT_IN_FIELD=num_elements - 1, LAST_FIELD_IN_SEQUENCE=num_fields - 1
    )


def pack(sequences: list[tuple[int, list[int]]]) -> bytes:
    """Bytes of a list: sequences as (sequence header id, element values)."""
    import struct  # here, not at the top: importing the readers need not load it

    body = b"".join(struct.pack(f"<Q{len(vals)}Q", hdr, *vals) for hdr, vals in sequences)
    used = HEADER_SIZE + len(body)
    return struct.pack("<Q", list_header(used, len(sequences))) + body


def parse(page: bytes) -> list[Sequence]:
    """Sequences of one page, by their headers (never by fixed offsets)."""
    import struct

    if len(page) < HEADER_SIZE:
        raise ListFormatError(f"page of {len(page)} bytes has no list header")
    (hdr,) = struct.unpack_from("<Q", page, 0)
    used, count = hdr & 0xFFFF, (hdr >> 16) & 0xFFFF
    if hdr >> 32:
        raise ListFormatError(f"list header {hdr:#018x} sets reserved bits 63:32")
    if used < HEADER_SIZE or used > len(page) or (used - HEADER_SIZE) % ELEMENT_SIZE:
        raise ListFormatError(f"list header says {used} bytes used in a {len(page)}-byte page")
    out, pos = [], HEADER_SIZE
    for n in range(count):
        if pos + HEADER_SIZE > used:
            raise ListFormatError(f"sequence {n} starts past the {used} bytes used")
        (sh,) = struct.unpack_from("<Q", page, pos)
        class_code, field_code = fieldid.key(sh)
        fields = fieldid.get(sh, "LAST_FIELD_IN_SEQUENCE") + 1
        elements = fieldid.get(sh, "LAST_ELEMENT_IN_FIELD") + 1
        n_vals = fields * elements
        end = pos + HEADER_SIZE + n_vals * ELEMENT_SIZE
        if end > used:
            raise ListFormatError(
                f"sequence {n} ({fieldid.canonical(sh)}) runs past the {used} bytes used"
            )
        values = struct.unpack_from(f"<{n_vals}Q", page, pos + HEADER_SIZE)
        out.append(Sequence(sh, class_code, field_code, fields, elements, values))
        pos = end
    if pos != used:
        raise ListFormatError(f"{count} sequences end at byte {pos}, list header says {used}")
    return out
