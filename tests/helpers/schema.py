"""The shipped schema, and copies of it edited the way a test needs."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = ROOT / "schema"


def edited_schema(tmp_path: Path, name: str, edits: dict[str, list[tuple[str, str]]]) -> Path:
    """A copy of the shipped schema with (old, new) text replacements per file."""
    dest = tmp_path / name
    shutil.copytree(SCHEMA, dest)
    for file, pairs in edits.items():
        path = dest / file
        text = path.read_text()
        for old, new in pairs:
            assert old in text, (file, old)
            text = text.replace(old, new, 1)
        path.write_text(text)
    return dest


def table_line(path: Path, name: str, table: str = "[[field]]") -> int:
    """Line of the [[field]] (or [[struct]]) table that declares name: where changes point."""
    lines = path.read_text().splitlines()
    at = lines.index(f'name = "{name}"')
    return max(i for i in range(at) if lines[i] == table) + 1


# A field the shipped schema does not have, appended to 18-td-control-structures.toml.
NEW_FIELD = """
[[field]]
name = "TDVPS_PAGES"
id = "0x9800000100000202"
class = 0x18
element_size = 2
struct = "td_ctrl"
member = "tdvps_pages"
type = "u16"
since = "2.0.08"
guest_readable = false
description = "Pages of a vCPU's TDVPS | one per L2 VM more."
"""
