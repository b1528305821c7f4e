"""`tdx-codegen sim serve`: one simulated TDX module for programs in any language.

The wire format (docs/sim-protocol.md) is fixed-size and little-endian:

    request, 40 bytes:  u32 magic "TDXS", u16 version 1, u16 size 40,
                        u64 rax, rcx, rdx, r8
    response, 48 bytes: u32 magic "TDXR", u16 version 1, u16 error,
                        u64 rax, rcx, rdx, r8, u32 page_len, u32 0,
                        then page_len bytes: what TDH.SYS.RDALL wrote

A frame with a bad magic, version or size gets a response with `error`
set and the connection is closed (after discarding up to 1 MiB or 1 s of
further input, so the client can read the response).  The server wraps the
Simulator; it does not reimplement it.

One thread and one epoll loop (Linux) serve every connection, with
non-blocking sockets: a round trip costs three system calls (epoll_wait,
recv, send) and no task switch (asyncio streams cost three times as much
CPU per request; a thread per connection fights over the GIL).  Memory is bounded: a
connection reads at most READ_FRAMES requests at a time, and while its
client has not taken the answers nothing more is read from it (its
requests wait in the kernel); a connection that makes no progress for
stall_timeout seconds (a partial request, or answers nobody takes) is
closed.  At max_clients, a new connection takes the slot of the one idle
the longest (for IDLE_EVICT_SECONDS at least); with none idle it is closed.
"""

from __future__ import annotations

import ipaddress
import select
import signal
import socket
import stat
import struct
import sys
import time
from pathlib import Path

REQUEST = struct.Struct("<IHH4Q")
RESPONSE = struct.Struct("<IHH4QII")
REQUEST_MAGIC = 0x53584454     # b"TDXS"
RESPONSE_MAGIC = 0x52584454    # b"TDXR"
VERSION = 1
ERR_NONE, ERR_MAGIC, ERR_VERSION, ERR_SIZE, ERR_INTERNAL = 0, 1, 2, 3, 4
ERRORS = {ERR_MAGIC: "bad magic", ERR_VERSION: "unsupported version", ERR_SIZE: "bad frame size",
          ERR_INTERNAL: "internal error"}
LINGER_BYTES, LINGER_SECONDS = 1 << 20, 1.0   # input discarded after an error response
STALL_SECONDS = 10.0           # default: a partial request or unread answers this long: closed
IDLE_EVICT_SECONDS = 1.0       # an idle connection this old may give its slot to a new one
READ_FRAMES = 32               # requests read at most before their answers are sent
STOP_GRACE_SECONDS = 1.0       # on shutdown, time for answers in flight to be sent
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_GOOD_HEADER = struct.pack("<IHH", REQUEST_MAGIC, VERSION, REQUEST.size)
_REGS = struct.Struct("<4Q")


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


class Connection:
    """One client: its requests answered in order, from the server's loop."""

    def __init__(self, server: "Server", sock: socket.socket):
        self.server, self.sock, self.fd = server, sock, sock.fileno()
        self.inbuf = bytearray()               # a partial request
        self.outbuf = b""                      # answers the client has not taken yet
        self.refused = False                   # an error response is in outbuf: close after it
        self.linger_until: float | None = None   # discarding input until then, after an error
        self.left = LINGER_BYTES
        self.since = time.monotonic()          # the last progress: a request begun or answered

    def busy(self) -> bool:
        return bool(self.inbuf or self.outbuf)

    def ready(self) -> None:
        try:
            if self.outbuf:
                self.flush()
            else:
                self.read()
        except BlockingIOError:
            pass                               # a stale readiness event
        except OSError:                        # reset, broken pipe
            self.close()

    def read(self) -> None:
        if self.linger_until is not None:
            data = self.sock.recv(65536)
            self.left -= len(data)
            if not data or self.left <= 0:
                self.close()                   # the client is done, or sends without end
            return
        data = self.sock.recv(READ_FRAMES * REQUEST.size - len(self.inbuf))
        if not data:
            return self.close()                # end of stream; a torn frame gets no answer
        now = time.monotonic()
        if not self.inbuf:
            self.since = now                   # a request begins
        self.inbuf += data
        whole = len(self.inbuf) - len(self.inbuf) % REQUEST.size
        if whole:
            out, self.refused = self.server.answer(self.inbuf, whole)
            del self.inbuf[:whole]
            self.since = now
            self.send(out)

    def send(self, out: bytes) -> None:
        try:
            sent = self.sock.send(out)
        except BlockingIOError:
            sent = 0
        if sent < len(out):                    # the client is slow to read: read nothing
            self.outbuf = out[sent:]           # more from it until it has taken these
            self.server.epoll.modify(self.fd, select.EPOLLOUT)
        elif self.refused:
            self.linger()

    def flush(self) -> None:
        self.outbuf = self.outbuf[self.sock.send(self.outbuf):]
        if self.outbuf:
            return
        self.since = time.monotonic()
        if self.server.stopping:
            return self.close()
        self.server.epoll.modify(self.fd, select.EPOLLIN)
        if self.refused:
            self.linger()

    def linger(self) -> None:
        """Discard what the client still sends (bounded), so closing does not
        reset the connection before it has read the error response."""
        self.sock.shutdown(socket.SHUT_WR)
        self.linger_until = time.monotonic() + LINGER_SECONDS
        del self.inbuf[:]

    def close(self) -> None:
        if self.server.conns.pop(self.fd, None) is self:
            self.server.epoll.unregister(self.fd)
            self.sock.close()


class Server:
    def __init__(self, sim, max_clients: int = 64, stall_timeout: float = STALL_SECONDS):
        self.sim, self.max_clients, self.stall_timeout = sim, max_clients, stall_timeout
        self.conns: dict[int, Connection] = {}     # by file descriptor, oldest first
        self.epoll = select.epoll()
        self.stopping = False

    def answer(self, buf: bytearray, whole: int) -> tuple[bytes, bool]:
        """Responses to the frames in buf[:whole]; True when one was refused
        (the answers stop there and the connection is to be closed)."""
        out, call = [], self.sim.call
        for pos in range(0, whole, REQUEST.size):
            if buf[pos:pos + 8] != _GOOD_HEADER:
                error = check_request(bytes(buf[pos:pos + REQUEST.size]))
                out.append(pack_response((0, 0, 0, 0), None, error))
                return b"".join(out), True
            try:
                regs, written = call(*_REGS.unpack_from(buf, pos + 8))
            except Exception as exc:           # a simulator bug must not take the server down
                print(f"tdx-codegen sim: internal error: {exc!r}", file=sys.stderr, flush=True)
                out.append(pack_response((0, 0, 0, 0), None, ERR_INTERNAL))
                return b"".join(out), True
            out.append(pack_response(regs, written))
        return out[0] if len(out) == 1 else b"".join(out), False

    def accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            except OSError:                    # e.g. out of file descriptors: next time
                return
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if len(self.conns) >= self.max_clients:
                idle = self.idlest()
                if idle is None:
                    sock.close()               # every slot is busy
                    continue
                idle.close()
            self.conns[sock.fileno()] = Connection(self, sock)
            self.epoll.register(sock.fileno(), select.EPOLLIN)

    def idlest(self) -> Connection | None:
        """The connection idle longest, if for IDLE_EVICT_SECONDS at least."""
        limit = time.monotonic() - IDLE_EVICT_SECONDS
        idle = [c for c in self.conns.values()
                if not c.busy() and c.linger_until is None and c.since <= limit]
        return min(idle, key=lambda c: c.since, default=None)

    def sweep(self) -> None:
        """Close connections stalled for stall_timeout, or done lingering."""
        now = time.monotonic()
        for conn in list(self.conns.values()):
            if (conn.linger_until is not None and now >= conn.linger_until
                    or conn.busy() and now - conn.since >= self.stall_timeout):
                conn.close()

    def run(self, listener: socket.socket, where: str) -> None:
        """Serve until SIGTERM or SIGINT, then close every connection."""
        wake_r, wake_w = socket.socketpair()  # a signal writes a byte: the loop wakes
        wake_w.setblocking(False)
        wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda *_: None)
        listener.setblocking(False)
        self.epoll.register(listener.fileno(), select.EPOLLIN)
        self.epoll.register(wake_r.fileno(), select.EPOLLIN)
        m = self.sim.module
        print(f"tdx-codegen sim: serving module {m.name} ({len(m.fields)} fields) on {where}",
              file=sys.stderr, flush=True)
        try:
            self.loop(listener, wake_r.fileno())
        finally:
            # ignored from now on, not restored: a second SIGTERM while stopping (or
            # while Python exits, when it resets its own handlers) must not kill us
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            signal.set_wakeup_fd(wakeup)
            for conn in list(self.conns.values()):
                conn.close()
            self.epoll.close()
            listener.close()
            wake_r.close()
            wake_w.close()

    def loop(self, listener: socket.socket, wake_fd: int) -> None:
        tick = min(1.0, self.stall_timeout / 4)
        next_sweep, deadline = time.monotonic() + tick, 0.0
        conns, listen_fd = self.conns, listener.fileno()
        while not (self.stopping and (not conns or time.monotonic() >= deadline)):
            for fd, _ in self.epoll.poll(tick):
                conn = conns.get(fd)
                if conn is not None:
                    conn.ready()
                elif fd == listen_fd and not self.stopping:
                    self.accept(listener)
                elif fd == wake_fd and not self.stopping:
                    self.stop(listen_fd, wake_fd)
                    deadline = time.monotonic() + STOP_GRACE_SECONDS
            if time.monotonic() >= next_sweep:
                self.sweep()
                next_sweep = time.monotonic() + tick

    def stop(self, *fds: int) -> None:
        """Stop accepting and reading; answers not yet taken get STOP_GRACE_SECONDS."""
        self.stopping = True
        for fd in fds:
            self.epoll.unregister(fd)
        for conn in list(self.conns.values()):
            if not conn.outbuf:
                conn.close()


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


def _listen(unix: Path | None, tcp: tuple[str, int] | None) -> tuple[socket.socket, str]:
    if unix is not None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(unix))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        return listener, f"unix:{unix}"
    family = socket.AF_INET6 if ":" in tcp[0] else socket.AF_INET
    listener = socket.create_server(tcp, family=family, backlog=128)
    host, port = listener.getsockname()[:2]
    return listener, f"tcp:{host}:{port}"


def serve(sim, *, unix: Path | None = None, tcp: tuple[str, int] | None = None,
          max_clients: int = 64, stall_timeout: float = STALL_SECONDS) -> int:
    """Serve until SIGTERM or SIGINT; the socket file is removed on the way out."""
    unix = Path(unix) if unix is not None else None
    if unix is not None:
        _claim_socket_path(unix)
    try:
        listener, where = _listen(unix, tcp)
    except OSError as exc:
        print(f"tdx-codegen: error: cannot serve: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        Server(sim, max_clients, stall_timeout).run(listener, where)
    finally:
        if unix is not None:
            _unlink(unix)
    print("tdx-codegen sim: stopped", file=sys.stderr, flush=True)
    return 0
