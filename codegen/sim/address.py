"""Where `tdx-codegen sim serve` listens: a loopback TCP address or a Unix socket path.

Addresses are checked before anything is bound, and a socket file left by a
killed server is replaced while a live one is refused.  Problems are
AddressError, which the command line reports as usage errors.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
from pathlib import Path

PROBE_SECONDS = 1.0  # connecting to a socket file to see whether a server is live
UNIX_PATH_MAX = 107  # bytes of a socket path (sun_path, its NUL excluded)
BACKLOG = 128


class AddressError(ValueError):
    """An address that cannot be served (the command line reports it as a usage error)."""


def parse_tcp(text: str) -> tuple[str, int]:
    """HOST:PORT on a loopback address (the protocol has no authentication)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        number = int(port)
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise AddressError(f"--tcp {text}: expected HOST:PORT, e.g. 127.0.0.1:7070") from None
    if not sep or not 0 <= number <= 65535:
        raise AddressError(f"--tcp {text}: expected HOST:PORT, e.g. 127.0.0.1:7070")
    if not loopback:
        raise AddressError(
            f"--tcp {text}: only loopback addresses are served (the protocol has no authentication)"
        )
    return host, number


def check_unix_path(path: Path) -> None:
    """A socket path the kernel can bind: short enough, in an existing directory."""
    size = len(os.fsencode(path))
    if size > UNIX_PATH_MAX:
        raise AddressError(
            f"--unix {path}: a socket path is at most {UNIX_PATH_MAX} bytes, this one is {size}"
        )
    parent = Path(path).parent
    try:
        mode = parent.stat().st_mode
    except FileNotFoundError:
        raise AddressError(f"--unix {path}: directory {parent} does not exist") from None
    except OSError as exc:
        raise AddressError(f"--unix {path}: {parent}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(mode):
        raise AddressError(f"--unix {path}: {parent} is not a directory")


def unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def claim_socket_path(path: Path) -> None:
    """Remove a stale socket file; refuse a live one or any other file."""
    check_unix_path(path)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise AddressError(f"--unix {path}: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(mode):
        raise AddressError(f"--unix {path}: exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(PROBE_SECONDS)  # a frozen server's full backlog would block
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        unlink(path)  # nobody listens: a leftover
        return
    except (BlockingIOError, TimeoutError):
        raise AddressError(
            f"--unix {path}: another server is listening there (it accepts no "
            "connections: stopped or overloaded)"
        ) from None
    except OSError as exc:
        raise AddressError(f"--unix {path}: {exc.strerror or exc}") from None
    finally:
        probe.close()
    raise AddressError(f"--unix {path}: another server is listening there")


def listen(unix: Path | None, tcp: tuple[str, int] | None) -> tuple[socket.socket, str]:
    if unix is not None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(unix))
            listener.listen(BACKLOG)
        except OSError:
            listener.close()
            raise
        return listener, f"unix:{unix}"
    if tcp is None:
        raise ValueError("listen: give unix=PATH or tcp=(HOST, PORT)")
    family = socket.AF_INET6 if ":" in tcp[0] else socket.AF_INET
    listener = socket.create_server(tcp, family=family, backlog=BACKLOG)
    host, port = listener.getsockname()[:2]
    return listener, f"tcp:{host}:{port}"
