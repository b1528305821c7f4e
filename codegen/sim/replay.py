"""Replayed modules: a TDX module's fields from TDH.SYS.RDALL pages or the simulator's dump.

`sim dump` writes a module as JSON (dump_json) or as raw 4 KB RDALL pages;
`sim --replay FILE` reads either back into a Module, checked field by field
against the schema, every problem with its file:line (REPLAY-* rules).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from codegen.abi import fieldid, rdall_list
from codegen.abi.release import VERSION_FIELDS, Release
from codegen.paths import read_input
from codegen.sim import json_input
from codegen.sim.profile import QUIRK_FIRST_ELEMENT, ProfileError
from codegen.sim.simulator import Module, Simulator
from codegen.spec.diagnostics import Location, Reporter, display_path
from codegen.spec.model import Catalogue

DUMP_FORMAT = "tdx-codegen-sim-dump"
DUMP_VERSION = 1
_HEX = re.compile(r"0x[0-9a-fA-F]+")  # a dump's values: ASCII hex digits only


def load_replay(path: Path, catalogue: Catalogue) -> Module:
    """A module from a JSON dump (dump_json) or from raw TDH.SYS.RDALL pages."""
    path = Path(path)
    shown = display_path(path)
    rep = Reporter()
    try:
        data = read_input(path)
    except OSError as exc:
        rep.error("READ-ERROR", exc.strerror or str(exc), Location(shown))
        raise ProfileError(rep.sorted()) from None
    if data.lstrip()[:1] == b"{":
        module = _from_json(data, shown, catalogue, rep, path.stem)
    else:
        module = _from_pages(data, shown, catalogue, rep, path.stem)
    if rep.errors or module is None:
        raise ProfileError(rep.sorted())
    return module


def _release_of(values: dict) -> Release | None:
    parts = [values.get(n, (None,))[0] for n in VERSION_FIELDS]
    return None if None in parts else Release(*parts)


def _from_pages(data: bytes, shown: str, cat: Catalogue, rep: Reporter, name: str):
    if not data or len(data) % rdall_list.PAGE_SIZE:
        rep.error(
            "REPLAY-PAGES",
            f"{len(data)} bytes is not a whole number of "
            f"{rdall_list.PAGE_SIZE}-byte TDH.SYS.RDALL pages",
            Location(shown),
        )
        return None
    elements: dict[str, dict[int, int]] = {}
    for p in range(len(data) // rdall_list.PAGE_SIZE):
        where = f"page {p} (offset {p * rdall_list.PAGE_SIZE:#x})"
        try:
            sequences = rdall_list.parse(
                data[p * rdall_list.PAGE_SIZE : (p + 1) * rdall_list.PAGE_SIZE]
            )
        except rdall_list.ListFormatError as exc:
            rep.error("REPLAY-PAGES", f"{where}: {exc}", Location(shown))
            continue
        for n, seq in enumerate(sequences):
            for eid, value in seq.element_ids():
                found = cat.locate(eid)
                if found is None:
                    rep.error(
                        "REPLAY-FIELD",
                        f"{where} sequence {n} ({fieldid.canonical(seq.header)}): "
                        f"element {fieldid.canonical(eid)} is no field of the schema",
                        Location(shown),
                    )
                    break
                f, i, e = found
                if (
                    f.size_code != fieldid.get(seq.header, "ELEMENT_SIZE_CODE")
                    or f.num_elements != seq.num_elements
                ):
                    rep.error(
                        "REPLAY-FIELD",
                        f"{where} sequence {n} ({fieldid.canonical(seq.header)}): "
                        f"shape differs from {f.name} in the schema",
                        Location(shown),
                    )
                    break
                elements.setdefault(f.name, {})[i * f.num_elements + e] = value
    present, values = [], {}
    for f in cat.fields:
        got = elements.get(f.name)
        if got is None:
            continue
        if len(got) != f.num_ids:
            rep.error(
                "REPLAY-FIELD",
                f"{f.name}: {len(got)} of its {f.num_ids} elements are in the pages",
                Location(shown),
            )
            continue
        present.append(f)
        values[f.name] = tuple(got[k] for k in range(f.num_ids))
    return Module(name, _release_of(values), tuple(present), values)


def _from_json(data: bytes, shown: str, cat: Catalogue, rep: Reporter, name: str):
    try:
        text = data.decode("utf-8")
        doc, where = json_input.load(text)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        rep.error(
            "REPLAY-JSON",
            f"not UTF-8: byte {data[exc.start]:#04x}",
            Location(shown, line, exc.start - data.rfind(b"\n", 0, exc.start)),
        )
        return None
    except json_input.JsonError as exc:
        rep.error(
            "REPLAY-JSON", f"not valid JSON: {exc.message}", Location(shown, exc.line, exc.col)
        )
        return None

    def at(value) -> Location:
        return Location(shown, *where.get(id(value), (0, 0)))

    if (
        not isinstance(doc, dict)
        or doc.get("format") != DUMP_FORMAT
        or doc.get("version") != DUMP_VERSION
        or not isinstance(doc.get("fields"), list)
    ):
        rep.error(
            "REPLAY-JSON",
            f'not a simulator dump (expected "format": "{DUMP_FORMAT}", '
            f'"version": {DUMP_VERSION} and a "fields" list)',
            at(doc),
        )
        return None
    by_name = {f.name: f for f in cat.fields}
    values: dict[str, tuple[int, ...]] = {}
    first: dict[str, int] = {}  # field name -> index of its entry
    for n, entry in enumerate(doc["fields"]):
        what = f"fields[{n}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), list):
            rep.error(
                "REPLAY-JSON",
                f'{what}: expected {{"name", "id", "values"}}',
                at(entry) if isinstance(entry, dict) else at(doc),
            )
            continue
        fname = entry.get("name")
        if not isinstance(fname, str):
            got = "nothing" if fname is None else f"a {type(fname).__name__}"
            rep.error(
                "REPLAY-JSON", f'{what}: "name" must be a field name string, got {got}', at(entry)
            )
            continue
        f = by_name.get(fname)
        if f is None:
            rep.error("REPLAY-FIELD", f"{what}: unknown field {fname!r}", at(entry))
            continue
        if entry.get("id") != fieldid.canonical(f.id):
            rep.error(
                "REPLAY-FIELD",
                f"{what}: {f.name} has id {entry.get('id')} in the dump but "
                f"{fieldid.canonical(f.id)} in the schema",
                at(entry),
            )
            continue
        if not all(isinstance(v, str) and _HEX.fullmatch(v) for v in entry["values"]):
            rep.error("REPLAY-JSON", f'{what}: values are hex strings ("0x...")', at(entry))
            continue
        vals = tuple(int(v, 16) for v in entry["values"])
        if len(vals) != f.num_ids:
            rep.error(
                "REPLAY-FIELD",
                f"{what}: {f.name} takes {f.num_ids} 64-bit values, {len(vals)} given",
                at(entry),
            )
            continue
        wide = next((k for k, v in enumerate(vals) if v > f.element_mask), None)
        if wide is not None:  # a module never reads back more than the element holds
            rep.error(
                "REPLAY-FIELD",
                f"{what}: {f.name} value {entry['values'][wide]} (element {wide}) does not fit "
                f"its {f.element_size}-byte element",
                at(entry),
            )
            continue
        if f.name in first:
            rep.error(
                "REPLAY-FIELD",
                f"{what}: {f.name} is given twice (first as fields[{first[f.name]}])",
                at(entry),
            )
            continue
        first[f.name] = n
        values[f.name] = vals
    quirk = doc.get(QUIRK_FIRST_ELEMENT, [])
    if not isinstance(quirk, list) or any(not isinstance(q, str) or q not in values for q in quirk):
        rep.error(
            "REPLAY-JSON", f"{QUIRK_FIRST_ELEMENT}: names of fields in the dump expected", at(doc)
        )
        quirk = []
    release = None
    if doc.get("release"):
        try:
            release = Release.parse(str(doc["release"]))
        except ValueError as exc:
            rep.error("REPLAY-JSON", f"release: {exc}", at(doc))
    present = tuple(f for f in cat.fields if f.name in values)
    return Module(str(doc.get("module") or name), release, present, values, frozenset(quirk))


def dump_json(sim: Simulator) -> str:
    """The module's present fields and values, replayable with load_replay."""
    m = sim.module
    doc = {
        "format": DUMP_FORMAT,
        "version": DUMP_VERSION,
        "module": m.name,
        "release": str(m.release) if m.release else None,
        QUIRK_FIRST_ELEMENT: sorted(m.first_element_only),
        "fields": [
            {
                "name": f.name,
                "id": fieldid.canonical(f.id),
                "values": [f"{v:#x}" for v in sim.values[f.name]],
            }
            for f in sim.fields
        ],
    }
    return json.dumps(doc, indent=1) + "\n"
