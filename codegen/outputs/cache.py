"""A cache of compile and emit results, keyed by the bytes of every input.

Validating the schema needs pydantic (about 120 ms to import) and
emitting needs jinja2; neither is needed when nothing they would see has
changed.  The key hashes the schema files, the templates, tdx-codegen's
own sources, the options and the Python version, so any edit to any of
them misses.  Entries are pickles under $XDG_CACHE_HOME/tdx-codegen
(~/.cache/tdx-codegen), the newest 64 kept; an unreadable entry is a
miss, never an error.
Set TDX_CODEGEN_NO_CACHE=1 (or pass --no-cache) to bypass it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path

from codegen.paths import PACKAGE, read_bytes, templates

FORMAT = 1
MAX_ENTRIES = 64  # about 100 KB each for the shipped schema


def enabled() -> bool:
    return not os.environ.get("TDX_CODEGEN_NO_CACHE")


def directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tdx-codegen"


def _tree_digest(h, root: Path, pattern: str) -> None:
    for path in sorted(root.rglob(pattern)):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode() + b"\0")
            h.update(read_bytes(path) + b"\0")


def key(kind: str, schema_dir: Path, *options: str) -> str:
    """Digest of everything a `kind` result depends on."""
    h = hashlib.sha256(f"{FORMAT}\0{kind}\0{sys.version}\0{os.getcwd()}\0".encode())
    # abspath, not resolve(): a symlink loop is the compiler's to report, not a crash here
    h.update(os.path.abspath(schema_dir).encode("utf-8", "surrogateescape") + b"\0")
    h.update("\0".join(options).encode() + b"\0")
    schema_dir = Path(schema_dir)
    if schema_dir.is_dir():
        # profiles too: the Catalogue lists their releases
        for path in sorted(schema_dir.glob("*.toml")) + sorted(schema_dir.glob("profiles/*.toml")):
            h.update(os.fsencode(path.relative_to(schema_dir).as_posix()) + b"\0")
            try:
                h.update(read_bytes(path) + b"\0")
            except OSError:
                h.update(b"unreadable\0")
    _tree_digest(h, PACKAGE, "*.py")
    if kind == "emit":
        _tree_digest(h, templates(), "*")
    return h.hexdigest()


def load(digest: str):
    if not enabled():
        return None
    try:
        with open(directory() / f"{digest}.pickle", "rb") as fh:
            return pickle.load(fh)
    except Exception:  # missing, truncated or from another version: a miss
        return None


def store(digest: str, value) -> None:
    if not enabled():
        return
    from codegen.outputs.writer import atomic_write_bytes

    try:
        atomic_write_bytes(directory() / f"{digest}.pickle", pickle.dumps(value, protocol=5))
        _prune(directory(), f"{digest}.pickle")
    except OSError:
        pass  # a read-only or full cache only costs speed


def _prune(root: Path, newest: str, keep: int = MAX_ENTRIES) -> None:
    """Drop the least recently written entries beyond `keep` (every edit adds one)."""
    entries = sorted(
        (p for p in root.glob("*.pickle") if p.name != newest), key=lambda p: p.stat().st_mtime_ns
    )
    for path in entries[: max(0, len(entries) - (keep - 1))]:
        path.unlink(missing_ok=True)
