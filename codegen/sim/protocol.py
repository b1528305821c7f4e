"""The wire protocol of `tdx-codegen sim serve`, shared by server and client.

Fixed-size little-endian frames (docs/sim-protocol.md):

    request, 40 bytes:  u32 magic "TDXS", u16 version 1, u16 size 40,
                        u64 rax, rcx, rdx, r8
    response, 48 bytes: u32 magic "TDXR", u16 version 1, u16 error,
                        u64 rax, rcx, rdx, r8, u32 page_len, u32 0,
                        then page_len bytes: what TDH.SYS.RDALL wrote

A SEAMCALL failure is not a protocol error: it is the status in RAX.
`error` says why the server refused a frame (or, ERR_BUSY, a connection).
"""

from __future__ import annotations

import struct

REQUEST = struct.Struct("<IHH4Q")
RESPONSE = struct.Struct("<IHH4QII")
REQUEST_MAGIC = 0x53584454  # b"TDXS"
RESPONSE_MAGIC = 0x52584454  # b"TDXR"
VERSION = 1

ERR_NONE, ERR_MAGIC, ERR_VERSION, ERR_SIZE, ERR_INTERNAL, ERR_BUSY = 0, 1, 2, 3, 4, 5
ERRORS = {
    ERR_MAGIC: "bad magic",
    ERR_VERSION: "unsupported version",
    ERR_SIZE: "bad frame size",
    ERR_INTERNAL: "internal error",
    ERR_BUSY: "server busy (no free connection slot or file descriptor); retry later",
}

GOOD_HEADER = struct.pack("<IHH", REQUEST_MAGIC, VERSION, REQUEST.size)  # of every valid request
NO_REGS = (0, 0, 0, 0)


class ProtocolError(ConnectionError):
    """The server answered something that is not a response frame, or refused the request."""


def pack_request(rax: int, rcx: int, rdx: int, r8: int) -> bytes:
    return REQUEST.pack(REQUEST_MAGIC, VERSION, REQUEST.size, rax, rcx, rdx, r8)


def pack_response(regs, written: bytes | None, error: int = ERR_NONE) -> bytes:
    page = written or b""
    return RESPONSE.pack(RESPONSE_MAGIC, VERSION, error, *regs, len(page), 0) + page


def error_response(error: int) -> bytes:
    """A refusal: zero registers, no page."""
    return pack_response(NO_REGS, None, error)


def check_request(frame: bytes) -> int:
    """ERR_NONE for a well-formed request header, else the error to answer."""
    magic, version, size = REQUEST.unpack_from(frame)[:3]
    if magic != REQUEST_MAGIC:
        return ERR_MAGIC
    if version != VERSION:
        return ERR_VERSION
    if size != REQUEST.size:
        return ERR_SIZE
    return ERR_NONE


def unpack_response(data: bytes) -> tuple[tuple[int, int, int, int], int]:
    """(rax, rcx, rdx, r8) and page_len of a response's first RESPONSE.size bytes;
    ProtocolError for a frame that is no response, or a refusal."""
    magic, version, error, rax, rcx, rdx, r8, page_len, _ = RESPONSE.unpack_from(data)
    if magic != RESPONSE_MAGIC or version != VERSION:
        raise ProtocolError(f"not a tdx-codegen sim response (magic {magic:#x}, version {version})")
    if error:
        raise ProtocolError(f"server refused the request: {ERRORS.get(error, error)}")
    return (rax, rcx, rdx, r8), page_len
