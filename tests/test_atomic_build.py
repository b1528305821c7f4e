"""A build killed at any point leaves every generated file old or new, never partial.

The build runs in a subprocess that is SIGKILLed after a random delay;
then every output must equal either its state before the build or its
state after a complete build, and no temporary file may be left behind.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# Outputs that do not depend on the schema: the rules page and the field-id picture.
SCHEMA_FREE = {"docs/rules.md", "docs/field-id.svg"}


def test_killed_builds_leave_old_or_new_files(tmp_path):
    schema = tmp_path / "schema"
    shutil.copytree(ROOT / "schema", schema)
    out = tmp_path / "out"
    env = dict(os.environ, TDX_CODEGEN_NO_CACHE="1")
    cmd = [sys.executable, "-m", "codegen", "build", "--schema", str(schema), "--out", str(out)]
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    old = snapshot(out)
    # the new state: a renamed member touches every output
    path = schema / "11-tdmr-info.toml"
    path.write_text(path.read_text().replace('"max_tdmrs"', '"max_tdmr_count"'))
    check = tmp_path / "check"
    assert subprocess.run(cmd[:-1] + [str(check)], env=env, capture_output=True).returncode == 0
    new = snapshot(check)
    # every output made from the schema changes
    assert new.keys() == old.keys()
    assert {k for k in new if new[k] == old[k]} == SCHEMA_FREE

    rnd = random.Random(1234)
    start = time.perf_counter()
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    full = time.perf_counter() - start
    kills = {"old": 0, "mixed": 0, "new": 0}
    for _ in range(25):
        for rel, data in old.items():  # back to the old state
            (out / rel).write_bytes(data)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # half the kills anywhere, half near the end where the files are written
        time.sleep(rnd.uniform(0, full) if rnd.random() < 0.5 else rnd.uniform(0.7 * full, full))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = snapshot(out)
        assert now.keys() == old.keys(), sorted(set(now) ^ set(old))  # no temporary files
        states = {("old" if now[k] == old[k] else "new" if now[k] == new[k] else "partial")
                  for k in now}
        assert "partial" not in states
        kills["mixed" if len(states) > 1 else states.pop()] += 1
    assert sum(kills.values()) == 25
