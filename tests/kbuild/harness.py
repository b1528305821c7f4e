"""The generated kernel files against a real Linux 6.12 tree: kbuild, sparse, modpost, checkpatch.

Used by tests/test_kbuild.py (pytest puts tests/ on sys.path):

    from kbuild import harness
    kernel = harness.kernel_tree()                      # prepared tree, or skip (fail under CI)
    mod = harness.module_dir(tmp, header, source, kernel)
    build = harness.make(kernel, mod, "C=2", "W=1")     # build.diagnostics, build.mismatches
    tree = harness.small_tree(kernel, tmp / "linux")    # git tree checkpatch and patch run in
    run = harness.checkpatch(kernel, tree, "--strict", "-f", path)   # run.problems, run.totals

The prepared tree (tests/kbuild/prepare-kernel.sh) is only read: modules are built with M= in
a temporary directory, and checkpatch runs from TREE/scripts with --root at a small git tree the
test writes, because its license check (scripts/spdxcheck.py) reads LICENSES/ from the root's
git repository and wants Debian's python3-ply and python3-git under /usr/bin/python3.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PREPARE = HERE / "prepare-kernel.sh"
TREE_ENV = "TDX_CODEGEN_KERNEL_TREE"
CACHE = Path(os.environ.get("TDX_CODEGEN_KERNEL_CACHE", "/var/cache/tdx-codegen"))
STAMP = ".tdx-codegen-prepared"
MODULE = "tdx_metadata_kbuild"
HEADER = "arch/x86/include/asm/tdx_global_metadata.h"
SOURCE = "arch/x86/virt/vmx/tdx/tdx_global_metadata.c"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def kernel_tree() -> Path:
    """The prepared tree: $TDX_CODEGEN_KERNEL_TREE, else the newest one in the cache.

    Skips when there is none, except under CI (CI=true), where a missing tree fails.
    """
    given = os.environ.get(TREE_ENV)
    if given:
        tree = Path(given)
        if not (tree / STAMP).is_file():
            pytest.fail(
                f"{TREE_ENV}={given} is not a prepared kernel tree (no {STAMP}); "
                f"run {PREPARE.relative_to(HERE.parent.parent)}"
            )
        return tree
    stamps = sorted(CACHE.glob(f"linux-6.12-*/{STAMP}"), key=lambda p: p.stat().st_mtime)
    if stamps:
        return stamps[-1].parent
    why = (
        f"no prepared Linux 6.12 tree: {TREE_ENV} is unset and {CACHE} has none; run "
        f"{PREPARE.relative_to(HERE.parent.parent)} (needs Debian's linux-source-6.12)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


# -- kbuild ----------------------------------------------------------------------------------

_DIAGNOSTIC = re.compile(r"warning:|error:")
_MISMATCH = re.compile(r"section mismatch", re.I)


@dataclass
class Build:
    args: list[str]
    returncode: int
    output: str  # stdout and stderr, interleaved as make printed them

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    @property
    def diagnostics(self) -> list[str]:
        """Every compiler and sparse warning or error line (modpost's are upper case)."""
        return [x for x in self.lines if _DIAGNOSTIC.search(x)]

    @property
    def mismatches(self) -> list[str]:
        return [x for x in self.lines if _MISMATCH.search(x)]


def module_dir(dest: Path, header: str, source: str, kernel: Path, extra: str = "") -> Path:
    """An out-of-tree module: the wrapper (plus extra C at its end), the generated files, the
    calls tdx.c makes outside get_tdx_sys_info() (readers.h), and the tree's own
    arch/x86/virt/vmx/tdx/tdx.h, which tdx.c includes as "tdx.h"."""
    (dest / "include/asm").mkdir(parents=True)
    shutil.copy(HERE / "Kbuild", dest / "Kbuild")
    (dest / f"{MODULE}.c").write_text((HERE / f"{MODULE}.c").read_text() + extra)
    (dest / "include/asm/tdx_global_metadata.h").write_text(header)
    (dest / "tdx_global_metadata.c").write_text(source)
    (dest / "readers.h").write_text(readers_h(source))
    shutil.copy(kernel / "arch/x86/virt/vmx/tdx/tdx.h", dest / "tdx.h")
    return dest


_READER = re.compile(
    r"^static (__init )?int (?:__init )?(get_tdx_sys_info_\w+)"
    r"\(\s*struct (\w+) \*\w+\)$",
    re.M,
)


def readers_h(source: str) -> str:
    """Calls of the struct readers as tdx.c makes them besides get_tdx_sys_info(): a reader that
    is not __init runs after boot (the handoff and version readers at a module update), so it is
    called from code that is not __init; an __init reader nothing calls is called at init."""
    bufs, at_init, later = [], [], []
    for init, name, struct in _READER.findall(source):
        if init and len(re.findall(rf"\b{name}\(", source)) > 1:
            continue  # read by get_tdx_sys_info() at init
        bufs.append(f"static struct {struct} {name}_buf;\n")
        (at_init if init else later).append(f"\tret = ret ?: {name}(&{name}_buf);\n")
    return "".join(
        [
            "/* Written by tests/kbuild/harness.py from the generated tdx_global_metadata.c. */\n",
            *bufs,
            "\nstatic int __init tdx_metadata_kbuild_init_readers(void)\n{\n\tint ret = 0;\n\n",
            *at_init,
            "\treturn ret;\n}\n\nint tdx_metadata_kbuild_later(void);\n",
            "int tdx_metadata_kbuild_later(void)\n{\n\tint ret = 0;\n\n",
            *later,
            "\treturn ret;\n}\nEXPORT_SYMBOL_GPL(tdx_metadata_kbuild_later);\n",
        ]
    )


def make(kernel: Path, mod: Path, *args: str) -> Build:
    """make -C TREE M=MOD ARGS modules.  The prepared tree has no vmlinux and so no
    Module.symvers: KBUILD_MODPOST_WARN=1 lets modpost report the kernel's symbols as
    unresolved warnings and go on to its section checks and the .ko."""
    cmd = ["make", "-C", str(kernel), f"M={mod}", *args, "KBUILD_MODPOST_WARN=1", "modules"]
    # The kernel's Makefile unexports LC_ALL: LANG=C keeps gcc's quotes ASCII.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    done = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**env, "LANG": "C"}
    )
    return Build(cmd, done.returncode, done.stdout)


# -- checkpatch --------------------------------------------------------------------------------

# What checkpatch.pl wants at --root (top_of_kernel_tree) besides the files it checks.
_ROOT_FILES = (
    "COPYING",
    "CREDITS",
    "Kbuild",
    "MAINTAINERS",
    "Makefile",
    "README",
    "scripts/spdxcheck.py",
    "scripts/spdxexclude",
)
_ROOT_DIRS = ("Documentation", "include", "drivers", "fs", "init", "ipc", "kernel", "lib")
_TOTAL = re.compile(
    r"^total: (\d+) errors, (\d+) warnings, (\d+) checks, (\d+) lines checked$", re.M
)
_PROBLEM = re.compile(r"^(ERROR|WARNING|CHECK): .*$", re.M)


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, check=True, capture_output=True, text=True
    ).stdout


def small_tree(kernel: Path, dest: Path) -> Path:
    """A git tree with the kernel's TDX host files and what checkpatch --root needs, committed
    as "base" by a developer identity."""
    for rel in ("arch/x86/virt/vmx/tdx", "LICENSES"):
        shutil.copytree(kernel / rel, dest / rel)
    (dest / "arch/x86/include/asm").mkdir(parents=True)
    shutil.copy(kernel / "arch/x86/include/asm/tdx.h", dest / "arch/x86/include/asm/tdx.h")
    (dest / "scripts").mkdir()
    for rel in _ROOT_FILES:
        shutil.copy(kernel / rel, dest / rel)
    for rel in _ROOT_DIRS:
        (dest / rel).mkdir()
    git(dest, "init", "-q", "-b", "master")
    git(dest, "config", "user.name", "Kernel Dev")
    git(dest, "config", "user.email", "kd@example.org")
    git(dest, "add", ".")
    git(dest, "commit", "-q", "-m", "base")
    return dest


@dataclass
class Checkpatch:
    args: list[str]
    returncode: int
    output: str

    @property
    def problems(self) -> list[str]:
        """Every ERROR:, WARNING: and CHECK: line."""
        return [m.group(0) for m in _PROBLEM.finditer(self.output)]

    def of(self, kind: str) -> list[str]:
        return [x for x in self.problems if x.startswith(f"{kind}: ")]

    @property
    def totals(self) -> list[tuple[int, int, int]]:
        """(errors, warnings, checks) per checked file or patch, in order."""
        return [(int(e), int(w), int(c)) for e, w, c, _ in _TOTAL.findall(self.output)]


def checkpatch(kernel: Path, root: Path, *args: str) -> Checkpatch:
    """TREE/scripts/checkpatch.pl --root=ROOT ARGS, run inside ROOT (its .git is what enables
    the license check); python3 is the system one, which has ply and git."""
    if not SYSTEM_PYTHON.is_file():
        pytest.fail(f"{SYSTEM_PYTHON} is missing: checkpatch's spdxcheck.py needs it")
    bin_dir = root.parent / f"{root.name}-python"
    if not bin_dir.is_dir():
        bin_dir.mkdir()
        (bin_dir / "python3").symlink_to(SYSTEM_PYTHON)
    cmd = [str(kernel / "scripts/checkpatch.pl"), f"--root={root}", "--no-color", *args]
    env = {**os.environ, "LC_ALL": "C", "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    env.pop("GIT_DIR", None)
    done = subprocess.run(
        cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    return Checkpatch(cmd, done.returncode, done.stdout)


# -- the cases: flavour x settings ------------------------------------------------------------

ROOT = HERE.parent.parent
SCHEMA = ROOT / "schema"
ALL_OPTIONS = HERE / "all-options.toml"
# The field the previous version of the files lacks, so the patch adds it.
ADDED_FIELD = "MAX_VCPUS_PER_TD"
CASES = [
    (flavor, settings) for flavor in ("map", "functions") for settings in ("shipped", "all-options")
]


def tdx_codegen(*args) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "codegen", *map(str, args)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def schema_copy(dest: Path, settings_edit) -> Path:
    """The shipped schema with settings.toml's text passed through settings_edit."""
    files = {p.name: p.read_text() for p in SCHEMA.glob("*.toml")}
    dest.mkdir(parents=True)
    for name, text in files.items():
        (dest / name).write_text(settings_edit(text) if name == "settings.toml" else text)
    return dest


def with_all_options(settings: str) -> str:
    """settings.toml with its [kernel] table replaced by all-options.toml's."""
    text = ALL_OPTIONS.read_text()
    table = text[text.index("[kernel]\n") :] + "\n"
    out, n = re.subn(r"(?ms)^\[kernel\]\n.*?(?=^\[(?!kernel[.\]]))", lambda _: table, settings)
    assert n == 1, "settings.toml has no [kernel] table followed by another table"
    return out


def without_added_field(settings: str) -> str:
    assert settings.count("exclude_fields = [") == 1, settings
    return settings.replace("exclude_fields = [", f'exclude_fields = ["{ADDED_FIELD}", ', 1)


class Case:
    """One flavour x settings: the small tree with the previous files committed and the current
    ones written over them, the patch between the two, and the current files' text."""

    def __init__(self, kernel: Path, tmp: Path, flavor: str, settings: str):
        self.flavor, self.settings = flavor, settings
        keep = (lambda text: text) if settings == "shipped" else with_all_options
        schema = schema_copy(tmp / "schema", keep)
        previous = schema_copy(tmp / "previous", lambda text: without_added_field(keep(text)))
        self.tree = small_tree(kernel, tmp / "linux")
        tdx_codegen("build", "--schema", previous, "--c-flavor", flavor, "--kernel-tree", self.tree)
        git(self.tree, "add", ".")
        git(self.tree, "commit", "-q", "-m", "x86/virt/tdx: Add the generated readers")
        self.patch = tmp / "0001-regenerate.patch"
        tdx_codegen(
            "patch",
            "--schema",
            schema,
            "--c-flavor",
            flavor,
            "--kernel-tree",
            self.tree,
            "-o",
            self.patch,
        )
        tdx_codegen("build", "--schema", schema, "--c-flavor", flavor, "--kernel-tree", self.tree)
        self.header = (self.tree / HEADER).read_text()
        self.source = (self.tree / SOURCE).read_text()
        self.tmp = tmp
