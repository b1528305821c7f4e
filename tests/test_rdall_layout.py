"""The simulator's TDH.SYS.RDALL list, per release, against the module's list-writing rule.

The expected layout is computed here from the schema's facts alone (ids, shapes, since), with
the rule the TDX module's md_dump_list / md_dump_sequence apply, written out independently of
the simulator and of codegen.abi:

- the module walks its table field by field (each of an entry's num_fields fields), in class and
  field-code order;
- the next field joins the current sequence when it has the same class, its field code follows
  on (previous code + elements per field), and its elements per field and element size code
  equal the previous field's.  (The module never merges two CPUID fields of the TD context's
  CPUID class; no global field is of that class, so CPUID_CONFIG_LEAVES and
  CPUID_CONFIG_VALUES merge like any other.)
- a sequence header is the table id of its first field (bit 63, class, size code kept),
  context 0, LAST_ELEMENT_IN_FIELD (bits 37:34) = elements per field - 1 and
  LAST_FIELD_IN_SEQUENCE (bits 46:38) = fields in the sequence - 1; its elements follow, one
  8-byte slot each;
- the list header holds the bytes used (bits 15:0) and the number of sequences (bits 31:16).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from codegen.abi.release import Release
from codegen.sim import profile
from codegen.sim.simulator import Simulator
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
RELEASES = profile.profile_names(ROOT / "schema")

# (sequences, bytes) of the whole-context list a module of each release writes
LIST_SIZES = {
    "1.5.01": (36, 3128),
    "1.5.05": (37, 3144),
    "1.5.06": (38, 3160),
    "1.5.34": (42, 3240),
    "2.0.02": (40, 3192),
    "2.0.04": (41, 3208),
    "2.0.08": (42, 3232),
    "2.0.18": (44, 3272),
}

CLASS_SHIFT, SIZE_SHIFT = 56, 32
FIELD_CODE = (1 << 24) - 1


@pytest.fixture(scope="module")
def catalogue():
    return compile_or_raise(ROOT / "schema")


def expected_list(fields) -> list[tuple[int, int, int]]:
    """(sequence header, fields, elements per field) the module's rule gives for its table."""
    walk = []  # one item per field of each entry
    for f in sorted(fields, key=lambda f: ((f.id >> CLASS_SHIFT) & 0x3F, f.id & FIELD_CODE)):
        for k in range(f.num_fields):
            walk.append((f.id + k * f.num_elements, f.num_elements))
    sequences: list[list[tuple[int, int]]] = []
    for fid, elements in walk:
        if sequences:
            prev, prev_elements = sequences[-1][-1]
            if (
                (prev >> CLASS_SHIFT) & 0x3F == (fid >> CLASS_SHIFT) & 0x3F
                and (prev & FIELD_CODE) + prev_elements == fid & FIELD_CODE
                and prev_elements == elements
                and (prev >> SIZE_SHIFT) & 3 == (fid >> SIZE_SHIFT) & 3
            ):
                sequences[-1].append((fid, elements))
                continue
        sequences.append([(fid, elements)])
    out = []
    for seq in sequences:
        first, elements = seq[0]
        header = first & ~(7 << 52) | (elements - 1) << 34 | (len(seq) - 1) << 38
        out.append((header, len(seq), elements))
    return out


def written_list(page: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(bytes used, sequences, [(header, fields, elements)]) read from a list's raw bytes."""
    (head,) = struct.unpack_from("<Q", page)
    used, count = head & 0xFFFF, head >> 16 & 0xFFFF
    pos, out = 8, []
    for _ in range(count):
        (header,) = struct.unpack_from("<Q", page, pos)
        fields, elements = (header >> 38 & 0x1FF) + 1, (header >> 34 & 0xF) + 1
        out.append((header, fields, elements))
        pos += 8 + 8 * fields * elements
    assert pos == used
    return used, count, out


@pytest.mark.parametrize("name", RELEASES)
def test_rdall_list_has_the_modules_layout(catalogue, name):
    module = profile.load_profile(ROOT / "schema" / "profiles" / f"{name}.toml", catalogue)
    expected = expected_list(catalogue.fields_of(Release.parse(name)))
    pages = Simulator(module).dump_pages()
    assert len(pages) == 1  # the whole context fits one 4 KB list
    used, count, sequences = written_list(pages[0])
    assert sequences == expected
    assert (count, used) == (len(expected), 8 + sum(8 + 8 * n * e for _, n, e in expected))
    assert (count, used) == LIST_SIZES[name]


def test_every_release_has_its_list_size():
    assert sorted(LIST_SIZES) == RELEASES


def test_memory_scan_fields_make_two_sequences(catalogue):
    """NUM_MEM_SCAN_CONTROL_PAGES (1 byte) stands alone; the two 2-byte fields after it merge."""
    scan = [f for f in catalogue.fields_of(Release.parse("2.0.18")) if "MEM_SCAN" in f.name]
    assert expected_list(scan) == [(0xA000000000000030, 1, 1), (0xA000000100000031 | 1 << 38, 2, 1)]


def test_the_sizes_are_in_the_simulator_docs(catalogue):
    """docs/sim-protocol.md states each profile's fields, elements and list: these."""
    text = (ROOT / "docs" / "sim-protocol.md").read_text()
    rows = re.findall(r"^\| `([0-9.]+)` \| (\d+) \| (\d+) \| (\d+) \| ([0-9,]+) \|", text, re.M)
    stated = {r[0]: (int(r[1]), int(r[2]), int(r[3]), int(r[4].replace(",", ""))) for r in rows}
    fields = {name: catalogue.fields_of(Release.parse(name)) for name in RELEASES}
    assert stated == {
        name: (len(fields[name]), sum(f.num_ids for f in fields[name]), *size)
        for name, size in LIST_SIZES.items()
    }
