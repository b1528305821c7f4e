"""Run `tdx-codegen sim ... serve` in a subprocess for a test, and talk to it raw.

    with Serving("--profile", "1.5.01", "serve", "--unix", str(path)) as server:
        with server.client() as c: ...

Leaving the with block stops it with SIGTERM and checks a clean exit.
"""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

from codegen.sim.client import Client

ROOT = Path(__file__).resolve().parent.parent.parent


class Serving:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "codegen", "sim", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.banner = self.proc.stderr.readline()
        if "serving" not in self.banner:
            self.proc.kill()
            raise AssertionError(f"server did not start: {self.banner}{self.proc.stderr.read()}")
        self.address = self.banner.rsplit(" on ", 1)[1].strip()  # unix:PATH or tcp:HOST:PORT

    def client(self) -> Client:
        kind, _, where = self.address.partition(":")
        if kind == "tcp":
            host, port = where.rsplit(":", 1)
            return Client(tcp=(host, int(port)))
        return Client(unix=where)

    def stop(self, sig=signal.SIGTERM) -> tuple[int, str]:
        """Signal the server; (exit status, what it printed after the banner)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        code, err = self.stop()
        assert code == 0, err


def connect(s: Serving, timeout: float = 10) -> socket.socket:
    """A raw connection to a server on a Unix socket."""
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(timeout)
    sock.connect(s.address[5:])
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset ends it too)."""
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    return out


def exchange(s: Serving, data: bytes) -> bytes:
    """Send data, half-close, return the whole answer."""
    with connect(s) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we still sent
        return read_all(sock)


def error_frame(code: int) -> bytes:
    """A refusal as the protocol spells it: error `code`, zero registers, no page."""
    return struct.pack("<IHH4QII", 0x52584454, 1, code, 0, 0, 0, 0, 0, 0)
