"""The floor for any generator in Python: stdlib only, no checks.

Parses the same schema TOML and writes an equivalent kernel header (the
structs of the kernel output, their members and types, struct
tdx_sys_info).  `tdx-codegen build` is measured against this script.

    python benchmarks/baseline_header.py SCHEMA_DIR OUT_FILE
"""

import sys
import tomllib
from pathlib import Path


def main(schema: Path, out: Path) -> None:
    settings = tomllib.loads((schema / "settings.toml").read_text())["kernel"]
    excluded = set(settings.get("exclude_fields", ()))
    structs, members = {}, {}
    for path in sorted(schema.glob("*.toml")):
        if path.name == "settings.toml":
            continue
        doc = tomllib.loads(path.read_text())
        for s in doc.get("struct", ()):
            structs[s["name"]] = s["c_name"]
        for f in doc.get("field", ()):
            if f["name"] in excluded:
                continue
            dims = ""
            if f.get("num_fields", 1) > 1:
                dims += f"[{f.get('capacity', f['num_fields'])}]"
            if f.get("num_elements", 1) > 1:
                dims += f"[{f['num_elements']}]"
            key = (int(f["id"], 16) >> 56 & 0x3F, int(f["id"], 16) & 0xFFFFFF)
            members.setdefault(f["struct"], []).append((key, f"\t{f['type']} {f['member']}{dims};"))
    lines = [
        "/* SPDX-License-Identifier: GPL-2.0 */",
        "#ifndef _X86_VIRT_TDX_GLOBAL_METADATA_H",
        "#define _X86_VIRT_TDX_GLOBAL_METADATA_H",
        "",
        "#include <linux/types.h>",
        "",
    ]
    for name in settings["structs"]:
        lines += [f"struct {structs[name]} {{", *(m for _, m in sorted(members[name])), "};", ""]
    lines += [
        "struct tdx_sys_info {",
        *(f"\tstruct {structs[n]} {n};" for n in settings["structs"]),
        "};",
        "",
        "#endif",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
