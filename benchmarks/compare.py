"""Before and after: the builds people wait for, on a git revision and on this checkout.

    python benchmarks/compare.py REV [--runs N] [--only NAME ...]

REV (a commit, tag or branch) is checked out into a temporary git worktree.
Each command then runs on REV and on this checkout in turn, run after run,
so the machine's noise falls on both alike; the medians of wall time and of
the child's CPU time (user + sys) are printed side by side.  benchmarks/run.py
measures the goals against a baseline; this measures what a change did.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
PY = sys.executable


def run(checkout: Path, args: list[str], env: dict, wipe: Path | None) -> tuple[float, float]:
    """(wall, CPU) seconds of `python -m codegen ARGS` run from checkout's own sources."""
    if wipe:
        shutil.rmtree(wipe, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(
        [PY, "-m", "codegen", *args],
        cwd=checkout,
        env={**env, "PYTHONPATH": str(checkout)},
        capture_output=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        raise RuntimeError(f"{checkout}: {' '.join(args)}: {p.stderr.decode()[-500:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def change(before: float, after: float) -> str:
    return f"{before:.0f} -> {after:.0f} ms ({after / before - 1:+.0%})"


def cases(tmp: Path, only) -> dict:
    """name -> (args given a side's scratch directory, output there to wipe, runs)."""
    import synth

    found = {
        "no-cache": (lambda d: ["build", "--no-cache", "--out", str(d / "out")], "out", 15),
        "no-op": (lambda d: ["build", "--out", str(d / "kept")], None, 15),
        "check": (lambda d: ["build", "--check"], None, 15),
    }
    if not only or "10k" in only:
        big = synth.write(tmp / "s10k", 10000)
        found["10k"] = (
            lambda d: ["build", "--no-cache", "--schema", str(big), "--out", str(d / "o10k")],
            "o10k",
            5,
        )
    return {name: case for name, case in found.items() if not only or name in only}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="the revision to compare this checkout with")
    ap.add_argument("--runs", type=int, help="runs of each command on each side")
    ap.add_argument("--only", nargs="*", choices=("no-cache", "no-op", "check", "10k"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        old = tmp / "old"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(old), args.rev],
            check=True,
        )
        try:
            # bytecode written once and reused, as an installed tool has it
            env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"), PYTHONDONTWRITEBYTECODE="")
            sides = {args.rev: old, "this checkout": ROOT}
            print(f"{'':<10} {'wall (median)':>28}   {'CPU (median)':>28}")
            for name, (argv, wipe, runs) in cases(tmp, args.only).items():
                times: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
                scratch = {side: tmp / f"scratch-{i}" for i, side in enumerate(sides)}
                for n in range((args.runs or runs) + 1):  # the first: bytecode and cache
                    for side, checkout in sides.items():
                        w = scratch[side] / wipe if wipe else None
                        result = run(checkout, argv(scratch[side]), env, w)
                        if n:
                            times[side].append(result)
                wall, cpu = (
                    [1000 * statistics.median(t[k] for t in times[side]) for side in sides]
                    for k in (0, 1)
                )
                print(f"{name:<10} {change(*wall):>28}   {change(*cpu):>28}", flush=True)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
