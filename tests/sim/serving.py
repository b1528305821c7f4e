"""Run `tdx-codegen sim ... serve` in a subprocess for a test.

    with Serving("--profile", "1.5.01", "serve", "--unix", str(path)) as server:
        with server.client() as c: ...

Leaving the with block stops it with SIGTERM and checks a clean exit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from codegen.sim.client import Client

ROOT = Path(__file__).resolve().parent.parent.parent


class Serving:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "codegen", "sim", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.banner = self.proc.stderr.readline()
        if "serving" not in self.banner:
            self.proc.kill()
            raise AssertionError(f"server did not start: {self.banner}{self.proc.stderr.read()}")
        self.address = self.banner.rsplit(" on ", 1)[1].strip()   # unix:PATH or tcp:HOST:PORT

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
