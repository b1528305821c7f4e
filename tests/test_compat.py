"""tdx-codegen compat OLD NEW: schema directories and git revisions, with the exact report."""

import json
import shutil

import pytest
from helpers.commands import git, run
from helpers.schema import SCHEMA, edited_schema, table_line

BREAKS = {
    "10-cmr-info.toml": [
        (
            'name = "CMR_SIZE"\nid = "0x9000000300000100"',
            'name = "CMR_SIZE"\nid = "0x9000000300000200"',
        )
    ],
    "11-tdmr-info.toml": [
        ('name = "MAX_TDMRS"', 'name = "MAX_TDMR_COUNT"'),
        (
            'member = "pamt_4k_entry_size"\ntype = "u16"',
            'member = "pamt_4k_entry_size"\ntype = "u8"\ntruncate = true',
        ),
    ],
    "19-td-configurability.toml": [("capacity = 128", "capacity = 64")],
}


def test_identical_schemas_have_no_changes():
    assert run("compat", "schema", "schema") == (0, "compat schema -> schema: no changes\n", "")


def test_every_category_with_both_locations(tmp_path):
    new = edited_schema(tmp_path, "new", BREAKS)
    extra = new / "08-module-version.toml"
    extra.write_text(
        extra.read_text()
        + """
[[field]]
name = "NEW_VERSION_FIELD"
id = "0x0800000100000007"
class = 0x08
element_size = 2
struct = "version"
member = "new_version_field"
type = "u16"
description = "A field a later release adds."
"""
    )
    code, out, err = run("compat", SCHEMA, "new", cwd=tmp_path)
    old = str(SCHEMA)
    cmr = table_line(SCHEMA / "10-cmr-info.toml", "CMR_SIZE")
    cpuid = table_line(SCHEMA / "19-td-configurability.toml", "CPUID_CONFIG_LEAVES")
    tdmrs = table_line(SCHEMA / "11-tdmr-info.toml", "MAX_TDMRS")
    pamt = table_line(SCHEMA / "11-tdmr-info.toml", "PAMT_4K_ENTRY_SIZE")
    added = table_line(extra, "NEW_VERSION_FIELD")
    assert (code, err) == (1, "")
    assert out == (
        f"compat {old} -> new: 1 MODULE_ABI, 3 KERNEL_API, 1 ADDITIVE\n"
        f"MODULE_ABI: CMR_SIZE: id 0x9000000300000100 -> 0x9000000300000200 "
        f"[{old}/10-cmr-info.toml:{cmr} -> new/10-cmr-info.toml:{cmr}]\n"
        f"KERNEL_API: CPUID_CONFIG_LEAVES: array capacity 128 -> 64 "
        f"[{old}/19-td-configurability.toml:{cpuid} -> new/19-td-configurability.toml:{cpuid}]\n"
        f"KERNEL_API: field MAX_TDMRS was renamed MAX_TDMR_COUNT (same id 0x9100000100000008) "
        f"[{old}/11-tdmr-info.toml:{tdmrs} -> new/11-tdmr-info.toml:{tdmrs}]\n"
        f"KERNEL_API: PAMT_4K_ENTRY_SIZE: member narrowed u16 -> u8 "
        f"[{old}/11-tdmr-info.toml:{pamt} -> new/11-tdmr-info.toml:{pamt}]\n"
        f"ADDITIVE: new field NEW_VERSION_FIELD (0x0800000100000007) "
        f"[new/08-module-version.toml:{added}]\n"
        f"1 change(s) at or above MODULE_ABI\n"
    )


def test_fail_on_threshold_and_json(tmp_path):
    new = edited_schema(tmp_path, "new", {"11-tdmr-info.toml": BREAKS["11-tdmr-info.toml"]})
    assert run("compat", "schema", new)[0] == 0  # KERNEL_API only: passes by default
    code, out, err = run("compat", "schema", new, "--fail-on", "KERNEL_API", "--format", "json")
    assert (code, err) == (1, "")
    report = json.loads(out)
    pamt = table_line(SCHEMA / "11-tdmr-info.toml", "PAMT_4K_ENTRY_SIZE")
    assert report["counts"] == {"MODULE_ABI": 0, "KERNEL_API": 2, "ADDITIVE": 0}
    assert report["failed"] is True
    assert report["changes"][1] == {
        "category": "KERNEL_API",
        "kind": "member-narrowed",
        "subject": "PAMT_4K_ENTRY_SIZE",
        "message": "PAMT_4K_ENTRY_SIZE: member narrowed u16 -> u8",
        "old": f"schema/11-tdmr-info.toml:{pamt}",
        "new": f"{new}/11-tdmr-info.toml:{pamt}",
    }


def test_removed_field_struct_and_gate(tmp_path):
    text = (SCHEMA / "09-module-handoff.toml").read_text()
    new = edited_schema(
        tmp_path,
        "new",
        {
            "08-module-version.toml": [
                (
                    'name = "INTERNAL_VERSION"',
                    'name = "INTERNAL_VERSION"\ngate = { release = "1.5.06" }',
                )
            ],
        },
    )
    (new / "09-module-handoff.toml").write_text(text.split("[[struct]]")[0])
    settings = new / "settings.toml"
    before, after = settings.read_text().split("\n[kernel.struct.handoff]\n")
    rest = after[after.index("\n[") :]  # its table, up to the next one
    kept = (before + rest).replace('"handoff", ', "").replace(', "handoff"]', "]")
    handoff_fields = (
        '    "MIN_UPDATE_HV", "NO_DOWNGRADE", "NUM_HANDOFF_PAGES", "HANDOFF_DATA_VALID",\n'
        '    "HANDOFF_DATA_HV", "HANDOFF_DATA_SIZE",\n'
    )
    assert handoff_fields in kept
    settings.write_text(kept.replace(handoff_fields, ""))
    code, out, _ = run("compat", "schema", new)
    handoff = SCHEMA / "09-module-handoff.toml"
    version = SCHEMA / "08-module-version.toml"
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"compat schema -> {new}: 7 MODULE_ABI, 2 KERNEL_API, 0 ADDITIVE"
    assert lines[5] == (
        f"MODULE_ABI: field MODULE_HV (0x8900000100000000) was removed "
        f"[schema/09-module-handoff.toml:{table_line(handoff, 'MODULE_HV')}]"
    )
    at = table_line(version, "INTERNAL_VERSION")
    assert lines[8:] == [
        f"KERNEL_API: INTERNAL_VERSION: now read only when release >= 1.5.06 (was read "
        f"unconditionally) [schema/08-module-version.toml:{at} -> {new}/08-module-version.toml:{at}]",
        f"KERNEL_API: struct tdx_sys_info_handoff was removed "
        f"[schema/09-module-handoff.toml:{table_line(handoff, 'handoff', '[[struct]]')}]",
        "7 change(s) at or above MODULE_ABI",
    ]


@pytest.fixture
def repo(tmp_path):
    """A git repository with two commits of the schema: the second breaks an id."""
    repo = tmp_path / "repo"
    shutil.copytree(SCHEMA, repo / "schema")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "schema")
    git(repo, "commit", "-q", "-m", "schema")
    edited = edited_schema(tmp_path, "tmp", {"10-cmr-info.toml": BREAKS["10-cmr-info.toml"]})
    shutil.copy(edited / "10-cmr-info.toml", repo / "schema" / "10-cmr-info.toml")
    git(repo, "commit", "-q", "-am", "break")
    return repo


def test_git_revisions(repo):
    code, out, err = run("compat", "HEAD~1", "main", "--repo", repo)
    cmr = table_line(SCHEMA / "10-cmr-info.toml", "CMR_SIZE")
    assert (code, err) == (1, "")
    assert out == (
        "compat HEAD~1 -> main: 1 MODULE_ABI, 0 KERNEL_API, 0 ADDITIVE\n"
        "MODULE_ABI: CMR_SIZE: id 0x9000000300000100 -> 0x9000000300000200 "
        f"[HEAD~1:schema/10-cmr-info.toml:{cmr} -> main:schema/10-cmr-info.toml:{cmr}]\n"
        "1 change(s) at or above MODULE_ABI\n"
    )


def test_revision_against_directory(repo):
    code, out, _ = run("compat", "HEAD~1", repo / "schema", "--repo", repo)
    cmr = table_line(SCHEMA / "10-cmr-info.toml", "CMR_SIZE")
    assert code == 1
    assert out.splitlines()[1].endswith(
        f"[HEAD~1:schema/10-cmr-info.toml:{cmr} -> {repo}/schema/10-cmr-info.toml:{cmr}]"
    )


def test_unknown_revision_is_a_usage_error(repo):
    assert run("compat", "no-such-rev", "main", "--repo", repo) == (
        2,
        "",
        f"tdx-codegen: error: OLD 'no-such-rev' is neither a schema directory nor a git "
        f"revision of {repo}\n",
    )


def test_a_file_is_neither_a_schema_nor_a_revision(repo, tmp_path):
    file = repo / "schema" / "10-cmr-info.toml"
    said = (
        f"tdx-codegen: error: OLD '{file}' is a file, not a schema directory: give OLD and "
        "NEW as schema directories or git revisions\n"
    )
    assert run("compat", file, "main", "--repo", repo) == (2, "", said)
    outside = tmp_path / "not-a-repository"
    outside.mkdir()
    assert run("compat", file, repo / "schema", "--repo", outside) == (2, "", said)


def test_invalid_old_schema_reports_its_diagnostics(repo):
    path = repo / "schema" / "10-cmr-info.toml"
    path.write_text(path.read_text().replace("element_size = 2\n", "element_size = 3\n", 1))
    git(repo, "commit", "-q", "-am", "invalid")
    line = path.read_text().splitlines().index("element_size = 3") + 1
    code, out, err = run("compat", "HEAD", "HEAD~1", "--repo", repo)
    assert (code, out) == (1, "")
    assert err == (
        f"HEAD:schema/10-cmr-info.toml:{line}:16: error[BAD-VALUE]: 'element_size' must be one "
        "of 1, 2, 4 or 8, not 3\n"
        f"   {line} | element_size = 3\n"
        "      |                ^\n"
        "1 error, 0 warnings\n"
        "tdx-codegen: error: OLD (HEAD) is not a valid schema\n"
    )


def test_outputs_reordered_and_kernel_fields_dropped(tmp_path):
    new = edited_schema(
        tmp_path,
        "new",
        {
            "settings.toml": [
                (
                    'structs = ["version", "features", "tdmr", "td_ctrl", "td_conf", "handoff"]',
                    'structs = ["version", "features", "td_ctrl", "tdmr", "td_conf", "handoff", "cmr"]',
                ),
                ("exclude_fields = [", 'exclude_fields = [\n    "MAX_VCPUS_PER_TD",'),
            ]
        },
    )
    settings = SCHEMA / "settings.toml"
    conf = table_line(SCHEMA / "19-td-configurability.toml", "MAX_VCPUS_PER_TD")
    cmr = table_line(SCHEMA / "10-cmr-info.toml", "cmr", "[[struct]]")
    assert settings.read_text().count('"cmr"') == 2  # in python and docs, not kernel
    assert run("compat", "schema", new, "--fail-on", "KERNEL_API") == (
        1,
        (
            f"compat schema -> {new}: 0 MODULE_ABI, 2 KERNEL_API, 1 ADDITIVE\n"
            f"KERNEL_API: MAX_VCPUS_PER_TD is no longer read by the kernel (exclude_fields) "
            f"[schema/19-td-configurability.toml:{conf} -> {new}/19-td-configurability.toml:{conf}]\n"
            f"KERNEL_API: kernel output: structs reordered: version, features, tdmr, td_ctrl, "
            f"td_conf, handoff -> version, features, td_ctrl, tdmr, td_conf, handoff\n"
            f"ADDITIVE: struct cmr joins the kernel output "
            f"[schema/10-cmr-info.toml:{cmr} -> {new}/10-cmr-info.toml:{cmr}]\n"
            f"2 change(s) at or above KERNEL_API\n"
        ),
        "",
    )


def test_bits_renamed_removed_added(tmp_path):
    new = edited_schema(
        tmp_path,
        "new",
        {
            "0a-module-info.toml": [
                ("L2_TLB_INVD_OPT = {", "BIT_62_NEW = 62\nL2_TLB_INVALIDATE_OPT = {"),
                (
                    'NO_RBP_MOD = { bit = 18, description = "The module does not modify RBP; Linux rejects '
                    'modules without it." }\n',
                    "",
                ),
            ]
        },
    )
    at = table_line(SCHEMA / "0a-module-info.toml", "TDX_FEATURES0")
    where = f"[schema/0a-module-info.toml:{at} -> {new}/0a-module-info.toml:{at}]"
    assert run("compat", "schema", new)[1].splitlines()[1:] == [
        f"KERNEL_API: TDX_FEATURES0: bit NO_RBP_MOD = 18 was removed {where}",
        f"KERNEL_API: TDX_FEATURES0: bit 19 renamed L2_TLB_INVD_OPT -> L2_TLB_INVALIDATE_OPT {where}",
        f"ADDITIVE: TDX_FEATURES0: new bit BIT_62_NEW = 62 {where}",
    ]


def test_baselines_moved_are_reported_by_which_way(tmp_path):
    raised = edited_schema(
        tmp_path,
        "raised",
        {"settings.toml": [('baseline = "1.5.05"', 'baseline = "1.5.06"')]},
    )
    lowered = edited_schema(
        tmp_path,
        "lowered",
        {
            "settings.toml": [
                ('baseline = "1.5.01"', 'baseline = "1.5.06"'),
                ('baseline = "1.5.05"', 'baseline = "1.5.01"'),
            ]
        },
    )
    assert run("compat", "schema", raised) == (
        0,
        f"compat schema -> {raised}: 0 MODULE_ABI, 1 KERNEL_API, 0 ADDITIVE\n"
        "KERNEL_API: [kernel].baseline 1.5.05 -> 1.5.06: modules before 1.5.06 are no longer "
        "supported by the kernel (they were from 1.5.05)\n",
        "",
    )
    assert run("compat", "schema", lowered) == (
        0,
        f"compat schema -> {lowered}: 0 MODULE_ABI, 1 KERNEL_API, 1 ADDITIVE\n"
        "KERNEL_API: [schema].baseline 1.5.01 -> 1.5.06: modules before 1.5.06 are no longer "
        "supported by the readers (they were from 1.5.01)\n"
        "ADDITIVE: [kernel].baseline 1.5.05 -> 1.5.01: modules from 1.5.01 on are supported by "
        "the kernel (they were from 1.5.05)\n",
        "",
    )
    assert run("compat", lowered, "schema")[1].split("\n")[1:3] == [
        "KERNEL_API: [kernel].baseline 1.5.01 -> 1.5.05: modules before 1.5.05 are no longer "
        "supported by the kernel (they were from 1.5.01)",
        "KERNEL_API: [schema].baseline 1.5.06 -> 1.5.01: the readers may give None for the "
        "fields a 1.5.01 module lacks",
    ]
