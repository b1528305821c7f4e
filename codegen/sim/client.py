"""Python client of `tdx-codegen sim serve`: the readers' backend over a socket.

    with Client(unix="/tmp/tdx.sock") as module:
        status, next_id, value = module.rd(0x9900000100000004)
        info = tdx_metadata.read_rd(module)      # any reader taking rd()/rdall()

Client.call() sends one request and returns the output registers and the
bytes TDH.SYS.RDALL wrote (None when it wrote nothing), as Simulator.call()
does, so code runs unchanged against either.
"""

from __future__ import annotations

import socket
from pathlib import Path

from codegen.abi.rdall_list import PAGE_SIZE
from codegen.sim.protocol import RESPONSE, ProtocolError, pack_request, unpack_response
from codegen.sim.simulator import Backend, Regs

__all__ = ["Client", "ProtocolError"]


class Client(Backend):
    def __init__(
        self,
        *,
        unix: str | Path | None = None,
        tcp: tuple[str, int] | None = None,
        timeout: float = 30.0,
    ):
        if (unix is None) == (tcp is None):
            raise ValueError("give unix=PATH or tcp=(HOST, PORT)")
        address: str | tuple[str, int]
        if tcp is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address = str(unix)
        else:
            self.sock = socket.socket(
                socket.AF_INET6 if ":" in tcp[0] else socket.AF_INET, socket.SOCK_STREAM
            )
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            address = tcp
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ProtocolError(f"server closed the connection after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def _refusal(self) -> None:
        """The server closed the connection: raise its reason (e.g. busy) if it sent one."""
        try:
            data = self.sock.recv(RESPONSE.size)
        except OSError:
            return
        if len(data) == RESPONSE.size:
            unpack_response(data)  # a refusal raises ProtocolError

    def call(self, rax: int, rcx: int = 0, rdx: int = 0, r8: int = 0) -> tuple[Regs, bytes | None]:
        try:
            self.sock.sendall(pack_request(rax, rcx, rdx, r8))
        except (BrokenPipeError, ConnectionResetError):
            self._refusal()
            raise
        # one recv takes the whole response nearly always: a page fits in it too
        data = self.sock.recv(RESPONSE.size + PAGE_SIZE)
        if len(data) < RESPONSE.size:
            data += self._recv(RESPONSE.size - len(data))
        regs, page_len = unpack_response(data)
        if len(data) == RESPONSE.size:
            page = self._recv(page_len) if page_len else None
        else:
            page = data[RESPONSE.size :]
            if len(page) < page_len:
                page += self._recv(page_len - len(page))
            elif len(page) > page_len:
                raise ProtocolError(f"{len(page) - page_len} bytes after a response")
        return Regs(*regs), page
