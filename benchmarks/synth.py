"""Synthetic, valid schemas of N fields, for the scale benchmarks.

Fields are spread over classes (up to 60) and structs of at most 64
members; every 16th field is an array bounded by the scalar before it.
Deterministic: the same N gives the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

FIELDS_PER_STRUCT = 64


def write(out: Path, n_fields: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    n_structs = (n_fields + FIELDS_PER_STRUCT - 1) // FIELDS_PER_STRUCT
    classes: dict[int, list[str]] = {}
    names = []
    for s in range(n_structs):
        cls = 1 + s % 60
        text = classes.setdefault(cls, [f'[class]\ncode = {cls}\nname = "Class {cls}"\n'])
        name = f"st{s}"
        names.append(name)
        text.append(
            f'[[struct]]\nname = "{name}"\nc_name = "tdx_sys_info_{name}"\n'
            f'description = "Synthetic struct {s}."\n'
        )
        base = (s // 60) * 0x1000
        code = base
        for i in range(min(FIELDS_PER_STRUCT, n_fields - s * FIELDS_PER_STRUCT)):
            fid = (cls << 56) | (3 << 32) | code
            array = i % 16 == 15
            entry = [
                "[[field]]",
                f'name = "F{s}_{i}"',
                f'id = "0x{fid:016X}"',
                f"class = {cls}",
                "element_size = 8",
            ]
            if array:
                entry += ["num_fields = 4", f'count = "F{s}_{i - 1}"']
            entry += [
                f'struct = "{name}"',
                f'member = "f{i}"',
                'type = "u64"',
                'since = "1.5.01"',
                f'description = "Synthetic field {i} of struct {s}."',
            ]
            text.append("\n".join(entry) + "\n")
            code += 4 if array else 1
    for cls, parts in classes.items():
        (out / f"class-{cls:02d}.toml").write_text("\n".join(parts))
    listed = ", ".join(f'"{n}"' for n in names)
    (out / "settings.toml").write_text(
        f'[kernel]\nflavor = "map"\nstructs = [{listed}]\nprint = []\n\n'
        f"[python]\nstructs = [{listed}]\n\n[docs]\nstructs = [{listed}]\n"
    )
    return out


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]))
