# Copied by tdx-codegen 0.1.0 from codegen/abi/status.py
# Do not edit: run 'tdx-codegen build'.
"""TDX SEAMCALL status codes and leaf numbers (the TDX module ABI: completion status codes).

Standard library only: the simulator, the readers' runtime and the CLI
all name statuses from this one table.
"""

from __future__ import annotations

# Leaves (RAX bits 15:0).
TDH_SYS_RD = 34
TDH_SYS_RDALL = 37

# Operand ids in the low 32 bits of a status.
OPERAND_RAX, OPERAND_RCX, OPERAND_RDX, OPERAND_R8 = 0, 1, 2, 8

TDX_SUCCESS = 0x0000000000000000
TDX_OPERAND_INVALID = 0xC000010000000000
TDX_OPERAND_BUSY = 0x8000020000000000
TDX_SYS_BUSY = 0x8000020200000000
TDX_RND_NO_ENTROPY = 0x8000020300000000
TDX_SYS_LP_INIT_NOT_DONE = 0xC000050200000000
TDX_SYS_NOT_READY = 0xC000050500000000
TDX_SYS_SHUTDOWN = 0xC000050600000000
TDX_METADATA_FIELD_ID_INCORRECT = 0xC0000C0000000000
TDX_METADATA_FIELD_NOT_WRITABLE = 0xC0000C0100000000
TDX_METADATA_FIELD_NOT_READABLE = 0xC0000C0200000000
TDX_METADATA_FIELD_VALUE_NOT_VALID = 0xC0000C0300000000
TDX_METADATA_LIST_OVERFLOW = 0xC0000C0400000000
TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT = 0x00000C0B00000000
TDX_METADATA_FIELD_SKIP = 0x00000C0C00000000
TDX_METADATA_FIELD_NOT_ALLOCATED = 0xC0000C0E00000000

# By name, for parsing and naming statuses.
STATUSES = {
    "TDX_SUCCESS": TDX_SUCCESS,
    "TDX_OPERAND_INVALID": TDX_OPERAND_INVALID,
    "TDX_OPERAND_BUSY": TDX_OPERAND_BUSY,
    "TDX_SYS_BUSY": TDX_SYS_BUSY,
    "TDX_RND_NO_ENTROPY": TDX_RND_NO_ENTROPY,
    "TDX_SYS_LP_INIT_NOT_DONE": TDX_SYS_LP_INIT_NOT_DONE,
    "TDX_SYS_NOT_READY": TDX_SYS_NOT_READY,
    "TDX_SYS_SHUTDOWN": TDX_SYS_SHUTDOWN,
    "TDX_METADATA_FIELD_ID_INCORRECT": TDX_METADATA_FIELD_ID_INCORRECT,
    "TDX_METADATA_FIELD_NOT_WRITABLE": TDX_METADATA_FIELD_NOT_WRITABLE,
    "TDX_METADATA_FIELD_NOT_READABLE": TDX_METADATA_FIELD_NOT_READABLE,
    "TDX_METADATA_FIELD_VALUE_NOT_VALID": TDX_METADATA_FIELD_VALUE_NOT_VALID,
    "TDX_METADATA_LIST_OVERFLOW": TDX_METADATA_LIST_OVERFLOW,
    "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT": TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT,
    "TDX_METADATA_FIELD_SKIP": TDX_METADATA_FIELD_SKIP,
    "TDX_METADATA_FIELD_NOT_ALLOCATED": TDX_METADATA_FIELD_NOT_ALLOCATED,
}

_BY_CODE = {v: k for k, v in STATUSES.items()}
ERROR_BIT = 1 << 63
OPERAND_MASK = 0xFFFFFFFF


def is_error(status: int) -> bool:
    return bool(status & ERROR_BIT)


def name(status: int) -> str:
    """Name of a status, with its operand: 'TDX_OPERAND_INVALID(RDX)'."""
    base = status & ~OPERAND_MASK
    found = _BY_CODE.get(base)
    if found is None:
        return f"status {status:#018x}"
    operand = status & OPERAND_MASK
    if operand:
        reg = {OPERAND_RCX: "RCX", OPERAND_RDX: "RDX", OPERAND_R8: "R8"}.get(
            operand, f"{operand:#x}"
        )
        return f"{found}({reg})"
    return found


def parse(text: str) -> int:
    """A status given by name (TDX_SYS_BUSY) or number."""
    text = text.strip()
    if text in STATUSES:
        return STATUSES[text]
    from . import chars

    try:
        value = chars.ascii_int(text)  # the ABI's numbers are ASCII
    except ValueError:
        shown = text.encode("ascii", "backslashreplace").decode()
        raise ValueError(f"unknown status '{shown}' (names: {', '.join(STATUSES)})") from None
    if not 0 <= value < 1 << 64:
        raise ValueError(f"status {text} does not fit in 64 bits")
    return value
