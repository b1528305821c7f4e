"""`tdx-codegen sim serve`: one simulated TDX module for programs in any language.

The frames are codegen.sim.protocol's (docs/sim-protocol.md).  A frame with
a bad magic, version or size gets a response with `error` set and the
connection is closed (after discarding up to 1 MiB or 1 s of further input,
so the client can read the response).  The server wraps the Simulator; it
does not reimplement it.

One thread and one epoll loop (Linux) serve every connection, with
non-blocking sockets: a round trip costs three system calls (epoll_wait,
recv, send) and no task switch (asyncio streams cost three times as much
CPU per request; a thread per connection fights over the GIL).

Limits, so that no client and no shortage shuts out the others:
- memory: a connection reads at most READ_FRAMES requests at a time, and
  while its client has not taken the answers nothing more is read from it;
- a request must arrive whole within request_deadline of its first byte
  (a trickle of bytes cannot hold a slot);
- answers nobody takes for stall_timeout are dropped with the connection;
  progress is the bytes the client takes (the socket's send queue shrinking),
  so a slow but steady reader is never cut off;
- at max_clients a new connection takes the slot of the one idle longest
  (for IDLE_EVICT_SECONDS at least), or is refused with ERR_BUSY;
- out of file descriptors, a reserve descriptor is given up for a moment to
  accept the newcomer and refuse it with ERR_BUSY, so the listener never
  stays readable (a busy loop) and nobody waits unanswered.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import termios
import time
from pathlib import Path

from codegen.sim import address
from codegen.sim.protocol import (
    ERR_BUSY,
    ERR_INTERNAL,
    GOOD_HEADER,
    REQUEST,
    check_request,
    error_response,
    pack_response,
)

LINGER_BYTES, LINGER_SECONDS = 1 << 20, 1.0  # input discarded after an error response
STALL_SECONDS = 10.0  # default: answers not taken for this long: closed
REQUEST_SECONDS = 1.0  # a request begun must be whole this soon (at most the stall timeout)
IDLE_EVICT_SECONDS = 1.0  # an idle connection this old may give its slot to a new one
READ_FRAMES = 32  # requests read at most before their answers are sent
STOP_GRACE_SECONDS = 1.0  # on shutdown, time for answers in flight to be sent
ACCEPT_PAUSE_SECONDS = 0.1  # out of descriptors with no reserve: the listener rests this long
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_SHORT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_GONE = (errno.ECONNABORTED, errno.EPROTO, errno.EPERM)
_REGS = struct.Struct("<4Q")
_INT = struct.Struct("i")


def _unsent(sock: socket.socket) -> int:
    """Bytes in the socket's send queue (SIOCOUTQ): falls as the client takes them."""
    try:
        return _INT.unpack(fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except OSError:
        return 0


def refuse(sock: socket.socket) -> None:
    """Answer a connection that cannot be served with ERR_BUSY, then close it."""
    try:
        sock.setblocking(False)
        sock.send(error_response(ERR_BUSY))
        sock.shutdown(socket.SHUT_WR)
        sock.recv(65536)  # unread input would turn close into a reset
    except OSError:
        pass
    sock.close()


class Connection:
    """One client: its requests answered in order, from the server's loop."""

    def __init__(self, server: Server, sock: socket.socket):
        self.server, self.sock, self.fd = server, sock, sock.fileno()
        self.inbuf = bytearray()  # a partial request
        self.outbuf = b""  # answers the client has not taken yet
        self.refused = False  # an error response is in outbuf: close after it
        self.linger_until: float | None = None  # discarding input until then, after an error
        self.left = LINGER_BYTES
        self.since = time.monotonic()  # the last progress: an answer made or taken
        self.begun = 0.0  # when the partial request in inbuf began
        self.unsent = 0  # the send queue at the last look

    def busy(self) -> bool:
        return bool(self.inbuf or self.outbuf)

    def ready(self) -> None:
        try:
            if self.outbuf:
                self.flush()
            else:
                self.read()
        except BlockingIOError:
            pass  # a stale readiness event
        except OSError:  # reset, broken pipe
            self.close()

    def read(self) -> None:
        if self.linger_until is not None:
            data = self.sock.recv(65536)
            self.left -= len(data)
            if not data or self.left <= 0:
                self.close()  # the client is done, or sends without end
            return
        data = self.sock.recv(READ_FRAMES * REQUEST.size - len(self.inbuf))
        if not data:
            return self.close()  # end of stream; a torn frame gets no answer
        now = time.monotonic()
        if not self.inbuf:
            self.begun = now  # a request begins
        self.inbuf += data
        whole = len(self.inbuf) - len(self.inbuf) % REQUEST.size
        if whole:
            out, self.refused = self.server.answer(self.inbuf, whole)
            del self.inbuf[:whole]
            self.since = self.begun = now  # what is left began in this read
            self.send(out)

    def send(self, out: bytes) -> None:
        try:
            sent = self.sock.send(out)
        except BlockingIOError:
            sent = 0
        if sent < len(out):  # the client is slow to read: read nothing
            self.outbuf = out[sent:]  # more from it until it has taken these
            self.unsent = _unsent(self.sock)
            self.server.epoll.modify(self.fd, select.EPOLLOUT)
        elif self.refused:
            self.linger()

    def flush(self) -> None:
        sent = self.sock.send(self.outbuf)
        self.outbuf = self.outbuf[sent:]
        if sent:
            self.since = time.monotonic()
        if self.outbuf:
            self.unsent = _unsent(self.sock)
            return
        if self.server.stopping:
            return self.close()
        self.server.epoll.modify(self.fd, select.EPOLLIN)
        if self.refused:
            self.linger()

    def taking(self) -> bool:
        """Whether the client took bytes of its answers since the last look."""
        before, self.unsent = self.unsent, _unsent(self.sock)
        return self.unsent < before

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
        self.request_deadline = min(REQUEST_SECONDS, stall_timeout)
        self.conns: dict[int, Connection] = {}  # by file descriptor, oldest first
        self.epoll = select.epoll()
        self.stopping = False
        self.reserve: int | None = None  # a descriptor to give up when out of them
        self.listen_fd = -1
        self.resume_at: float | None = None  # the listener rests until then

    def answer(self, buf: bytearray, whole: int) -> tuple[bytes, bool]:
        """Responses to the frames in buf[:whole]; True when one was refused
        (the answers stop there and the connection is to be closed)."""
        out, call = [], self.sim.call
        for pos in range(0, whole, REQUEST.size):
            if buf[pos : pos + 8] != GOOD_HEADER:
                out.append(error_response(check_request(bytes(buf[pos : pos + REQUEST.size]))))
                return b"".join(out), True
            try:
                regs, written = call(*_REGS.unpack_from(buf, pos + 8))
            except Exception as exc:  # a simulator bug must not take the server down
                print(f"tdx-codegen sim: internal error: {exc!r}", file=sys.stderr, flush=True)
                out.append(error_response(ERR_INTERNAL))
                return b"".join(out), True
            out.append(pack_response(regs, written))
        return out[0] if len(out) == 1 else b"".join(out), False

    def accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in _GONE:
                    continue  # that client left before it was accepted
                shed = self.shed(listener) if exc.errno in _SHORT_OF_FDS else None
                if shed is None:
                    return self.rest()
                if not shed:
                    return
                continue
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if len(self.conns) >= self.max_clients:
                idle = self.idlest()
                if idle is None:
                    refuse(sock)  # every slot is busy
                    continue
                idle.close()
            self.conns[sock.fileno()] = Connection(self, sock)
            self.epoll.register(sock.fileno(), select.EPOLLIN)

    def shed(self, listener: socket.socket) -> bool | None:
        """Out of descriptors: the reserve is given up to accept a newcomer and
        refuse it.  True: one was refused; False: nobody waits; None: no luck."""
        if self.reserve is None:
            self.reserve = _open_reserve()
            if self.reserve is None:
                return None
        os.close(self.reserve)
        try:
            sock, _ = listener.accept()
            refuse(sock)
            refused = True
        except BlockingIOError:
            refused = False  # accept() runs out of descriptors first
        except OSError:
            refused = None
        self.reserve = _open_reserve()
        return refused

    def rest(self) -> None:
        """Stop polling the listener for a moment (it would stay readable: a busy loop)."""
        self.epoll.modify(self.listen_fd, 0)
        self.resume_at = time.monotonic() + ACCEPT_PAUSE_SECONDS

    def idlest(self) -> Connection | None:
        """The connection idle longest, if for IDLE_EVICT_SECONDS at least."""
        limit = time.monotonic() - IDLE_EVICT_SECONDS
        idle = [
            c
            for c in self.conns.values()
            if not c.busy() and c.linger_until is None and c.since <= limit
        ]
        return min(idle, key=lambda c: c.since) if idle else None

    def sweep(self) -> None:
        """Close connections done lingering, late with a request, or whose answers
        nobody has taken for stall_timeout."""
        now = time.monotonic()
        for conn in list(self.conns.values()):
            if conn.linger_until is not None:
                late = now >= conn.linger_until
            elif conn.outbuf:
                if conn.taking():
                    conn.since = now
                late = now - conn.since >= self.stall_timeout
            else:
                late = bool(conn.inbuf) and now - conn.begun >= self.request_deadline
            if late:
                conn.close()
        if self.resume_at is not None and now >= self.resume_at and not self.stopping:
            self.resume_at = None
            self.epoll.modify(self.listen_fd, select.EPOLLIN)

    def run(self, listener: socket.socket, where: str) -> None:
        """Serve until SIGTERM or SIGINT, then close every connection."""
        wake_r, wake_w = socket.socketpair()  # a signal writes a byte: the loop wakes
        wake_w.setblocking(False)
        wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda *_: None)
        listener.setblocking(False)
        self.listen_fd = listener.fileno()
        self.reserve = _open_reserve()
        self.epoll.register(self.listen_fd, select.EPOLLIN)
        self.epoll.register(wake_r.fileno(), select.EPOLLIN)
        m = self.sim.module
        print(
            f"tdx-codegen sim: serving module {m.name} ({len(m.fields)} fields) on {where}",
            file=sys.stderr,
            flush=True,
        )
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
            if self.reserve is not None:
                os.close(self.reserve)

    def loop(self, listener: socket.socket, wake_fd: int) -> None:
        tick = min(0.25, self.request_deadline / 4)
        next_sweep, deadline = time.monotonic() + tick, 0.0
        conns, listen_fd = self.conns, listener.fileno()
        while not (self.stopping and (not conns or time.monotonic() >= deadline)):
            for fd, _ in self.epoll.poll(tick if self.resume_at is None else ACCEPT_PAUSE_SECONDS):
                conn = conns.get(fd)
                if conn is not None:
                    conn.ready()
                elif fd == listen_fd and not self.stopping:
                    self.accept(listener)
                elif fd == wake_fd and not self.stopping:
                    self.stop(listen_fd, wake_fd)
                    deadline = time.monotonic() + STOP_GRACE_SECONDS
            if time.monotonic() >= next_sweep or self.resume_at is not None:
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


def _open_reserve() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def serve(
    sim,
    *,
    unix: Path | None = None,
    tcp: tuple[str, int] | None = None,
    max_clients: int = 64,
    stall_timeout: float = STALL_SECONDS,
) -> int:
    """Serve until SIGTERM or SIGINT; the socket file is removed on the way out.
    address.AddressError for an address that cannot be served."""
    unix = Path(unix) if unix is not None else None
    if unix is not None:
        address.claim_socket_path(unix)
    try:
        listener, where = address.listen(unix, tcp)
    except OSError as exc:
        print(f"tdx-codegen: error: cannot serve: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        Server(sim, max_clients, stall_timeout).run(listener, where)
    finally:
        if unix is not None:
            address.unlink(unix)
    print("tdx-codegen sim: stopped", file=sys.stderr, flush=True)
    return 0
