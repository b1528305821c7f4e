"""`tdx-codegen build` as a user runs it: determinism, writing only changes,
--check / --diff, hand-edit detection, failed runs, and the acceptance diff
of the Python package and the docs when a field is added to the schema."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.schema import NEW_FIELD

from codegen.cli import main
from codegen.spec.compiler import compile_or_raise

DEFAULT_SCHEMA = Path(__file__).resolve().parent.parent / "schema"

PY = "python/tdx_metadata/__init__.py"
DOC = "docs/global-metadata.md"


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A copy of the project's schema in tmp_path/schema; cwd is tmp_path."""
    shutil.copytree(DEFAULT_SCHEMA, tmp_path / "schema")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def build(capsys, *args) -> tuple[int, str, str]:
    code = main(["build", "--schema", "schema", "--out", "out", *args])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def generated_files(root: Path) -> dict[str, bytes]:
    return {k: v for k, (v, _) in snapshot(root).items()}


# -- determinism -----------------------------------------------------------------


def reversed_fields(text: str) -> str:
    """The same file with its [[field]] tables in reverse order."""
    head, *fields = text.split("\n[[field]]\n")
    return "\n[[field]]\n".join([head, *reversed([f.rstrip("\n") + "\n" for f in fields])])


def test_output_is_the_same_bytes_under_any_hash_seed_and_file_order(tmp_path):
    runs = []
    for n, (seed, shuffle) in enumerate((("0", False), ("4242", True), ("random", True))):
        work = tmp_path / f"run{n}"
        (work / "schema").mkdir(parents=True)
        files = sorted(DEFAULT_SCHEMA.glob("*.toml"))
        for src in reversed(files) if shuffle else files:  # creation (directory) order
            text = src.read_text()
            (work / "schema" / src.name).write_text(reversed_fields(text) if shuffle else text)
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "codegen", "build", "--schema", "schema", "--out", "out"],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
        )
        runs.append(generated_files(work / "out"))
    assert PY in runs[0] and DOC in runs[0]
    assert runs[0] == runs[1] == runs[2]


def test_reversed_fields_really_reorders():
    text = (DEFAULT_SCHEMA / "08-module-version.toml").read_text()
    names = re.findall(r'^name = "([A-Z_]+)"', reversed_fields(text), re.M)
    assert names[0] == "INTERNAL_VERSION" and names[-1] == "VENDOR_ID"


def test_the_committed_python_and_docs_match_the_schema(capsys):
    main(["build", "--check"])  # the kernel C is checked by its own tests
    out, _ = capsys.readouterr()
    assert [line for line in out.splitlines() if "/python/" in line or "/docs/" in line] == []


# -- writing only what changed ---------------------------------------------------


def test_build_twice_writes_nothing_the_second_time(work, capsys):
    code, out, err = build(capsys)
    assert code == 0 and out == "" and f"wrote out/{PY}\n" in err and f"wrote out/{DOC}\n" in err
    before = snapshot(work / "out")
    code, out, err = build(capsys)
    assert (code, out, err) == (0, "", f"{len(before)} generated files up to date\n")
    assert snapshot(work / "out") == before  # same bytes, same mtimes


def add_field(schema: Path) -> None:
    path = schema / "18-td-control-structures.toml"
    path.write_text(path.read_text() + NEW_FIELD)


def test_check_and_diff_report_stale_files_and_write_nothing(work, capsys):
    build(capsys)
    n = len(snapshot(work / "out"))
    checked = f"checked {n} generated files in out against schema: up to date\n"
    assert build(capsys, "--check") == (0, "", checked)
    assert build(capsys, "--diff") == (0, "", checked)
    add_field(work / "schema")
    before = snapshot(work / "out")
    code, out, err = build(capsys, "--check")
    assert code == 1 and out == ""
    assert f"out/{PY}: out of date\n" in err and f"out/{DOC}: out of date\n" in err
    assert err.endswith("generated files do not match the schema: run 'tdx-codegen build'\n")
    code, out, _ = build(capsys, "--diff")  # paths from the project root (work): git apply there
    assert code == 1 and f"+++ b/out/{PY}\n" in out
    assert "+    tdvps_pages: int | None\n" in out
    assert not out.startswith("out/") and "out of date" not in out  # a clean diff
    assert snapshot(work / "out") == before


# -- hand edits ------------------------------------------------------------------


def test_a_hand_edit_is_reported_by_name_and_kept_unless_forced(work, capsys):
    build(capsys)
    target = work / "out" / PY
    edited = target.read_text().replace("MAX_TDMRS", "MAX_TDMRS_LOCAL", 1)
    target.write_text(edited)
    code, out, err = build(capsys)
    assert code == 1
    assert err == (
        f"tdx-codegen: error: out/{PY} was edited by hand (its content hash does not "
        "match); not overwritten. Move the change into the schema, or run with --force "
        "to discard it.\n"
    )
    assert target.read_text() == edited
    code, out, err = build(capsys, "--check")
    assert code == 1 and f"out/{PY}: out of date\n" in err and "edited by hand" in err
    code, out, err = build(capsys, "--force")
    assert (code, out, err) == (0, "", f"wrote out/{PY}\n")
    assert "MAX_TDMRS_LOCAL" not in target.read_text()


def test_with_a_hand_edit_pending_nothing_is_written(work, capsys):
    """All or nothing: the other outputs are not updated past a hand-edited one."""
    build(capsys)
    target = work / "out" / PY
    target.write_text(target.read_text().replace("MAX_TDMRS", "MAX_TDMRS_LOCAL", 1))
    add_field(work / "schema")
    before = snapshot(work / "out")
    code, out, err = build(capsys)
    assert (code, out) == (1, "")
    assert err.endswith(
        "tdx-codegen: nothing was written, so the generated files stay consistent with each other\n"
    )
    assert snapshot(work / "out") == before


# -- failed runs -----------------------------------------------------------------


def test_an_invalid_schema_changes_nothing(work, capsys):
    build(capsys)
    before = snapshot(work / "out")
    add_field(work / "schema")
    path = work / "schema" / "18-td-control-structures.toml"
    path.write_text(
        path.read_text().replace('type = "u16"\nsince = "2.0.08"', 'type = "u8"\nsince = "2.0.08"')
    )
    code, out, err = build(capsys)
    assert code == 1 and out == ""
    assert "error[" in err and "18-td-control-structures.toml" in err
    assert snapshot(work / "out") == before


def test_a_failing_emitter_changes_nothing(work, capsys, monkeypatch):
    build(capsys)
    add_field(work / "schema")
    before = snapshot(work / "out")
    from codegen.emitters import docs

    def broken(ctx):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(docs, "emit", broken)
    code, out, err = build(capsys)
    assert code == 3 and out == ""
    # NEW_FIELD is read by the kernel without a gate: the compiler's warning comes first
    warned, _, err = err.partition("\ntdx-codegen: internal error: ")
    assert "warning[KERNEL-READS-OPTIONAL]: the kernel reads TDVPS_PAGES" in warned
    assert err.startswith("RuntimeError: template exploded\n")
    assert snapshot(work / "out") == before


# -- acceptance: one field added, the exact Python and docs diff -------------------


def diff_of(text: str, path: str, hunks: bool = True) -> str:
    """The part of a multi-file unified diff for one file.

    build --diff names files from the project root (out/...); shown here from --out.
    """
    text = text.replace("--- a/out/", "--- a/").replace("+++ b/out/", "+++ b/")
    lines, mine = text.splitlines(keepends=True), []
    for i, line in enumerate(lines):
        if line == f"--- a/{path}\n":
            mine.append(line)
            for line in lines[i + 1 :]:
                if line.startswith("--- ") or line[:1] not in ("+", "-", " ", "@", "\\"):
                    break
                mine.append(line)
    mine = "".join(mine)
    if not hunks:  # line numbers move with every field added elsewhere: not what is tested
        mine = re.sub(r"^@@ -\d+(,\d+)? \+\d+(,\d+)? @@", "@@", mine, flags=re.M)
    return mine


def test_adding_a_field_gives_exactly_this_diff(work, capsys):
    build(capsys)
    add_field(work / "schema")
    code, out, _ = build(capsys, "--diff")
    assert code == 1
    n = len(compile_or_raise(DEFAULT_SCHEMA).fields)  # the shipped schema's fields
    assert diff_of(out, PY, hunks=False) == EXPECTED_PY_DIFF, ACCEPT
    assert diff_of(out, DOC, hunks=False) == EXPECTED_DOC_DIFF.replace("{n}", str(n)).replace(
        "{n1}", str(n + 1)
    ), ACCEPT


# A golden diff changes only when what the readers generate for one more field changes.
ACCEPT = (
    "the generated diff for one added field changed: if that is intended, paste the "
    "new diff (shown above) into EXPECTED_*_DIFF"
)
EXPECTED_PY_DIFF = """\
--- a/python/tdx_metadata/__init__.py
+++ b/python/tdx_metadata/__init__.py
@@
     \"\"\"TDVPS_BASE_SIZE: Bytes of the TDVPS pages of a vCPU.\"\"\"
     tdvps_size_per_l2_vm: int
     \"\"\"TDVPS_SIZE_PER_L2_VM: Extra TDVPS bytes for each L2 VM of a partitioned TD.\"\"\"
+    tdvps_pages: int | None
+    \"\"\"TDVPS_PAGES: Pages of a vCPU's TDVPS | one per L2 VM more.\"\"\"
 
     def __init__(
             self, tdr_base_size: int, tdcs_base_size: int, tdcs_size_per_l2_vm: int,
-            tdvps_base_size: int, tdvps_size_per_l2_vm: int,
+            tdvps_base_size: int, tdvps_size_per_l2_vm: int, tdvps_pages: int | None,
     ) -> None:
         _runtime.init(self, (
                 tdr_base_size, tdcs_base_size, tdcs_size_per_l2_vm, tdvps_base_size,
-                tdvps_size_per_l2_vm,
+                tdvps_size_per_l2_vm, tdvps_pages,
         ))
 
 
@@
            2, 1, 1, 1, None, None, False, 2),
     _Field("TDVPS_SIZE_PER_L2_VM", 0x9800000100000201, "tdvps_size_per_l2_vm",
            2, 1, 1, 1, None, None, False, 2),
+    _Field("TDVPS_PAGES", 0x9800000100000202, "tdvps_pages",
+           2, 1, 1, 1, None, None, True, 2),
 )
 TD_CTRL_GATE = None
 
"""
EXPECTED_DOC_DIFF = """\
--- a/docs/global-metadata.md
+++ b/docs/global-metadata.md
@@
 
 # TDX global metadata fields
 
-The {n} global metadata fields the host reads with TDH.SYS.RD and TDH.SYS.RDALL,
+The {n1} global metadata fields the host reads with TDH.SYS.RD and TDH.SYS.RDALL,
 by class and field code.
 
 - **ID**: the base field id as in the module's table; element k of field i is base + i * elements + k.
@@
 | `TDCS_SIZE_PER_L2_VM` | 0x18 | yes | no |  | yes | yes | yes | yes | yes | yes | yes | yes |
 | `TDVPS_BASE_SIZE` | 0x18 | yes | no | `sysinfo->td_ctrl.tdvps_base_size` | yes | yes | yes | yes | yes | yes | yes | yes |
 | `TDVPS_SIZE_PER_L2_VM` | 0x18 | yes | no |  | yes | yes | yes | yes | yes | yes | yes | yes |
+| `TDVPS_PAGES` | 0x18 | yes | no | `sysinfo->td_ctrl.tdvps_pages` | - | - | - | - | - | - | yes | yes |
 | `ATTRIBUTES_FIXED0` | 0x19 | yes | no | `sysinfo->td_conf.attributes_fixed0` | yes | yes | yes | yes | yes | yes | yes | yes |
 | `ATTRIBUTES_FIXED1` | 0x19 | yes | no | `sysinfo->td_conf.attributes_fixed1` | yes | yes | yes | yes | yes | yes | yes | yes |
 | `XFAM_FIXED0` | 0x19 | yes | no | `sysinfo->td_conf.xfam_fixed0` | yes | yes | yes | yes | yes | yes | yes | yes |
@@
 | `TDCS_SIZE_PER_L2_VM` | `0x9800000100000101` | 2 | 1 | `tdx_sys_info_td_ctrl.tdcs_size_per_l2_vm` |  |  | 1.5.01 | Extra TDCS bytes for each L2 VM of a partitioned TD. |
 | `TDVPS_BASE_SIZE` | `0x9800000100000200` | 2 | 1 | `tdx_sys_info_td_ctrl.tdvps_base_size` |  |  | 1.5.01 | Bytes of the TDVPS pages of a vCPU. |
 | `TDVPS_SIZE_PER_L2_VM` | `0x9800000100000201` | 2 | 1 | `tdx_sys_info_td_ctrl.tdvps_size_per_l2_vm` |  |  | 1.5.01 | Extra TDVPS bytes for each L2 VM of a partitioned TD. |
+| `TDVPS_PAGES` | `0x9800000100000202` | 2 | 1 | `tdx_sys_info_td_ctrl.tdvps_pages` |  |  | 2.0.08, optional | Pages of a vCPU's TDVPS \\| one per L2 VM more. |
 
 ## Class 0x19: TD Configurability
 
"""


# -- acceptance: the same field in both kernel C flavours ---------------------------

KH = "linux/arch/x86/include/asm/tdx_global_metadata.h"
KC = "linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c"


@pytest.mark.parametrize("flavor", ["map", "functions"])
def test_adding_a_field_gives_exactly_this_kernel_diff(work, capsys, flavor):
    build(capsys, "--c-flavor", flavor)
    add_field(work / "schema")
    before = {p: (work / "out" / p).read_text() for p in (KH, KC)}
    code, out, _ = build(capsys, "--diff", "--c-flavor", flavor)
    assert code == 1
    assert diff_of(out, KH) == placed(EXPECTED_KERNEL_H_DIFF, before[KH])
    assert diff_of(out, KC) == placed(EXPECTED_KERNEL_C_DIFF[flavor], before[KC])


def placed(diff: str, old: str) -> str:
    """diff with each hunk numbered at its first context line in old: where the hunks land
    moves as the shipped schema gains fields the kernel reads before td_ctrl."""
    old_lines, lines, shift, start = old.split("\n"), diff.splitlines(keepends=True), 0, 0
    for i, line in enumerate(lines):
        m = re.fullmatch(r"@@ -\d+,(\d+) \+\d+,(\d+) @@\n", line)
        if m:
            start = old_lines.index(lines[i + 1][1:-1], start) + 1
            lines[i] = f"@@ -{start},{m[1]} +{start + shift},{m[2]} @@\n"
            shift += int(m[2]) - int(m[1])
    return "".join(lines)


EXPECTED_KERNEL_H_DIFF = """\
--- a/linux/arch/x86/include/asm/tdx_global_metadata.h
+++ b/linux/arch/x86/include/asm/tdx_global_metadata.h
@@ -27,6 +27,7 @@
 	u16 tdr_base_size;
 	u16 tdcs_base_size;
 	u16 tdvps_base_size;
+	u16 tdvps_pages;
 };
 
 struct tdx_sys_info_td_conf {
"""

# The .c diff: the one new read (and, in the map flavour, its id define).
EXPECTED_KERNEL_C_DIFF = {
    "map": """\
--- a/linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c
+++ b/linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c
@@ -19,6 +19,7 @@
 #define MD_FIELD_ID_TDR_BASE_SIZE		0x9800000100000000ULL
 #define MD_FIELD_ID_TDCS_BASE_SIZE		0x9800000100000100ULL
 #define MD_FIELD_ID_TDVPS_BASE_SIZE		0x9800000100000200ULL
+#define MD_FIELD_ID_TDVPS_PAGES			0x9800000100000202ULL
 #define MD_FIELD_ID_ATTRIBUTES_FIXED0		0x1900000300000000ULL
 #define MD_FIELD_ID_ATTRIBUTES_FIXED1		0x1900000300000001ULL
 #define MD_FIELD_ID_XFAM_FIXED0			0x1900000300000002ULL
@@ -147,6 +148,7 @@
 		TD_SYSINFO_MAP(TDR_BASE_SIZE, &sysinfo_td_ctrl->tdr_base_size),
 		TD_SYSINFO_MAP(TDCS_BASE_SIZE, &sysinfo_td_ctrl->tdcs_base_size),
 		TD_SYSINFO_MAP(TDVPS_BASE_SIZE, &sysinfo_td_ctrl->tdvps_base_size),
+		TD_SYSINFO_MAP(TDVPS_PAGES, &sysinfo_td_ctrl->tdvps_pages),
 	};
 
 	return read_sys_metadata_multi(fields, ARRAY_SIZE(fields));
""",
    "functions": """\
--- a/linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c
+++ b/linux/arch/x86/virt/vmx/tdx/tdx_global_metadata.c
@@ -63,6 +63,8 @@
 		sysinfo_td_ctrl->tdcs_base_size = val;
 	if (!ret && !(ret = read_sys_metadata_field(0x9800000100000200, &val)))
 		sysinfo_td_ctrl->tdvps_base_size = val;
+	if (!ret && !(ret = read_sys_metadata_field(0x9800000100000202, &val)))
+		sysinfo_td_ctrl->tdvps_pages = val;
 
 	return ret;
 }
""",
}
