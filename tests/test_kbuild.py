"""The generated kernel files pass a real Linux 6.12 tree's own build and checkpatch.

For each C flavour, with the shipped settings and with every kernel option on: an out-of-tree
module that includes the generated files as tdx.c does builds with `W=1` and with `C=2 W=1`
(sparse) under the tree's CONFIG_WERROR=y with no warning and no section mismatch, and
checkpatch.pl --strict finds no error or warning in the patch `tdx-codegen patch` writes nor in
either file.  The tree comes from tests/kbuild/prepare-kernel.sh (see harness.kernel_tree).
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from kbuild import harness
from kbuild.harness import HEADER, MODULE, SOURCE

pytestmark = pytest.mark.kbuild

ALL_OPTIONS = harness.ALL_OPTIONS
CASES = harness.CASES
ROOT = harness.ROOT
SCHEMA = harness.SCHEMA


@pytest.fixture(scope="session")
def kernel() -> Path:
    return harness.kernel_tree()


@pytest.fixture(scope="module", params=CASES, ids=["-".join(c) for c in CASES])
def case(request, kernel, tmp_path_factory) -> harness.Case:
    return harness.Case(kernel, tmp_path_factory.mktemp("-".join(request.param)), *request.param)


def shown(build) -> str:
    return f"$ {' '.join(build.args)}\n{build.output}"


def assert_clean_build(build, mod: Path, sparse: bool) -> None:
    assert build.diagnostics == [], shown(build)
    assert build.mismatches == [], shown(build)
    assert build.returncode == 0, shown(build)
    assert f"  CC [M]  {mod}/{MODULE}.o" in build.lines, shown(build)
    assert (f"  CHECK   {mod}/{MODULE}.c" in build.lines) == sparse, shown(build)
    assert (mod / f"{MODULE}.ko").is_file(), shown(build)


def test_all_options_sets_every_kernel_option():
    from codegen.spec.shapes import KernelSettings

    kernel = tomllib.loads(ALL_OPTIONS.read_text())["kernel"]
    assert set(kernel) == {f.alias or name for name, f in KernelSettings.model_fields.items()}
    shipped = tomllib.loads((SCHEMA / "settings.toml").read_text())
    assert kernel["structs"] == shipped["python"]["structs"]  # every struct, in read order
    assert kernel["exclude_fields"] == []
    assert all(kernel[k] is True for k, v in kernel.items() if isinstance(v, bool))
    assert all(kernel[k] for k in ("print", "require_features"))


@pytest.mark.parametrize("args", [("W=1",), ("C=2", "W=1")], ids=["W=1", "C=2-W=1"])
def test_module_builds_without_warnings(case, kernel, args):
    mod = harness.module_dir(
        case.tmp / f"module-{'-'.join(args)}", case.header, case.source, kernel
    )
    assert_clean_build(harness.make(kernel, mod, *args), mod, sparse="C=2" in args)


# The kernel's own tdx_global_metadata.c, which the shipped settings give byte for byte, reads
# each field in `if (!ret && !(ret = read_sys_metadata_field(...)))`: checkpatch's one error there.
KERNELS_OWN = "ERROR: do not use assignment in if condition"


def test_checkpatch_on_both_files(case, kernel):
    run = harness.checkpatch(kernel, case.tree, "--strict", "-f", SOURCE, HEADER)
    chain = case.settings == "shipped" and case.flavor == "functions"
    errors = [e for e in run.of("ERROR") if not (chain and e == KERNELS_OWN)]
    assert (errors, run.of("WARNING")) == ([], []), run.output
    assert [w for _, w, _ in run.totals] == [0, 0], run.output
    assert [e for e, _, _ in run.totals] == ([len(run.of("ERROR")), 0] if chain else [0, 0])


def test_checkpatch_on_the_patch(case, kernel):
    """The patch `tdx-codegen patch` writes: Signed-off-by and all; in the kernel's own idiom
    (the shipped functions flavour) only the error the kernel's file has too."""
    run = harness.checkpatch(kernel, case.tree, "--strict", str(case.patch))
    chain = case.settings == "shipped" and case.flavor == "functions"
    errors = [e for e in run.of("ERROR") if not (chain and e == KERNELS_OWN)]
    assert (errors, run.of("WARNING")) == ([], []), run.output
    assert [w for _, w, _ in run.totals] == [0], run.output


def test_kernel_doc_of_the_header(case, kernel):
    """struct_comments (on in all-options) are kernel-doc: the tree's scripts/kernel-doc finds
    every struct and every member described; with them off there is no kernel-doc at all."""
    done = subprocess.run(
        ["perl", str(kernel / "scripts/kernel-doc"), "-none", "-Wall", HEADER],
        cwd=case.tree,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), done.stderr
    text = (case.tree / HEADER).read_text()
    documented = re.findall(r"^ \* struct (\w+) - ", text, flags=re.M)
    declared = re.findall(r"^struct (\w+) \{$", text, flags=re.M)
    assert documented == (declared if case.settings == "all-options" else [])


# -- the checks themselves see what they are for -----------------------------------------------

GENERATED = ROOT / "generated" / "linux"
LATE = """
int tdx_metadata_kbuild_undeclared;

static noinline int __init tdx_metadata_kbuild_init_only(void)
{
	return tdx_metadata_kbuild_undeclared;
}

int tdx_metadata_kbuild_late(void);
int tdx_metadata_kbuild_late(void)
{
	return tdx_metadata_kbuild_init_only();
}
EXPORT_SYMBOL_GPL(tdx_metadata_kbuild_late);
"""


def shipped_module(kernel: Path, dest: Path, extra: str) -> Path:
    return harness.module_dir(
        dest, (GENERATED / HEADER).read_text(), (GENERATED / SOURCE).read_text(), kernel, extra
    )


def test_sparse_warning_and_section_mismatch_are_seen(kernel, tmp_path):
    mod = shipped_module(kernel, tmp_path / "module", LATE)
    build = harness.make(kernel, mod, "C=2", "W=1")
    line = (mod / f"{MODULE}.c").read_text().splitlines().index(
        "int tdx_metadata_kbuild_undeclared;"
    ) + 1
    assert build.diagnostics == [
        f"{mod}/{MODULE}.c:{line}:5: warning: symbol 'tdx_metadata_kbuild_undeclared' was not "
        "declared. Should it be static?"
    ], shown(build)
    assert len(build.mismatches) == 1, shown(build)
    assert re.fullmatch(
        rf"WARNING: modpost: {mod}/{MODULE}: section mismatch in reference: "
        r"tdx_metadata_kbuild_late\+0x\w+ \(section: \.text\) -> "
        r"tdx_metadata_kbuild_init_only\S* \(section: \.init\.text\)",
        build.mismatches[0],
    ), shown(build)


def test_w1_warning_fails_the_build_under_werror(kernel, tmp_path):
    extra = "\nint tdx_metadata_kbuild_no_prototype(void)\n{\n\treturn 0;\n}\n"
    mod = shipped_module(kernel, tmp_path / "module", extra)
    build = harness.make(kernel, mod, "W=1")
    line = (mod / f"{MODULE}.c").read_text().splitlines().index(
        "int tdx_metadata_kbuild_no_prototype(void)"
    ) + 1
    assert build.diagnostics == [
        f"{mod}/{MODULE}.c:{line}:5: error: no previous prototype for "
        "'tdx_metadata_kbuild_no_prototype' [-Werror=missing-prototypes]"
    ], shown(build)
    assert build.returncode != 0


def test_checkpatch_runs_the_license_check(kernel, tmp_path):
    tree = harness.small_tree(kernel, tmp_path / "linux")
    (tree / "bogus.c").write_text("// SPDX-License-Identifier: GPL-2.0-bogus\n")
    run = harness.checkpatch(kernel, tree, "--strict", "-f", "bogus.c")
    assert run.problems == [
        "WARNING: 'SPDX-License-Identifier: GPL-2.0-bogus' is not supported in LICENSES/..."
    ], run.output
    assert run.totals == [(0, 1, 0)], run.output


# -- finding the tree ------------------------------------------------------------------------------


@pytest.fixture
def no_tree(monkeypatch, tmp_path):
    monkeypatch.delenv(harness.TREE_ENV, raising=False)
    monkeypatch.setattr(harness, "CACHE", tmp_path / "cache")
    return tmp_path


SKIP_REASON = (
    "no prepared Linux 6.12 tree: TDX_CODEGEN_KERNEL_TREE is unset and {cache} has "
    "none; run tests/kbuild/prepare-kernel.sh (needs Debian's linux-source-6.12)"
)


def test_without_a_tree_the_tests_skip(no_tree, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        harness.kernel_tree()
    assert str(skipped.value) == SKIP_REASON.format(cache=no_tree / "cache")


def test_without_a_tree_ci_fails(no_tree, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        harness.kernel_tree()
    assert str(failed.value) == "CI=true but " + SKIP_REASON.format(cache=no_tree / "cache")


def test_a_tree_is_found_by_its_stamp(no_tree, monkeypatch):
    unfinished = no_tree / "cache/linux-6.12-6.12.1-1"
    unfinished.mkdir(parents=True)
    prepared = no_tree / "cache/linux-6.12-6.12.2-1"
    prepared.mkdir()
    (prepared / harness.STAMP).write_text("recipe\n")
    assert harness.kernel_tree() == prepared
    monkeypatch.setenv(harness.TREE_ENV, str(unfinished))
    with pytest.raises(pytest.fail.Exception) as failed:
        harness.kernel_tree()
    assert str(failed.value) == (
        f"TDX_CODEGEN_KERNEL_TREE={unfinished} is not a prepared kernel "
        "tree (no .tdx-codegen-prepared); run "
        "tests/kbuild/prepare-kernel.sh"
    )


def test_prepare_reuses_a_tree_whose_stamp_matches(kernel, tmp_path):
    """prepare-kernel.sh with the prepared tree's stamp in place: prints its path, does nothing."""
    cached = tmp_path / kernel.name
    cached.mkdir()
    (cached / harness.STAMP).write_text((kernel / harness.STAMP).read_text())
    done = subprocess.run(
        ["bash", str(harness.PREPARE)],
        capture_output=True,
        text=True,
        env={**os.environ, "TDX_CODEGEN_KERNEL_CACHE": str(tmp_path)},
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{cached}\n", "")
    assert sorted(p.name for p in cached.iterdir()) == [harness.STAMP]
