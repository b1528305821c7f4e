"""Bad things on disk: special files, loops, a deleted cwd, paths that cannot be written.

Each case asserts the exit status, the exact message and that no output
changed: a build is all or nothing, and tdx-codegen replaces only regular
files at the paths it generates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.commands import run

from codegen import chars

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, TDX_CODEGEN_NO_CACHE="1")


def cli(*argv, cwd) -> subprocess.CompletedProcess:
    """tdx-codegen in this process (its output and files are under test, not the process)."""
    return subprocess.CompletedProcess(argv, *run(*argv, cwd=cwd))


def snapshot(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "schema", tmp_path / "schema")
    return tmp_path


def test_a_fifo_named_like_a_schema_file_is_reported_not_read(tmp_path):
    proj = project(tmp_path)
    os.mkfifo(proj / "schema" / "99-pipe.toml")
    done = cli("validate", "--schema", "schema", cwd=proj)
    assert (done.returncode, done.stderr) == (
        1,
        "schema/99-pipe.toml: error[READ-ERROR]: not a regular file (a FIFO)\n"
        "1 error, 0 warnings\n",
    )


def test_a_schema_directory_that_is_not_one_says_what_it_is(tmp_path):
    proj = project(tmp_path)
    (proj / "loop").symlink_to("loop")
    (proj / "file").write_text("")
    os.mkfifo(proj / "fifo")
    said = {}
    for name in ("loop", "file", "fifo", "file/schema", "missing"):
        done = cli("validate", "--schema", name, cwd=proj)
        assert done.returncode == 1, done.stderr
        said[name] = done.stderr
    assert said == {
        name: f"{name}: error[NO-SCHEMA]: schema directory {why}\n1 error, 0 warnings\n"
        for name, why in (
            ("loop", "is a loop of symbolic links"),
            ("file", "is a regular file, not a directory"),
            ("fifo", "is a FIFO, not a directory"),
            ("file/schema", "does not exist (a part of its path is not a directory)"),
            ("missing", "does not exist"),
        )
    }


def test_schema_files_in_a_symlink_loop_are_named_relative_to_the_cwd(tmp_path):
    proj = project(tmp_path)
    (proj / "schema" / "a.toml").symlink_to("b.toml")
    (proj / "schema" / "b.toml").symlink_to("a.toml")
    done = cli("validate", cwd=proj)
    assert (done.returncode, done.stderr) == (
        1,
        "schema/a.toml: error[READ-ERROR]: Too many levels of symbolic links\n"
        "schema/b.toml: error[READ-ERROR]: Too many levels of symbolic links\n"
        "2 errors, 0 warnings\n",
    )


def test_a_deleted_current_directory_is_a_usage_error(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (
        "import os, sys, runpy; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
        "sys.argv = ['tdx-codegen', 'validate', '--schema', sys.argv[2]]; "
        "runpy.run_module('codegen', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(gone), str(ROOT / "schema")],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
    )
    assert (done.returncode, done.stderr) == (
        2,
        "tdx-codegen: error: the current directory cannot be read (No such file or "
        "directory: was it deleted?); cd to a directory that exists, or give -C DIR\n",
    )


def built(tmp_path: Path) -> tuple[Path, dict]:
    proj = project(tmp_path)
    assert cli("build", "--schema", "schema", "--out", "out", cwd=proj).returncode == 0
    tdmr = proj / "schema" / "11-tdmr-info.toml"  # the next build changes most outputs
    tdmr.write_text(tdmr.read_text().replace('"max_tdmrs"', '"max_tdmr_count"'))
    return proj, snapshot(proj / "out")


def test_an_output_path_taken_by_a_fifo_stops_the_build_before_any_file(tmp_path):
    proj, before = built(tmp_path)
    target = proj / "out" / "python" / "tdx_metadata" / "__init__.py"
    target.unlink()
    os.mkfifo(target)
    del before["python/tdx_metadata/__init__.py"]
    done = cli("build", "--schema", "schema", "--out", "out", cwd=proj)
    assert (done.returncode, done.stderr) == (
        1,
        "tdx-codegen: error: cannot write under out: exists and is not a regular file "
        "tdx-codegen wrote; not replaced (out/python/tdx_metadata/__init__.py)\n",
    )
    assert snapshot(proj / "out") == before
    assert Path(target).is_fifo()


def test_an_output_directory_under_a_symlink_loop_is_a_write_error_not_a_crash(tmp_path):
    proj = project(tmp_path)
    (proj / "loop").symlink_to("loop")
    done = cli("build", "--schema", "schema", "--out", "loop/out", cwd=proj)
    assert (done.returncode, done.stderr) == (
        1,
        "tdx-codegen: error: cannot write under loop/out: Too many levels of symbolic links "
        "(loop/out/docs)\n",
    )
    assert sorted(p.name for p in proj.iterdir()) == ["loop", "schema"]


def test_an_output_path_taken_by_a_directory_stops_the_build_before_any_file(tmp_path):
    proj, before = built(tmp_path)
    target = (
        proj / "out" / "linux" / "arch" / "x86" / "virt" / "vmx" / "tdx" / "tdx_global_metadata.c"
    )
    target.unlink()
    target.mkdir()
    (target / "keep").write_text("mine\n")
    del before["linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c"]
    before["linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c/keep"] = b"mine\n"
    done = cli("build", "--schema", "schema", "--out", "out", cwd=proj)
    assert done.returncode == 1
    assert done.stderr == (
        "tdx-codegen: error: cannot write under out: exists and is not a regular file "
        "tdx-codegen wrote; not replaced (out/linux/arch/x86/virt/vmx/tdx/"
        "tdx_global_metadata.c)\n"
    )
    assert snapshot(proj / "out") == before


def kernel_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "linux"
    (tree / "arch" / "x86" / "include" / "asm").mkdir(parents=True)
    (tree / "arch" / "x86" / "virt" / "vmx" / "tdx").mkdir(parents=True)
    return tree


@pytest.mark.parametrize(
    "kind, make",
    [
        ("a directory", Path.mkdir),
        ("a FIFO", os.mkfifo),
        ("a symlink", lambda p: p.symlink_to(p.parent / "elsewhere.h")),
    ],
)
def test_a_kernel_target_that_is_not_a_file_is_refused_by_build_and_patch(tmp_path, kind, make):
    proj = project(tmp_path)
    tree = kernel_tree(tmp_path)
    header = tree / "arch" / "x86" / "include" / "asm" / "tdx_global_metadata.h"
    make(header)
    message = (
        f"tdx-codegen: error: {header} is {kind}, not a regular file: "
        "tdx-codegen will not replace it\n"
    )
    for argv in (("build",), ("patch", "-o", tmp_path / "p.patch"), ("diff",)):
        done = cli(*argv, "--schema", "schema", "--kernel-tree", tree, cwd=proj)
        assert (done.returncode, done.stderr) == (2, message), argv
    assert not (tmp_path / "p.patch").exists()
    assert sorted(p.name for p in tree.rglob("*") if p.is_file()) == []


def test_out_with_kernel_tree_is_a_usage_error(tmp_path):
    proj = project(tmp_path)
    tree = kernel_tree(tmp_path)
    done = cli("build", "--schema", "schema", "--kernel-tree", tree, "--out", "elsewhere", cwd=proj)
    assert (done.returncode, done.stderr) == (
        2,
        "tdx-codegen: error: --out and --kernel-tree do not go together: --kernel-tree "
        "writes only the kernel files, at their paths in the tree\n",
    )
    assert not (proj / "elsewhere").exists()


def test_compat_names_a_symlink_in_a_revision_instead_of_following_it(tmp_path):
    proj = project(tmp_path)

    def git(*argv):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *argv],
            cwd=proj,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", "schema")
    git("commit", "-qm", "schema")
    (proj / "schema" / "evil.toml").symlink_to("/etc/passwd")
    git("add", "schema")
    git("commit", "-qm", "a symlink")
    done = cli("compat", "HEAD~1", "HEAD", cwd=proj)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "compat HEAD~1 -> HEAD: no changes\n",
        "tdx-codegen: warning: HEAD:schema/evil.toml is a symlink or special file in the "
        "revision; compat does not follow it\n",
    )


def test_a_schema_file_name_that_is_not_utf8_is_reported_not_a_crash(tmp_path):
    proj = project(tmp_path)
    name = os.fsdecode(b"12-copy\xff.toml")
    shutil.copy(proj / "schema" / "11-tdmr-info.toml", proj / "schema" / name)
    done = cli("validate", "--schema", "schema", cwd=proj)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "schema/12-copy\\udcff.toml: error[FILE-NAME]: the file name is not UTF-8 (byte 0xFF): "
        "the generated files name it in their banners; rename it\n"
        "schema/12-copy\\udcff.toml:4:8: error[DUPLICATE-CLASS]: class "
        "code 0x11 is declared twice\n"
    ), done.stderr


FILE_NAMES = {
    b"10-cmr\xff.toml": "is not UTF-8 (byte 0xFF)",
    b"10-cmr\nimport os.toml": "holds the control character \\x0a (U+000A)",
}


@pytest.mark.parametrize("raw", FILE_NAMES)
def test_a_file_name_the_banners_cannot_carry_stops_the_build(tmp_path, raw):
    """The banners of the generated files name every schema file: a newline there was code."""
    proj = project(tmp_path)
    name = os.fsdecode(raw)
    (proj / "schema" / "10-cmr-info.toml").rename(proj / "schema" / name)
    before = snapshot(proj)
    done = cli("build", cwd=proj)
    assert (done.returncode, done.stderr) == (
        1,
        f"{chars.escape(f'schema/{name}')}: error[FILE-NAME]: the file name "
        f"{FILE_NAMES[raw]}: the generated files name it in their banners; rename it\n"
        "1 error, 0 warnings\n",
    )
    assert snapshot(proj) == before


def test_a_profile_or_schema_directory_name_with_a_control_character_is_named(tmp_path):
    proj = project(tmp_path)
    profiles = proj / "schema" / "profiles"
    (profiles / "2.0.08.toml").rename(profiles / "2.0.08\x1b[2J.toml")
    (proj / "schema").rename(proj / "sch\tema")
    done = cli("validate", "--schema", "sch\tema", cwd=proj)
    assert (done.returncode, done.stderr) == (
        1,
        "sch\\x09ema: error[FILE-NAME]: the schema directory name holds the control character "
        "\\x09 (U+0009): the generated files name it in their banners; rename it\n"
        "sch\\x09ema/profiles/2.0.08\\x1b[2J.toml: error[FILE-NAME]: the file name holds the "
        "control character \\x1b (U+001B): the generated files name it in their banners; "
        "rename it\n"
        "2 errors, 0 warnings\n",
    )


FIFO_INPUTS = {
    "profile": (
        ("sim", "--profile", "in.toml", "rd", "-1"),
        1,
        "in.toml: error[READ-ERROR]: not a regular file (a FIFO)\n1 error, 0 warnings\n",
    ),
    "replay": (
        ("sim", "--replay", "in.toml", "walk"),
        1,
        "in.toml: error[READ-ERROR]: not a regular file (a FIFO)\n1 error, 0 warnings\n",
    ),
    "import-json": (
        ("import-json", "in.toml"),
        1,
        "in.toml: not a regular file (a FIFO)\ntdx-codegen: error: in.toml is not usable as "
        "Intel's global metadata JSON (1 problem(s))\n",
    ),
    "reconcile": (
        ("reconcile", "in.toml"),
        1,
        "in.toml: not a regular file (a FIFO)\ntdx-codegen: error: in.toml is not usable as "
        "Intel's global metadata JSON (1 problem(s))\n",
    ),
}


@pytest.mark.parametrize("case", sorted(FIFO_INPUTS))
def test_an_input_file_that_is_a_fifo_is_reported_not_read(tmp_path, case):
    """A read of a FIFO with no writer waits forever: every input is opened without blocking."""
    argv, code, message = FIFO_INPUTS[case]
    proj = project(tmp_path)
    os.mkfifo(proj / "in.toml")
    done = subprocess.run(
        [sys.executable, "-m", "codegen", *argv],
        capture_output=True,
        text=True,
        cwd=proj,
        env=ENV,
        timeout=60,  # a hang fails the test instead of stopping the suite
    )
    assert (done.returncode, done.stdout, done.stderr) == (code, "", message)
