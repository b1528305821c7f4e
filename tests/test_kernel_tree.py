"""build / diff / patch --kernel-tree against a throwaway git repository laid out like Linux."""

import subprocess

import pytest
from helpers.commands import git, run
from helpers.schema import edited_schema

from codegen import __version__

HEADER = "arch/x86/include/asm/tdx_global_metadata.h"
SOURCE = "arch/x86/virt/vmx/tdx/tdx_global_metadata.c"
SUBJECT = "x86/virt/tdx: Regenerate the global metadata readers with tdx-codegen"


@pytest.fixture
def tree(tmp_path):
    tree = tmp_path / "linux"
    (tree / "arch/x86/include/asm").mkdir(parents=True)
    (tree / "arch/x86/virt/vmx/tdx").mkdir(parents=True)
    (tree / "arch/x86/virt/vmx/tdx/tdx.c").write_text('#include "tdx_global_metadata.c"\n')
    (tree / "Makefile").write_text("# Linux\n")
    git(tree, "init", "-q", "-b", "master")
    git(tree, "config", "user.name", "Kernel Dev")
    git(tree, "config", "user.email", "kd@example.org")
    git(tree, "add", ".")
    git(tree, "commit", "-q", "-m", "base")
    return tree


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """The kernel files a normal build writes under generated/linux/, read back."""
    out = tmp_path_factory.mktemp("out")
    assert run("build", "--out", out)[0] == 0
    return {p: (out / "linux" / p).read_text() for p in (HEADER, SOURCE)}


def status(tree) -> str:
    return git(tree, "status", "--porcelain", "-uall")


def test_build_writes_only_the_kernel_outputs_in_place(tree, expected):
    assert run("build", "--kernel-tree", tree) == (
        0,
        "",
        f"wrote {tree}/{HEADER}\nwrote {tree}/{SOURCE}\n",
    )
    assert status(tree) == f"?? {HEADER}\n?? {SOURCE}\n"
    assert {p: (tree / p).read_text() for p in (HEADER, SOURCE)} == expected
    assert run("build", "--kernel-tree", tree) == (0, "", f"2 kernel files in {tree} up to date\n")


def test_build_from_the_kernel_tree_needs_no_project_only_the_schema(tree, expected):
    """A kernel developer works in the tree: no project there, --schema names the schema."""
    from helpers.schema import ROOT

    schema = ROOT / "schema"
    assert run("build", "--kernel-tree", ".", "--schema", schema, cwd=tree) == (
        0,
        "",
        f"wrote {HEADER}\nwrote {SOURCE}\n",
    )
    assert {p: (tree / p).read_text() for p in (HEADER, SOURCE)} == expected


def test_not_a_kernel_tree(tmp_path):
    assert run("build", "--kernel-tree", tmp_path) == (
        2,
        "",
        f"tdx-codegen: error: {tmp_path} does not look like a Linux tree (no arch/x86/ in it)\n",
    )
    assert run("diff", "--kernel-tree", tmp_path / "nope")[::2] == (
        2,
        f"tdx-codegen: error: kernel tree {tmp_path / 'nope'} is not a directory\n",
    )


def test_diff_writes_nothing(tree, expected):
    code, out, err = run("diff", "--kernel-tree", tree)
    assert (code, err, status(tree)) == (1, "", "")
    header_lines = expected[HEADER].splitlines()
    assert out.startswith(
        f"--- /dev/null\n+++ b/{HEADER}\n@@ -0,0 +1,{len(header_lines)} @@\n+{header_lines[0]}\n"
    )
    assert f"--- /dev/null\n+++ b/{SOURCE}\n" in out
    run("build", "--kernel-tree", tree)
    assert run("diff", "--kernel-tree", tree) == (0, "", "")


def test_hand_edited_file_is_reported_not_overwritten(tree, expected):
    run("build", "--kernel-tree", tree)
    git(tree, "add", ".")
    git(tree, "commit", "-q", "-m", "generated")
    edited = expected[SOURCE].replace("\n\n", "\n\n/* a hand edit */\n", 1)
    (tree / SOURCE).write_text(edited)
    message = (
        f"tdx-codegen: error: {tree}/{SOURCE} was edited by hand (its content hash does "
        "not match); not overwritten. Move the change into the schema, or run with "
        "--force to discard it.\n"
    )
    assert run("build", "--kernel-tree", tree) == (1, "", message)
    assert (tree / SOURCE).read_text() == edited
    code, out, err = run("diff", "--kernel-tree", tree)
    assert (code, err) == (
        1,
        f"tdx-codegen: note: {tree}/{SOURCE} was edited by hand; 'build "
        "--kernel-tree' will not overwrite it without --force\n",
    )
    assert "-/* a hand edit */\n" in out
    assert run("patch", "--kernel-tree", tree) == (1, "", message)
    assert run("build", "--kernel-tree", tree, "--force") == (0, "", f"wrote {tree}/{SOURCE}\n")
    assert (tree / SOURCE).read_text() == expected[SOURCE]
    assert status(tree) == ""


def test_patch_applies_with_git_am(tree, expected, tmp_path):
    older = edited_schema(
        tmp_path,
        "older/schema",
        {
            "settings.toml": [
                ('"CONFIG_FLAGS_FIXED0", ', ""),
                ("exclude_fields = [", 'exclude_fields = [\n    "MAX_VCPUS_PER_TD",'),
            ],
            "11-tdmr-info.toml": [
                ('member = "max_tdmrs"\ntype = "u16"', 'member = "max_tdmrs"\ntype = "u32"')
            ],
        },
    )
    assert run("build", "--schema", older, "--kernel-tree", tree)[0] == 0
    git(tree, "add", ".")
    git(tree, "commit", "-q", "-m", "generated by an older schema")
    patch = tmp_path / "0001-regenerate.patch"
    assert run("patch", "--kernel-tree", tree, "-o", patch) == (0, "", f"wrote {patch}\n")
    assert status(tree) == ""  # patch writes nothing there
    git(tree, "am", "-q", str(patch))
    assert {p: (tree / p).read_text() for p in (HEADER, SOURCE)} == expected
    assert git(tree, "log", "-1", "--format=%an <%ae>%n%s%n%n%b") == (
        f"Kernel Dev <kd@example.org>\n{SUBJECT}\n\n"
        "The TDX global metadata readers are generated from the tdx-codegen schema.\n"
        "Regenerate them from the current schema.\n\n"
        "Fields added:\n  - MAX_VCPUS_PER_TD (0x9900000100000008)\n\n"
        "Fields removed:\n  - CONFIG_FLAGS_FIXED0 (0x9900000300000006)\n\n"
        "Struct members added:\n  - tdx_sys_info_td_conf.max_vcpus_per_td (u16)\n\n"
        "Struct members removed:\n  - tdx_sys_info_td_conf.config_flags_fixed0 (u64)\n\n"
        "Struct members changed:\n  - tdx_sys_info_tdmr.max_tdmrs: u32 -> u16\n\n"
        f"Generated by tdx-codegen {__version__} (tdx-codegen patch).\n\n"
        "Signed-off-by: Kernel Dev <kd@example.org>\n\n"
    )
    assert git(tree, "show", "--name-only", "--format=", "HEAD") == f"{HEADER}\n{SOURCE}\n"
    assert run("patch", "--kernel-tree", tree) == (
        0,
        "",
        f"kernel files in {tree} are up to date: no patch\n",
    )


def test_patch_adding_the_files_to_a_tree_without_them(tree, expected):
    code, out, err = run("patch", "--kernel-tree", tree)
    assert (code, err) == (0, "")
    assert out.startswith(
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 "
        f"2001\nFrom: Kernel Dev <kd@example.org>\nSubject: [PATCH] {SUBJECT}\n"
    )
    assert f"diff --git a/{HEADER} b/{HEADER}\nnew file mode 100644\n--- /dev/null\n" in out
    subprocess.run(["git", "-C", str(tree), "am", "-q"], input=out, text=True, check=True)
    assert {p: (tree / p).read_text() for p in (HEADER, SOURCE)} == expected
    body = git(tree, "log", "-1", "--format=%b")
    assert "Fields added:\n  - ATTRIBUTES_FIXED0 (0x1900000300000000)\n" in body


def test_changelog_reads_defines_raw_ids_and_members():
    from codegen.evolve.kernel_tree import changelog, declared

    old = declared(
        [
            "#define MD_FIELD_ID_MAX_TDMRS\t\t0x9100000100000008ULL\n"
            "struct tdx_sys_info_tdmr {\n\tu16 max_tdmrs;\n\tu64 cmr_base[32];\n};\n"
            "read(0x9000000300000080ULL, &val);\n"
        ]
    )
    new = declared(
        [
            "#define MD_FIELD_ID_MAX_TDMRS\t0x9100000200000008ULL\n"
            "struct tdx_sys_info_tdmr {\n\tu32 max_tdmrs;\n\tu64 cmr_base[64];\n};\n"
        ]
    )
    assert changelog(old, new) == {
        "Fields removed": ["0x9000000300000080 (0x9000000300000080)"],
        "Fields changed": ["MAX_TDMRS: 0x9100000100000008 -> 0x9100000200000008"],
        "Struct members changed": [
            "tdx_sys_info_tdmr.cmr_base: u64[32] -> u64[64]",
            "tdx_sys_info_tdmr.max_tdmrs: u16 -> u32",
        ],
    }


def commit(tree, message="generated"):
    git(tree, "add", ".")
    git(tree, "commit", "-q", "-m", message)


def test_a_tree_with_the_kernels_files_has_nothing_to_change(tree, expected):
    for path, text in expected.items():
        (tree / path).write_text(text)
    commit(tree, "the kernel's files")
    assert run("diff", "--kernel-tree", tree) == (0, "", "")
    assert run("build", "--kernel-tree", tree) == (0, "", f"2 kernel files in {tree} up to date\n")
    assert run("patch", "--kernel-tree", tree) == (
        0,
        "",
        f"kernel files in {tree} are up to date: no patch\n",
    )
    assert status(tree) == ""


def test_patch_adding_one_field_names_it(tree, expected, tmp_path):
    for path, text in expected.items():
        (tree / path).write_text(text)
    commit(tree)
    newer = edited_schema(
        tmp_path, "newer/schema", {"settings.toml": [('"TDCS_SIZE_PER_L2_VM", ', "")]}
    )
    code, out, err = run("patch", "--schema", newer, "--kernel-tree", tree)
    assert (code, err) == (0, "")
    head, _, diff = out.partition("---\n")
    assert head.split("\n", 3)[2] == (
        "Subject: [PATCH] x86/virt/tdx: Read the TDCS_SIZE_PER_L2_VM global metadata field"
    )
    assert head.endswith(
        "Fields added:\n  - TDCS_SIZE_PER_L2_VM (0x9800000100000101)\n\n"
        "Struct members added:\n  - tdx_sys_info_td_ctrl.tdcs_size_per_l2_vm (u16)"
        f"\n\nGenerated by tdx-codegen {__version__} (tdx-codegen patch).\n\n"
        "Signed-off-by: Kernel Dev <kd@example.org>\n"
    )
    assert (
        "+\tif (!ret && !(ret = read_sys_metadata_field(0x9800000100000101, &val)))\n"
        "+\t\tsysinfo_td_ctrl->tdcs_size_per_l2_vm = val;\n" in diff
    )
    code, out, err = run(
        "patch", "--schema", newer, "--kernel-tree", tree, "--signoff", "Other Dev <od@example.org>"
    )
    assert "\nSigned-off-by: Other Dev <od@example.org>\n---\n" in out


def test_patch_without_an_identity_says_so(tmp_path, expected, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    tree = tmp_path / "plain"
    (tree / "arch/x86").mkdir(parents=True)
    code, out, err = run("patch", "--kernel-tree", tree)
    assert (code, err) == (
        0,
        "tdx-codegen: note: the tree has no git user.name and user.email, "
        "so the patch has no Signed-off-by: line; pass --signoff 'NAME "
        "<EMAIL>'\n",
    )
    assert "Signed-off-by:" not in out


@pytest.mark.parametrize(
    "signoff, shown",
    [
        (
            "Dev <d@example.org>\nSigned-off-by: Someone Else <se@example.org>",
            "Dev <d@example.org>\\x0aSigned-off-by: Someone Else <se@example.org>",
        ),
        ("Dev \x1b[2J<d@example.org>", "Dev \\x1b[2J<d@example.org>"),
        ("d@example.org", "d@example.org"),
    ],
    ids=["newline-adds-a-trailer", "escape", "no-name"],
)
def test_a_signoff_that_is_not_one_identity_is_a_usage_error(tmp_path, signoff, shown):
    tree = tmp_path / "plain"
    (tree / "arch/x86").mkdir(parents=True)
    code, out, err = run(
        "patch", "--kernel-tree", tree, "-o", tmp_path / "p.patch", "--signoff", signoff
    )
    assert (code, out, err) == (
        2,
        "",
        f"tdx-codegen: error: --signoff '{shown}': give one identity as 'NAME <EMAIL>', on one "
        "line, without control characters\n",
    )
    assert not (tmp_path / "p.patch").exists()


def tdx_h(tree, text):
    path = tree / "arch/x86/virt/vmx/tdx/tdx.h"
    path.write_text(text)
    commit(tree, "tdx.h")


def test_bits_the_tree_defines_are_used_not_redefined(tree, tmp_path):
    tdx_h(tree, "#define TDX_FEATURES0_DYNAMIC_PAMT\tBIT(36)\n")
    schema = edited_schema(
        tmp_path, "bits/schema", {"settings.toml": [("bit_defines = false", "bit_defines = true")]}
    )
    assert run("build", "--schema", schema, "--kernel-tree", tree)[0] == 0
    header = (tree / HEADER).read_text()
    assert "#define TDX_FEATURES0_TD_MIGRATION\t\t\tBIT_ULL(0)\n" in header
    for known in (
        "TDX_FEATURES0_DYNAMIC_PAMT",
        "TDX_FEATURES0_NO_RBP_MOD",
        "TDX_FEATURES0_TD_PRESERVING",
    ):
        assert f"#define {known}" not in header


def test_a_name_the_tree_defines_differently_is_an_error(tree, tmp_path):
    tdx_h(tree, "/* old */\n#define TDX_FEATURES0_EXT\tBIT(40)\n")
    schema = edited_schema(
        tmp_path, "bits/schema", {"settings.toml": [("bit_defines = false", "bit_defines = true")]}
    )
    message = (
        f"tdx-codegen: error: {tree}: TDX_FEATURES0_EXT is defined by the kernel at "
        "arch/x86/virt/vmx/tdx/tdx.h:2 as BIT(40); the generated code would redefine it "
        "as BIT_ULL(39)\n"
    )
    assert run("build", "--schema", schema, "--kernel-tree", tree) == (1, "", message)
    assert run("diff", "--schema", schema, "--kernel-tree", tree) == (1, "", message)
    assert status(tree) == ""


def test_the_map_flavour_refuses_a_tdx_c_with_its_own_td_sysinfo_map(tree):
    tdx_c = tree / "arch/x86/virt/vmx/tdx/tdx.c"
    reader = "#define TD_SYSINFO_MAP(_field_id, _offset) \\\n\t{ 0 }\n"
    tdx_c.write_text(reader + '\n#include "tdx_global_metadata.c"\n')
    commit(tree, "its own reader, then the generated one")
    assert run("build", "--c-flavor", "map", "--kernel-tree", tree) == (
        1,
        "",
        f"tdx-codegen: error: {tree}: TD_SYSINFO_MAP is defined by the kernel at "
        "arch/x86/virt/vmx/tdx/tdx.c:1; the generated code would redefine it\n",
    )
    # a tdx.c that does not include the generated file yet (6.12) meets none of its names
    tdx_c.write_text(reader)
    commit(tree, "its own reader only")
    assert run("build", "--c-flavor", "map", "--kernel-tree", tree)[0] == 0
