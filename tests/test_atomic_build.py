"""A build killed at any write step leaves every generated file old or new, never partial.

strace kills the build exactly at its k-th fsync or its k-th rename (its
fault injection: `-e inject=SYSCALL:signal=KILL:when=k`), for every k a
build makes, so no step goes untested and nothing depends on timing:

- killed while the new contents are being written (an fsync): no output
  has changed yet, and no temporary file is left;
- killed at the k-th rename: exactly the first k - 1 outputs, in the order
  the build commits them, are new, the rest are old; the k-th output's new
  content waits under a temporary name that the next build removes.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.outputs.writer import MANIFEST_NAME

ROOT = Path(__file__).resolve().parent.parent
STRACE = shutil.which("strace")
TMP_PREFIX, TMP_SUFFIX = ".tdx-codegen-", ".tmp"

pytestmark = pytest.mark.skipif(
    STRACE is None and not os.environ.get("CI"), reason="needs strace (Debian package strace)"
)


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    """(schema, out, old outputs, new outputs, changed paths in commit order, build command)."""
    assert STRACE is not None, "strace is missing: .ci/run installs it"
    tmp = tmp_path_factory.mktemp("atomic")
    schema = tmp / "schema"
    shutil.copytree(ROOT / "schema", schema)
    out = tmp / "out"
    cmd = [sys.executable, "-m", "codegen", "build", "--schema", str(schema), "--out", str(out)]
    assert subprocess.run(cmd, env=ENV, capture_output=True).returncode == 0
    old = snapshot(out)
    path = schema / "11-tdmr-info.toml"  # a renamed member changes most outputs
    path.write_text(path.read_text().replace('"max_tdmrs"', '"max_tdmr_count"'))
    check = tmp / "check"
    assert subprocess.run([*cmd[:-1], str(check)], env=ENV, capture_output=True).returncode == 0
    new = snapshot(check)
    assert new.keys() == old.keys()
    # in commit order: by path, the build's manifest last
    changed = sorted((k for k in new if new[k] != old[k]), key=lambda k: (k == MANIFEST_NAME, k))
    assert len(changed) >= 4, changed
    return out, old, new, changed, cmd


ENV = dict(os.environ, TDX_CODEGEN_NO_CACHE="1")  # no cache file is renamed into place


def killed_build(states, syscalls: str, k: int) -> dict:
    out, old, *_, cmd = states
    shutil.rmtree(out)
    for rel, data in old.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    done = subprocess.run(
        [
            STRACE,
            "-f",
            "-qq",
            "-o",
            os.devnull,
            "-e",
            f"trace={syscalls}",
            "-e",
            f"inject={syscalls}:signal=KILL:when={k}",
            *cmd,
        ],
        env=ENV,
        capture_output=True,
    )
    assert done.returncode == -9 or done.returncode == 137, (k, done.returncode, done.stderr)
    return snapshot(out)


def test_killed_while_writing_new_contents_changes_nothing(states):
    _out, old, _new, changed, _cmd = states
    for k in range(1, len(changed) + 1):  # one fsync per new content
        now = killed_build(states, "fsync", k)
        assert now == old, (
            f"killed at fsync {k}: {sorted(p for p in now if now.get(p) != old.get(p))}"
        )


def test_killed_at_each_rename_leaves_old_or_new_files_in_commit_order(states):
    out, old, new, changed, cmd = states
    for k in range(1, len(changed) + 1):
        now = killed_build(states, "rename,renameat,renameat2", k)
        leftovers = sorted(
            p for p in now if Path(p).name.startswith(TMP_PREFIX) and p.endswith(TMP_SUFFIX)
        )
        assert [Path(p).parent.as_posix() for p in leftovers] == [
            Path(changed[k - 1]).parent.as_posix()
        ], (k, leftovers)
        outputs = {p: data for p, data in now.items() if p not in leftovers}
        assert outputs.keys() == old.keys()
        assert [p for p in changed if outputs[p] == new[p]] == changed[: k - 1], k
        assert all(outputs[p] == old[p] for p in changed[k - 1 :]), k
    # the next build finishes the job and removes what the killed one left
    assert subprocess.run(cmd, env=ENV, capture_output=True).returncode == 0
    assert snapshot(out) == new
