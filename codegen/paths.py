"""Where tdx-codegen's own files are, and how paths are shown to users.

The built-in catalogue (schema/, with its profiles) and the templates are
package data: in a wheel they are installed under codegen/data/, mapped
there from the top-level schema/ and templates/ of the source tree by
pyproject.toml; in a source checkout (an editable install) they are read
where they are.  Nothing here is a default for a user's project: a project
is found from the current directory (codegen.project).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str, probe: str) -> Path:
    """codegen/data/NAME in an installed wheel, else NAME/ beside the package (a checkout)."""
    for candidate in (PACKAGE / "data" / name, PACKAGE.parent / name):
        if (candidate / probe).is_file():
            return candidate
    raise FileNotFoundError(
        f"tdx-codegen is installed without its {name}/ "
        f"(looked in {PACKAGE / 'data' / name}): reinstall it"
    )


def builtin_schema() -> Path:
    """The catalogue tdx-codegen ships: the schema `init` copies into a new project."""
    return _data_dir("schema", "settings.toml")


def templates() -> Path:
    return _data_dir("templates", "python/__init__.py.j2")


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def file_kind(path: Path) -> str | None:
    """What is at path when it is not a regular file ("a FIFO", "a symlink"...), else None."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # nothing there, or not reachable: writing it reports its own error
        return None
    if stat.S_ISREG(mode):
        return None
    return "a symlink" if stat.S_ISLNK(mode) else _KINDS.get(stat.S_IFMT(mode), "a special file")


def read_bytes(path: Path) -> bytes:
    """The bytes of a regular file; OSError for anything else, without blocking on it.

    Every input file is read here: a FIFO named like a schema file would hang
    an ordinary read, and a device would never end.  O_NONBLOCK makes opening
    a FIFO return at once, so its kind can be told and reported.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            raise OSError(errno.EINVAL, f"not a regular file ({kind})", str(path))
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


STDIN = "-"  # a file argument that means standard input, shown as <stdin>


def read_input(path: Path) -> bytes:
    """The bytes of an input file the user names: '-' is standard input, else read_bytes."""
    if str(path) == STDIN:
        import sys

        return sys.stdin.buffer.read()
    return read_bytes(path)


def read_text(path: Path) -> str:
    return read_bytes(path).decode("utf-8")


def display_path(path: Path, base: Path | None = None) -> str:
    """A path as the user should see it: relative to the cwd when inside it."""
    if str(path) == STDIN:
        return "<stdin>"
    path = Path(path)
    for root in (base, Path.cwd()):
        if root is None:
            continue
        try:
            return str(_resolved(path).relative_to(Path(root).resolve()))
        except (ValueError, OSError):  # outside root
            pass
    return str(path)


def _resolved(path: Path) -> Path:
    """The path with its symbolic links resolved, as far as they go: realpath, because
    Path.resolve() raises on a loop anywhere along it before Python 3.13."""
    return Path(os.path.realpath(path))


def not_a_directory(path: Path) -> str:
    """Why path cannot be used as a directory, for a message: 'does not exist', ..."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a loop of symbolic links"
        if exc.errno == errno.ENOTDIR:
            return "does not exist (a part of its path is not a directory)"
        return "does not exist" if exc.errno == errno.ENOENT else f"cannot be read ({exc.strerror})"
    return f"is {_KINDS.get(stat.S_IFMT(mode), 'a regular file')}, not a directory"


def relative_to_root(path: Path, root: Path | None) -> str:
    """A path relative to a project root ('/' separated) when inside it, else as shown."""
    if root is not None:
        try:
            return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    shown = display_path(path)
    return shown.replace(os.sep, "/")
