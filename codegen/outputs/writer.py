"""Writing generated files: recorded in a manifest, atomic, only when changed.

Generated files carry no mark of their own (the kernel's files must be
byte for byte what the kernel has).  Instead each build records the path
and sha256 of every file it produces in a manifest beside them
(MANIFEST_NAME at the output root, or where the caller keeps it, e.g. in a
kernel tree's git directory).  On the next build a file whose bytes match
neither what is generated now nor what the manifest recorded was edited by
hand: it is reported by name and left alone unless --force.  A file the
manifest records that is no longer produced is removed, unless edited.
Files are replaced atomically (temporary file in the same directory,
fsync, rename), and only when the bytes differ; the manifest is written
last, so a build cut short leaves files the next build recognises.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path
from typing import NamedTuple

from codegen.paths import read_text

MANIFEST_NAME = ".tdx-codegen-manifest.json"
TMP_PREFIX = ".tdx-codegen-"
TMP_SUFFIX = ".tmp"


class Output(NamedTuple):
    path: str  # relative to the output root, '/' separated
    content: str


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_text(outputs: list[Output]) -> str:
    """The manifest recording outputs: stable JSON, one path per line."""
    files = {o.path: digest(o.content) for o in sorted(outputs, key=lambda o: o.path)}
    return json.dumps({"generator": "tdx-codegen", "files": files}, indent=2) + "\n"


def read_manifest(path: Path | None) -> dict[str, str]:
    """path -> sha256 of what the last build wrote ({} when there is no readable manifest)."""
    if path is None:
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError, RecursionError):  # deep nesting: not ours
        return {}
    return (
        {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(files, dict)
        else {}
    )


class Plan:
    """What a build would do under root (plain class: cheap to import)."""

    def __init__(self, root: Path):
        self.root = root
        self.create: list[Output] = []
        self.update: list[Output] = []
        self.unchanged: list[Output] = []
        self.edited: list[Output] = []  # hand-edited, would be overwritten
        self.stale: list[str] = []  # generated files no longer produced
        self.old: dict = {}  # path -> current text
        # a manifest kept outside root: written by apply(), never reported as a change
        self.side_manifest: tuple[Path, str] | None = None

    @property
    def changes(self) -> list[Output]:
        return self.create + self.update + self.edited

    @property
    def dirty(self) -> bool:
        return bool(self.changes or self.stale)


def plan(
    root: Path,
    outputs: list[Output],
    *,
    scan_stale: bool = True,
    manifest: Path | None = None,
    record: bool = True,
) -> Plan:
    """Compare outputs with what is on disk under root.

    The manifest defaults to MANIFEST_NAME under root, where it is one more
    output; one given elsewhere (a kernel tree's git directory) is kept in
    the plan for apply() to update, never reported as a change;
    record=False keeps none (every file on disk is taken as replaceable).
    """
    root = Path(root)
    result = Plan(root)
    outputs = [o for o in outputs if o.path != MANIFEST_NAME]
    inside = MANIFEST_NAME if record and manifest is None else None
    manifest = Path(manifest) if manifest is not None else root / MANIFEST_NAME
    recorded = read_manifest(manifest) if record else {}
    if record and inside is None:
        result.side_manifest = (manifest, manifest_text(outputs))
    produced = {o.path for o in outputs}
    planned = sorted(outputs, key=lambda o: o.path)
    if inside is not None:
        planned.append(Output(inside, manifest_text(outputs)))  # last: written after the files
    for out in planned:
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
        was = recorded.get(out.path)
        if current is not None and was is not None and digest(current) != was:
            result.edited.append(out)
        else:
            result.update.append(out)
    if scan_stale:
        for rel, was in sorted(recorded.items()):
            if rel in produced or rel == inside:
                continue
            try:
                text = (root / rel).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if digest(text) == was:  # an edited leftover is the user's now: kept
                result.stale.append(rel)
                result.old[rel] = text
    return result


def diff(p: Plan, prefix: str = "") -> str:
    """Unified diff of what would change; paths are prefix + the output's path (git style)."""
    import difflib

    chunks: list[str] = []
    for out in p.changes:
        if out.path == MANIFEST_NAME:  # the tool's record, not for review
            continue
        old = p.old.get(out.path, "")
        chunks.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                out.content.splitlines(keepends=True),
                fromfile=f"a/{prefix}{out.path}" if old or out not in p.create else "/dev/null",
                tofile=f"b/{prefix}{out.path}",
            )
        )
    for rel in p.stale:
        chunks.extend(
            difflib.unified_diff(
                p.old[rel].splitlines(keepends=True),
                [],
                fromfile=f"a/{prefix}{rel}",
                tofile="/dev/null",
            )
        )
    return "".join(
        c if c.endswith("\n") else c + "\n\\ No newline at end of file\n" for c in chunks
    )


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
        view = view[os.write(fd, view) :]
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
    todo = p.create + p.update + (p.edited if force else [])
    manifest = [o for o in todo if o.path.endswith(MANIFEST_NAME) and o not in p.edited]
    todo = sorted(o for o in todo if o not in manifest) + manifest  # the manifest last
    for out in todo:
        target = p.root / out.path
        if target.is_symlink() or (os.path.lexists(target) and not target.is_file()):
            raise OSError(
                errno.EEXIST,
                "exists and is not a regular file tdx-codegen wrote; not replaced",
                str(target),
            )
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
    for s, out in zip(staged, todo, strict=True):
        s.commit()
        written.append(out.path)
    for rel in p.stale:
        (p.root / rel).unlink(missing_ok=True)
        written.append(rel)
    if p.side_manifest is not None:
        path, text = p.side_manifest
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current != text:
            atomic_write(path, text)
    return written
