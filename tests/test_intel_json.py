"""Intel's JSON: import-json and reconcile as a user runs them, malformed files included."""

import json
from pathlib import Path

from helpers.commands import run
from helpers.schema import ROOT, SCHEMA, edited_schema, table_line

from codegen.abi import fieldid
from codegen.abi.release import Release
from codegen.evolve import intel_json
from codegen.spec.compiler import compile_or_raise

DATA = Path("tests/data/intel-json")  # as the CLI is given it (run() works in ROOT); read ROOT / it
OLD, NEW, DRIFTED = (
    DATA / n
    for n in ("global_metadata_1.5.01.json", "global_metadata_2.0.08.json", "drifted-2.0.99.json")
)
CPUID_REASON = (
    "the kernel sizes the array 128 so newer modules with more CPUID leaves fit; "
    "reads stop at NUM_CPUID_CONFIG"
)


def test_import_json_table():
    code, out, err = run("import-json", OLD)
    lines = out.splitlines()
    assert (code, err, len(lines)) == (0, "", 66)
    assert lines[:3] == [
        f"{OLD}: TDX Global Metadata, release 1.5.01, 65 fields",
        "  0x00  0x0000000200000000  NUM_PKGS                             4  1x1",
        "  0x00  0x0000000200000001  PKG_FMS                              4  8x1",
    ]
    assert "  0x19  0x9900000300000500  CPUID_CONFIG_VALUES                  8  32x2" in lines


def test_both_spellings_of_num_fields_read_alike():
    """1.5.01 says "Num Fields" with JSON numbers; 2.0.08 "Max Num Fields" with strings."""
    old = json.loads(run("import-json", OLD, "--format", "json")[1])
    new = json.loads(run("import-json", NEW, "--format", "json")[1])
    assert "Max Num Fields" in (ROOT / NEW).read_text()
    assert "Max Num Fields" not in (ROOT / OLD).read_text()
    strip = lambda r: {k: v for k, v in r.items() if k != "line"}
    new_by_name = {r["name"]: strip(r) for r in new["fields"]}
    assert [strip(r) for r in old["fields"]] == [new_by_name[r["name"]] for r in old["fields"]]
    assert new_by_name["CPUID_CONFIG_VALUES"] == {
        "name": "CPUID_CONFIG_VALUES",
        "id": "0x9900000300000500",
        "class": 25,
        "element_size": 8,
        "num_fields": 32,
        "num_elements": 2,
        "host_access": "RO",
        "guest_access": "None",
        "description": "Cpuid Config Values.",
    }


def test_malformed_fields_each_reported_with_its_line():
    f = DATA / "bad-fields.json"
    assert run("import-json", f) == (
        1,
        "",
        "".join(
            f"{f}:{line}\n"
            for line in (
                "4: NUM_PKGS: \"Element Size (Bytes)\" must be a number, not the string 'four'",
                "11: PKG_FMS: \"Base FIELD_ID (Hex)\" '0x00000002ZZ000001' is not a 64-bit hex number",
                '11: PKG_FMS: "Num Elements" is missing',
                '17: VENDOR_ID: "Num Fields" (1) and "Max Num Fields" (2) disagree',
                '17: VENDOR_ID: "Base FIELD_ID (Hex)" must be a hex string such as '
                '"0x0800000200000000", not the number 576460760893358080',
                '25: BUILD_DATE: "Base FIELD_ID (Hex)" 0x8800000200000001 encodes 4-byte elements but '
                '"Element Size (Bytes)" is 8',
                '32: entry 5: "Field Name" is missing',
                "38: \"Fields\" entry 6 must be an object, not the string 'MINOR_VERSION'",
                '39: MAJOR_VERSION: "Num Elements" is 17; it must be between 1 and 16',
                '39: MAJOR_VERSION: "Description" must be a list of strings, not an object',
                '47: MAJOR_VERSION: "Num Fields" must be a number, not the boolean true',
            )
        )
        + f"tdx-codegen: error: {f} is not usable as Intel's global metadata JSON "
        "(11 problem(s))\n",
    )


def json_error(text: str) -> tuple[str, int, int]:
    """What this Python's json module says of text (its wording differs between versions)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.msg, exc.lineno, exc.colno
    raise AssertionError("valid JSON")


def test_malformed_documents():
    msg, line, col = json_error((DATA / "bad-syntax.json").read_text())
    for name, problem in (
        ("bad-syntax.json", f"{line}:{col}: not valid JSON: {msg}"),
        (
            "bad-toplevel.json",
            '1: the top level must be an object with "Header" and "Fields", not a list',
        ),
        ("bad-no-fields.json", '1: "Fields" is missing'),
        ("no-such-file.json", " no such file"),
    ):
        f = DATA / name
        assert run("reconcile", f) == (
            1,
            "",
            f"{f}:{problem}\ntdx-codegen: error: {f} is not "
            "usable as Intel's global metadata JSON (1 problem(s))\n",
        )


def test_duplicate_field_in_json(tmp_path):
    doc = json.loads((ROOT / OLD).read_text())
    doc["Fields"].append(dict(doc["Fields"][0]))
    doc["Fields"].append(dict(doc["Fields"][1], **{"Field Name": "PKG_FMS_AGAIN"}))
    f = tmp_path / "dup.json"
    f.write_text(json.dumps(doc, indent=1))
    starts = [i + 1 for i, x in enumerate(f.read_text().splitlines()) if x == "  {"]
    first, second, dup, again = starts[0], starts[1], starts[-2], starts[-1]
    code, out, err = run("import-json", f)
    assert (code, out) == (1, "")
    assert err.splitlines()[:2] == [
        f"{f}:{dup}: field NUM_PKGS appears twice (first at line {first})",
        f"{f}:{again}: PKG_FMS_AGAIN has the id of PKG_FMS (line {second}): class 0x00, "
        "field code 0x1",
    ]


def reconcile_lines(json_file):
    code, out, err = run("reconcile", json_file)
    assert err == ""
    return code, out.splitlines()


def about(lines, names):
    """The difference lines ("explained: NAME: ...") about the fields named, in order."""
    return [x for x in lines if x.split(": ")[1] in names]


def added_fields(json_file, known):
    """The schema's fields a test does not name that json_file lacks: fields added to the
    schema after the file was written (README's "Adding a field"), each one "only in the schema"
    (explained when its since is later than the file's release)."""
    cat = compile_or_raise(SCHEMA)
    rel = intel_json.load(ROOT / json_file, str(json_file))
    keys = {j.key for j in rel.fields}
    release = Release.parse(rel.version)
    out = []
    for f in cat.fields:
        if f.name in known or fieldid.key(f.id) in keys:
            continue
        if f.unverified:
            why = f"explained: {f.name}: {{}}: unverified: {f.unverified}"
        elif f.since is None:
            why = f"explained: {f.name}: {{}}: in no public module release"
        elif not f.since.has(release):
            why = (
                f"explained: {f.name}: {{}}: not in this JSON's release {release}: first in "
                f"{f.since.describe()}"
            )
        else:
            why = (
                f"UNEXPLAINED: {f.name}: {{}}: the schema says the module has it since "
                f"{f.since.describe()}"
            )
        file = Path(f.source.file).name
        where = f"only in the schema ({fieldid.canonical(f.id)}) [schema/{file}:{f.source.line}]"
        out.append(why.format(where))
    return len(cat.fields), out


def counted(lines):
    n, bad = len(lines), sum(x.startswith("UNEXPLAINED") for x in lines)
    return f"{n} difference(s): {n - bad} explained, {bad} unexplained"


def test_reconcile_passes_when_every_difference_is_explained():
    code, lines = reconcile_lines(NEW)
    conf = SCHEMA / "19-td-configurability.toml"
    ext = SCHEMA / "31-module-extensions.toml"
    mig = SCHEMA / "20-migration.toml"
    unverified = (
        "unverified: id and size from Intel's global_metadata JSON only; in no "
        "published module field table"
    )
    at = {n: table_line(conf, n) for n in ("CPUID_CONFIG_LEAVES", "CPUID_CONFIG_VALUES")}
    scan = [
        f"explained: {name}: only in the schema ({fid}) [schema/20-migration.toml:"
        f"{table_line(mig, name)}]: not in this JSON's release 2.0.08: first in 1.5.34 on the "
        "1.5 line and 2.0.18"
        for name, fid in (
            ("NUM_MEM_SCAN_CONTROL_PAGES", "0xA000000000000030"),
            ("MAX_MEM_SCAN_RANGES", "0xA000000100000031"),
            ("NUM_MEM_SCAN_CONTEXTS", "0xA000000100000032"),
        )
    ]
    expected = [
        f"explained: CPUID_CONFIG_LEAVES: capacity: schema 128, JSON 32 "
        f"[schema/19-td-configurability.toml:{at['CPUID_CONFIG_LEAVES']} / {NEW}:624]: "
        f"{CPUID_REASON}",
        f"explained: CPUID_CONFIG_VALUES: capacity: schema 128, JSON 32 "
        f"[schema/19-td-configurability.toml:{at['CPUID_CONFIG_VALUES']} / {NEW}:638]: "
        f"{CPUID_REASON}",
        *scan,
        f"explained: MEMORY_POOL_REQUIRED_PAGES: only in the schema (0x3100000100000000) "
        f"[schema/31-module-extensions.toml:{table_line(ext, 'MEMORY_POOL_REQUIRED_PAGES')}]: "
        f"{unverified}",
        f"explained: EXT_REQUIRED: only in the schema (0x3100000000000001) "
        f"[schema/31-module-extensions.toml:{table_line(ext, 'EXT_REQUIRED')}]: {unverified}",
    ]
    names = {x.split(": ")[1] for x in expected}
    total, added = added_fields(NEW, names)
    assert code == 0
    assert (
        lines[0] == f"reconcile with {NEW} (release 2.0.08): {total} schema fields, 72 JSON fields"
    )
    assert about(lines, names) == expected
    assert [x for x in lines[1:-1] if x not in expected] == added
    assert lines[-1] == counted(expected + added)


# What 1.5.01's JSON lacks of the schema, in the order reconcile lists it
LATER_THAN_1_5_01 = [
    "PAMT_PAGE_BITMAP_ENTRY_BITS",
    "MIN_DYNAMIC_PAMT_NUM_HKID_BITS",
    "MAX_VCPUS_PER_TD",
    "MIN_VIRT_MAXPA",
    "MAX_EVENT_FILTERS",
    "CPUID_CONFIG_LEAVES",  # capacity, explained by its override
    "CPUID_CONFIG_VALUES",
    "GUEST_GPA_ATTR_MASK",
    "NUM_MEM_SCAN_CONTROL_PAGES",
    "MAX_MEM_SCAN_RANGES",
    "NUM_MEM_SCAN_CONTEXTS",
    "TDX_CONNECT_FEATURES",
    "MEMORY_POOL_REQUIRED_PAGES",
    "EXT_REQUIRED",
]


def test_reconcile_older_release_explains_later_fields():
    code, lines = reconcile_lines(OLD)
    known = about(lines, LATER_THAN_1_5_01)
    _, added = added_fields(OLD, LATER_THAN_1_5_01)
    assert code == 0
    assert [x.split(": ")[1] for x in known] == LATER_THAN_1_5_01
    assert [x for x in lines[1:-1] if x not in known] == added
    assert lines[-1] == counted(known + added)
    [vcpus, filters, gpa] = about(
        lines, ["MAX_VCPUS_PER_TD", "MAX_EVENT_FILTERS", "GUEST_GPA_ATTR_MASK"]
    )
    assert vcpus.startswith(
        "explained: MAX_VCPUS_PER_TD: only in the schema "
        "(0x9900000100000008) [schema/19-td-configurability.toml:"
    )
    assert vcpus.endswith("]: not in this JSON's release 1.5.01: first in 1.5.05")
    # fields the 2.0 line gained first, and those the lines gained at different releases
    assert gpa.endswith("]: not in this JSON's release 1.5.01: first in 2.0.02")
    assert filters.endswith(
        "]: not in this JSON's release 1.5.01: first in 1.5.34 on the 1.5 line and 2.0.04"
    )


def test_reconcile_reports_unexplained_differences():
    code, lines = reconcile_lines(DRIFTED)
    tdmr = SCHEMA / "11-tdmr-info.toml"
    leaves = table_line(SCHEMA / "19-td-configurability.toml", "CPUID_CONFIG_LEAVES")
    drift = [
        f"UNEXPLAINED: NUM_PKGS: only in the schema (0x0000000200000000) "
        f"[schema/00-platform-info.toml:{table_line(SCHEMA / '00-platform-info.toml', 'NUM_PKGS')}]"
        f": the schema says the module has it since 1.5.01",
        f"UNEXPLAINED: VENDOR_ID: name: schema VENDOR_ID, JSON TDX_VENDOR_ID "
        f"[schema/08-module-version.toml:{table_line(SCHEMA / '08-module-version.toml', 'VENDOR_ID')}"
        f" / {DRIFTED}:22]: the JSON names this id differently",
        f"UNEXPLAINED: TDX_FEATURES1: only in the JSON (0x0A00000300000009) [{DRIFTED}:260]: "
        "the module has a field the schema lacks",
        f"UNEXPLAINED: MAX_TDMRS: num_fields: schema 1, JSON 2 [schema/11-tdmr-info.toml:"
        f"{table_line(tdmr, 'MAX_TDMRS')} / {DRIFTED}:316]: no override in the schema",
        f"UNEXPLAINED: PAMT_PAGE_BITMAP_ENTRY_BITS: element_size: schema 1, JSON 2 "
        f"[schema/11-tdmr-info.toml:{table_line(tdmr, 'PAMT_PAGE_BITMAP_ENTRY_BITS')} / "
        f"{DRIFTED}:386]: no override in the schema",
        f"UNEXPLAINED: CPUID_CONFIG_LEAVES: capacity: schema 128, JSON 64 "
        f"[schema/19-td-configurability.toml:{leaves} / {DRIFTED}:624]: the override expects "
        "the JSON to say 32",
        f"UNEXPLAINED: CPUID_CONFIG_LEAVES: num_fields: schema 32, JSON 64 "
        f"[schema/19-td-configurability.toml:{leaves} / {DRIFTED}:624]: no override in the schema",
    ]
    names = {x.split(": ")[1] for x in drift}
    names |= {"CPUID_CONFIG_VALUES", "MEMORY_POOL_REQUIRED_PAGES", "EXT_REQUIRED"}  # explained
    known = about(lines, names)
    _, added = added_fields(DRIFTED, names)
    assert code == 1
    assert [x for x in known if x.startswith("UNEXPLAINED")] == drift
    assert len(known) == len(drift) + 3
    # a field added since 2.0.99's file was written is one its release should have had
    assert [x for x in lines[1:-1] if x not in known] == added
    assert lines[-1] == counted(known + added)


def test_reconcile_without_the_override_fails(tmp_path):
    override = f'overrides.capacity = {{ json = 32, reason = "{CPUID_REASON}" }}\n'
    schema = edited_schema(tmp_path, "s", {"19-td-configurability.toml": [(override, "")]})
    code, out, err = run(
        "reconcile", ROOT / NEW, "--schema", schema, "--format", "json", cwd=tmp_path
    )
    report = json.loads(out)
    assert (code, err, report["unexplained"]) == (1, "", 1)
    [bad] = [d for d in report["differences"] if not d["explained"]]
    assert bad == {
        "name": "CPUID_CONFIG_LEAVES",
        "attribute": "capacity",
        "schema": "128",
        "json": "32",
        "schema_at": f"s/19-td-configurability.toml:"
        f"{table_line(schema / '19-td-configurability.toml', 'CPUID_CONFIG_LEAVES')}",
        "json_at": f"{ROOT / NEW}:624",
        "explained": False,
        "why": "no override in the schema",
    }


def test_unneeded_override_is_a_warning(tmp_path):
    schema = edited_schema(
        tmp_path,
        "s",
        {
            "11-tdmr-info.toml": [
                (
                    'name = "MAX_TDMRS"',
                    'name = "MAX_TDMRS"\noverrides.num_fields = '
                    '{ json = 2, reason = "an older draft said 2" }',
                )
            ]
        },
    )
    code, out, err = run("reconcile", NEW, "--schema", schema)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"{schema}/11-tdmr-info.toml:{table_line(schema / '11-tdmr-info.toml', 'MAX_TDMRS')}: "
        f"MAX_TDMRS: override of num_fields is not needed for {NEW}, which agrees with the "
        "schema (warning: remove it if this release is current)"
    )


def test_override_rules(tmp_path):
    schema = edited_schema(
        tmp_path,
        "s",
        {
            "11-tdmr-info.toml": [
                (
                    'name = "MAX_TDMRS"',
                    'name = "MAX_TDMRS"\n'
                    'overrides.num_fields = { json = 1, reason = "same" }\n'
                    'overrides.shape = { json = 1, reason = "x" }\n'
                    'overrides.id = { json = 8, reason = "x" }\n'
                    'overrides.element_size = { json = 4, reason = "" }\n'
                    'overrides.num_elements = { json = "two", reason = "x" }',
                )
            ]
        },
    )
    code, out, err = run("validate", "--schema", "s", cwd=tmp_path)
    base = table_line(schema / "11-tdmr-info.toml", "MAX_TDMRS")
    f = "s/11-tdmr-info.toml"
    assert (code, out) == (1, "")
    assert [x for x in err.splitlines() if "error[" in x] == [
        f"{f}:{base + 2}:33: error[OVERRIDE-UNNEEDED]: override of num_fields says the JSON has "
        "1, which is the schema's own value; remove the override",
        f"{f}:{base + 3}:1: error[OVERRIDE-KEY]: cannot override 'shape' (overridable: id, "
        "element_size, num_fields, num_elements, capacity)",
        f"{f}:{base + 4}:25: error[OVERRIDE-VALUE]: an id override gives the JSON's id as a hex "
        'string, e.g. json = "0x9100000000000013"',
        f"{f}:{base + 5}:47: error[OVERRIDE-REASON]: override of element_size needs a reason "
        "(why the schema deviates from Intel's JSON)",
        f"{f}:{base + 6}:35: error[OVERRIDE-VALUE]: the JSON's num_elements is a number, not 'two'",
    ]


def test_import_json_toml_stubs_compile(tmp_path):
    code, out, err = run("import-json", DRIFTED, "--format", "toml")
    assert (code, err) == (0, "")
    assert out == (
        f"# 1 field(s) of {DRIFTED} that the schema lacks\n"
        "\n"
        "[[field]]\n"
        'name = "TDX_FEATURES1"\n'
        'id = "0x0A00000300000009"\n'
        "class = 0x0a\n"
        "element_size = 8\n"
        'struct = "features"\n'
        'member = "tdx_features1"\n'
        'type = "u64"\n'
        'since = "2.0.99"\n'
        "guest_readable = true\n"
        'description = "Second word of TDX features."\n'
    )
    schema = edited_schema(tmp_path, "s", {})
    info = schema / "0a-module-info.toml"
    info.write_text(info.read_text() + "\n" + out)
    from codegen.spec.compiler import compile_or_raise

    before = compile_or_raise(ROOT / "schema")  # the edited schema has one field more
    assert run("validate", "--schema", schema)[:2] == (
        0,
        f"{len(before.fields) + 1} fields in {len(before.structs)} structs: schema is valid\n",
    )
