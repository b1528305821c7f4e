"""The result cache: a hit gives the same bytes and diagnostics; any input change misses."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    e.pop("TDX_CODEGEN_NO_CACHE", None)
    return e


def run(env, *args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_cached_build_is_byte_identical(tmp_path, env):
    shutil.copytree(ROOT / "schema", tmp_path / "schema")
    first = run(env, "build", "--schema", "schema", "--out", "a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert list((tmp_path / "cache" / "tdx-codegen").glob("*.pickle"))
    second = run(env, "build", "--schema", "schema", "--out", "b", cwd=tmp_path)
    fresh = run(env, "build", "--schema", "schema", "--out", "c", "--no-cache", cwd=tmp_path)
    assert second.returncode == fresh.returncode == 0
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b") == snapshot(tmp_path / "c")


def test_a_schema_edit_misses_the_cache(tmp_path, env):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    assert run(env, "validate", "--schema", "schema", cwd=tmp_path).returncode == 0
    assert run(env, "build", "--schema", "schema", "--out", "o", cwd=tmp_path).returncode == 0
    shutil.copy(DATA / "bad" / "ID-CONTEXT" / "tdmr.toml", tmp_path / "schema" / "tdmr.toml")
    expected = (DATA / "bad" / "ID-CONTEXT" / "expected.txt").read_text().split("\n", 1)[1]
    for _ in range(2):  # the second run is served from the cache, with the same diagnostics
        p = run(env, "validate", "--schema", "schema", cwd=tmp_path)
        assert (p.returncode, p.stderr) == (1, expected)
        p = run(env, "build", "--schema", "schema", "--out", "o", cwd=tmp_path)
        assert (p.returncode, p.stderr) == (1, expected)


def test_a_corrupt_cache_entry_is_a_miss(tmp_path, env):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    assert run(env, "validate", "--schema", "schema", cwd=tmp_path).returncode == 0
    for entry in (tmp_path / "cache" / "tdx-codegen").glob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    p = run(env, "validate", "--schema", "schema", cwd=tmp_path)
    assert (p.returncode, p.stdout) == (0, "4 fields in 2 structs: schema is valid\n")


def test_an_unwritable_cache_only_costs_speed(tmp_path, env):
    (tmp_path / "cache").write_text("a file where the cache directory should be")
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    p = run(env, "validate", "--schema", "schema", cwd=tmp_path)
    assert (p.returncode, p.stdout, p.stderr) == (0, "4 fields in 2 structs: schema is valid\n", "")


def test_old_entries_are_pruned(tmp_path, monkeypatch):
    from codegen.outputs import cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("TDX_CODEGEN_NO_CACHE", raising=False)
    for n in range(cache.MAX_ENTRIES + 5):
        cache.store(f"{n:064x}", n)
    kept = sorted(p.name for p in (tmp_path / "tdx-codegen").glob("*.pickle"))
    assert len(kept) == cache.MAX_ENTRIES
    assert cache.load(f"{cache.MAX_ENTRIES + 4:064x}") == cache.MAX_ENTRIES + 4
