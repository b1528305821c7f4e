"""tdx-codegen and git, run in a child process as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.schema import ROOT


def run(*args, cwd=ROOT):
    """tdx-codegen of this interpreter: (exit status, stdout, stderr)."""
    p = subprocess.run(
        [sys.executable, "-m", "codegen", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )
    return p.returncode, p.stdout, p.stderr


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
