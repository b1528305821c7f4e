"""`tdx-codegen sim serve`: one simulated TDX module for programs in any language.

The wire format (docs/sim-protocol.md) is fixed-size and little-endian:

    request, 40 bytes:  u32 magic "TDXS", u16 version 1, u16 size 40,
                        u64 rax, rcx, rdx, r8
    response, 48 bytes: u32 magic "TDXR", u16 version 1, u16 error,
                        u64 rax, rcx, rdx, r8, u32 page_len, u32 0,
                        then page_len bytes: what TDH.SYS.RDALL wrote

A frame with a bad magic, version or size gets a response with `error`
set and the connection is closed (after discarding up to 1 MiB or 1 s of
further input, so the client can read the response).  The server wraps the Simulator; it
does not reimplement it.  Every connection is served by one event loop,
one request at a time, so memory per connection is one frame plus the
transport's bounded buffers; connections beyond max_clients are closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import stat
import struct
import sys
from pathlib import Path

REQUEST = struct.Struct("<IHH4Q")
RESPONSE = struct.Struct("<IHH4QII")
REQUEST_MAGIC = 0x53584454     # b"TDXS"
RESPONSE_MAGIC = 0x52584454    # b"TDXR"
VERSION = 1
ERR_NONE, ERR_MAGIC, ERR_VERSION, ERR_SIZE = 0, 1, 2, 3
LINGER_BYTES, LINGER_SECONDS = 1 << 20, 1.0   # input discarded after an error response
ERRORS = {ERR_MAGIC: "bad magic", ERR_VERSION: "unsupported version", ERR_SIZE: "bad frame size"}


def pack_request(rax: int, rcx: int, rdx: int, r8: int) -> bytes:
    return REQUEST.pack(REQUEST_MAGIC, VERSION, REQUEST.size, rax, rcx, rdx, r8)


def pack_response(regs, written: bytes | None, error: int = ERR_NONE) -> bytes:
    page = written or b""
    return RESPONSE.pack(RESPONSE_MAGIC, VERSION, error, *regs, len(page), 0) + page


def check_request(frame: bytes) -> int:
    magic, version, size = REQUEST.unpack(frame)[:3]
    if magic != REQUEST_MAGIC:
        return ERR_MAGIC
    if version != VERSION:
        return ERR_VERSION
    if size != REQUEST.size:
        return ERR_SIZE
    return ERR_NONE


def parse_tcp(text: str) -> tuple[str, int]:
    """HOST:PORT on a loopback address (the protocol has no authentication)."""
    from codegen.cli import UsageError

    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        number = int(port)
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise UsageError(f"--tcp {text}: expected HOST:PORT, e.g. 127.0.0.1:7070") from None
    if not sep or not 0 <= number <= 65535:
        raise UsageError(f"--tcp {text}: expected HOST:PORT, e.g. 127.0.0.1:7070")
    if not loopback:
        raise UsageError(f"--tcp {text}: only loopback addresses are served (the protocol "
                         "has no authentication)")
    return host, number


class Server:
    def __init__(self, sim, max_clients: int = 64):
        self.sim, self.max_clients = sim, max_clients
        self.clients: dict[asyncio.Task, asyncio.StreamWriter] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.clients) >= self.max_clients:
            writer.close()
            return
        task = asyncio.current_task()
        self.clients[task] = writer
        try:
            while True:
                try:
                    frame = await reader.readexactly(REQUEST.size)
                except asyncio.IncompleteReadError:
                    break                      # end of stream, or a torn frame
                error = check_request(frame)
                if error:
                    writer.write(pack_response((0, 0, 0, 0), None, error))
                    await writer.drain()
                    await _linger(reader, writer)
                    break
                regs, written = self.sim.call(*REQUEST.unpack(frame)[3:])
                writer.write(pack_response(regs, written))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.clients.pop(task, None)
            writer.close()

    async def run(self, unix: Path | None, tcp: tuple[str, int] | None) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if unix is not None:
            server = await asyncio.start_unix_server(self.handle, path=str(unix))
            where = f"unix:{unix}"
        else:
            server = await asyncio.start_server(self.handle, host=tcp[0], port=tcp[1])
            host, port = server.sockets[0].getsockname()[:2]
            where = f"tcp:{host}:{port}"
        m = self.sim.module
        print(f"tdx-codegen sim: serving module {m.name} ({len(m.fields)} fields) on {where}",
              file=sys.stderr, flush=True)
        try:
            await stop.wait()
        finally:
            server.close()
            # closing the transports ends each handler's read; cancelling the
            # handlers instead makes asyncio's stream callback report them
            for writer in self.clients.values():
                writer.close()
            await asyncio.gather(*self.clients, return_exceptions=True)
            if unix is not None:
                _unlink(unix)
        print("tdx-codegen sim: stopped", file=sys.stderr, flush=True)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Discard what the client still sends (bounded), so closing does not reset
    the connection before it has read the error response."""
    if writer.can_write_eof():
        writer.write_eof()
    try:
        async with asyncio.timeout(LINGER_SECONDS):
            left = LINGER_BYTES
            while left > 0 and (chunk := await reader.read(min(left, 65536))):
                left -= len(chunk)
    except TimeoutError:
        pass


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _claim_socket_path(path: Path) -> None:
    """Remove a stale socket file; refuse a live one or any other file."""
    from codegen.cli import UsageError

    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"--unix {path}: exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        _unlink(path)                          # nobody listens: a leftover
        return
    finally:
        probe.close()
    raise UsageError(f"--unix {path}: another server is listening there")


def serve(sim, *, unix: Path | None = None, tcp: tuple[str, int] | None = None,
          max_clients: int = 64) -> int:
    """Serve until SIGTERM or SIGINT; the socket file is removed on the way out."""
    if unix is not None:
        _claim_socket_path(Path(unix))
    try:
        asyncio.run(Server(sim, max_clients).run(Path(unix) if unix else None, tcp))
    except OSError as exc:
        print(f"tdx-codegen: error: cannot serve: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
