"""tdx-codegen and git, run the way the tests need them."""

from __future__ import annotations

import contextlib
import io
import subprocess
from pathlib import Path

from helpers.schema import ROOT


def run(*args, cwd=ROOT):
    """tdx-codegen in this process, in cwd: (exit status, stdout, stderr).

    In process, not a child interpreter: these tests check what the tool writes and says,
    and starting an interpreter per call was most of their time.
    """
    from codegen.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return code, stdout.getvalue(), stderr.getvalue()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
