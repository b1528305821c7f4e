"""Writing generated files: sealed, atomic, only when changed.

Every generated file carries a content hash in its banner (emitters write
the HASH_PLACEHOLDER where it goes).  On the next build a file whose hash
no longer matches its text was edited by hand: it is reported by name and
left alone unless --force.  Files are replaced atomically (temporary file
in the same directory, fsync, rename), and only when the bytes differ, so
make and reviewers see no spurious changes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from codegen.paths import read_text
from pathlib import Path
from typing import NamedTuple

HASH_PLACEHOLDER = "@CONTENT-HASH@"
_HASH_RE = re.compile(r"content-hash ([0-9a-f]{64})")
TMP_PREFIX = ".tdx-codegen-"
TMP_SUFFIX = ".tmp"


class Output(NamedTuple):
    path: str        # relative to the output root, '/' separated
    content: str


def seal(content: str) -> str:
    """Replace the hash placeholder with the hash of the rest of the text."""
    if HASH_PLACEHOLDER not in content:
        return content
    digest = hashlib.sha256(content.replace(HASH_PLACEHOLDER, "").encode()).hexdigest()
    return content.replace(HASH_PLACEHOLDER, f"content-hash {digest}", 1)


def is_generated(text: str) -> bool:
    return _HASH_RE.search(text) is not None


def hand_edited(text: str) -> bool:
    """True when a sealed file's text no longer matches its recorded hash."""
    m = _HASH_RE.search(text)
    if m is None:
        return False
    unsealed = text[:m.start()] + text[m.end():]
    return hashlib.sha256(unsealed.encode()).hexdigest() != m.group(1)


class Plan:
    """What a build would do under root (plain class: cheap to import)."""

    def __init__(self, root: Path):
        self.root = root
        self.create: list[Output] = []
        self.update: list[Output] = []
        self.unchanged: list[Output] = []
        self.edited: list[Output] = []   # hand-edited, would be overwritten
        self.stale: list[str] = []       # generated files no longer produced
        self.old: dict = {}              # path -> current text

    @property
    def changes(self) -> list[Output]:
        return self.create + self.update + self.edited

    @property
    def dirty(self) -> bool:
        return bool(self.changes or self.stale)


def plan(root: Path, outputs: list[Output], *, scan_stale: bool = True) -> Plan:
    """Compare outputs with what is on disk under root."""
    root = Path(root)
    result = Plan(root)
    produced = set()
    for out in sorted(outputs, key=lambda o: o.path):
        out = Output(out.path, seal(out.content))
        produced.add(out.path)
        target = root / out.path
        try:
            current = read_text(target)
        except FileNotFoundError:
            result.create.append(out)
            continue
        except (OSError, UnicodeDecodeError):
            current = None
        if current == out.content:
            result.unchanged.append(out)
            continue
        result.old[out.path] = current or ""
        if current is not None and hand_edited(current):
            result.edited.append(out)
        else:
            result.update.append(out)
    if scan_stale and root.is_dir():
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or rel in produced or path.name.startswith(TMP_PREFIX):
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if is_generated(text):
                result.stale.append(rel)
                result.old[rel] = text
    return result


def diff(p: Plan, prefix: str = "") -> str:
    """Unified diff of what would change; paths are prefix + the output's path (git style)."""
    import difflib

    chunks = []
    for out in p.changes:
        old = p.old.get(out.path, "")
        chunks.extend(difflib.unified_diff(
            old.splitlines(keepends=True), out.content.splitlines(keepends=True),
            fromfile=f"a/{prefix}{out.path}" if old or out not in p.create else "/dev/null",
            tofile=f"b/{prefix}{out.path}"))
    for rel in p.stale:
        chunks.extend(difflib.unified_diff(p.old[rel].splitlines(keepends=True), [],
                                           fromfile=f"a/{prefix}{rel}", tofile="/dev/null"))
    return "".join(c if c.endswith("\n") else c + "\n\\ No newline at end of file\n" for c in chunks)


def atomic_write(target: Path, content: str) -> None:
    atomic_write_bytes(target, content.encode("utf-8"))


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write data to target so readers see the old file or the new one, never a mix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    stage(target, data).commit()


class Staged:
    """New content fsynced beside its target, put in place by commit(), or dropped.

    The data goes to an unnamed file (O_TMPFILE) in the target's directory,
    which vanishes if the process is killed; it gets a temporary name only
    for the instant between link and rename.  Where O_TMPFILE or /proc is
    missing, a named temporary file is used and the next build removes any
    leftover.
    """

    def __init__(self, target: Path, fd: int | None, tmp: Path):
        self.target, self.fd, self.tmp = target, fd, tmp

    def commit(self) -> None:
        try:
            if self.fd is not None:
                _link_unnamed(self.fd, self.tmp)
            os.replace(self.tmp, self.target)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        finally:
            self.close()

    def drop(self) -> None:
        if self.fd is None:
            self.tmp.unlink(missing_ok=True)
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def stage(target: Path, data: bytes) -> Staged:
    tmp = target.parent / f"{TMP_PREFIX}{target.name}.{os.getpid()}{TMP_SUFFIX}"
    try:
        fd = os.open(target.parent, os.O_TMPFILE | os.O_WRONLY, 0o644)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            _write_all(fd, data)
        except BaseException:
            os.close(fd)
            raise
        return Staged(target, fd, tmp)
    tmp.unlink(missing_ok=True)
    named = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(named, data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(named)
    return Staged(target, None, tmp)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _link_unnamed(fd: int, path: Path) -> None:
    """Give an O_TMPFILE file a name.

    linkat() must follow the /proc/self/fd link; os.link only passes
    AT_SYMLINK_FOLLOW when given a directory fd, hence src_dir_fd.
    """
    proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(str(fd), path, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


def remove_leftovers(root: Path) -> None:
    """Delete temporary files a killed build may have left behind."""
    if root.is_dir():
        for path in root.rglob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
            path.unlink(missing_ok=True)


def apply(p: Plan, *, force: bool = False) -> list[str]:
    """Write what changed (hand-edited files only with force); return paths written.

    All or nothing: every directory is made and every new file's content is
    written and fsynced beside its target before the first target is
    replaced, so a target that cannot be written (a read-only directory, a
    full disk, a path that is a directory) stops the build with no file
    changed.  Only the renames remain, one per file, each atomic.
    """
    remove_leftovers(p.root)
    todo = sorted(p.create + p.update + (p.edited if force else []))
    for out in todo:
        target = p.root / out.path
        if target.is_symlink() or (os.path.lexists(target) and not target.is_file()):
            raise OSError(errno.EEXIST, "exists and is not a regular file tdx-codegen wrote; "
                          "not replaced", str(target))
        target.parent.mkdir(parents=True, exist_ok=True)
    staged: list[Staged] = []
    try:
        for out in todo:
            staged.append(stage(p.root / out.path, out.content.encode("utf-8")))
    except BaseException:
        for s in staged:
            s.drop()
        raise
    written = []
    for s, out in zip(staged, todo):
        s.commit()
        written.append(out.path)
    for rel in p.stale:
        (p.root / rel).unlink(missing_ok=True)
        written.append(rel)
    return written
