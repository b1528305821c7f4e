"""Value profiles: what a simulated TDX module holds, checked like the schema.

A profile (schema/profiles/<name>.toml) names a module release and gives
values by ABI field name:

    [profile]
    release = "1.5.01"                  # the module has the fields whose since admits it
    description = "..."
    source = "..."                      # where the release number comes from
    table = "..."                       # the module field table modelled: with it, [values]
                                        # must give every field of the release (PROFILE-FIELD-SET)

    [values]
    NUM_CMRS = 32                       # a scalar
    CMR_BASE = [0x0, 0x100000000]       # an array: up to NUM_FIELDS values
    CPUID_CONFIG_VALUES = [[1, 2], ...] # fields of several elements: one list each

    [fill]                              # array elements past those given (default 0)
    CPUID_CONFIG_LEAVES = 0xFFFFFFFFFFFFFFFF

    [quirks]                            # RDALL writes only element 0 past the live count
    rdall_first_element_only = ["CPUID_CONFIG_VALUES"]

A module can also be replayed from TDH.SYS.RDALL pages (raw 4 KB pages,
concatenated) or from the JSON dump the simulator writes (dump_json).
Every problem is reported with its file:line through codegen.diagnostics.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

from codegen import chars
from codegen.abi import fieldid
from codegen.abi import rdall_list
from codegen.spec import toml_source
from codegen.spec.diagnostics import CompileError, Location, Note, Reporter, display_path
from codegen.spec.model import Catalogue, Field
from codegen.abi.release import VERSION_FIELDS, Release
from codegen.sim import json_input
from codegen.sim.simulator import Module, Simulator
from codegen.paths import read_bytes

PROFILE_DIR = "profiles"  # under the schema directory
DUMP_FORMAT = "tdx-codegen-sim-dump"
DUMP_VERSION = 1
QUIRK_FIRST_ELEMENT = "rdall_first_element_only"
_HEX = re.compile(r"0x[0-9a-fA-F]+")  # a dump's values: ASCII hex digits only
_TABLES = {
    "profile": ("release", "description", "source", "table"),
    "values": None,
    "fill": None,
    "quirks": (QUIRK_FIRST_ELEMENT,),
}


class ProfileError(CompileError):
    """A profile or dump with errors; carries every diagnostic."""


def profile_names(schema_dir: Path) -> list[str]:
    return sorted(p.stem for p in (Path(schema_dir) / PROFILE_DIR).glob("*.toml"))


def resolve(spec: str, schema_dir: Path) -> Path:
    """A profile given by name (schema/profiles/NAME.toml) or as a file path."""
    path = Path(spec)
    if spec.endswith(".toml") or "/" in spec:
        return path
    return Path(schema_dir) / PROFILE_DIR / f"{spec}.toml"


# -- TOML profiles -------------------------------------------------------------


def load_profile(path: Path, catalogue: Catalogue) -> Module:
    """Load and check a profile; raise ProfileError with every problem."""
    rep = Reporter()
    shown = display_path(path)
    try:
        doc = toml_source.load(Path(path), shown)
    except toml_source.TomlSyntaxError as exc:
        rep.error("TOML-SYNTAX", exc.message, exc.loc)
        raise ProfileError(rep.sorted()) from None
    except OSError as exc:
        rep.error("READ-ERROR", exc.strerror or str(exc), Location(shown))
        raise ProfileError(rep.sorted()) from None
    module = _ProfileChecker(doc, catalogue, rep, Path(path).stem).run()
    if rep.errors:
        raise ProfileError(rep.sorted())
    return module


class _ProfileChecker:
    def __init__(self, doc, catalogue: Catalogue, rep: Reporter, name: str):
        self.doc, self.cat, self.rep, self.name = doc, catalogue, rep, name
        self.by_name = {f.name: f for f in catalogue.fields}

    def error(self, rule: str, message: str, *keys, key: bool = False) -> None:
        self.rep.error(rule, message, self.doc.loc(keys, key=key))

    def run(self) -> Module | None:
        data = self.doc.data
        for table, keys in _TABLES.items():
            if table in data and not isinstance(data[table], dict):
                self.error("PROFILE-KEY", f"'{table}' must be a table: [{table}]", table)
                data = {k: v for k, v in data.items() if k != table}
            elif keys is not None:
                for k in data.get(table, {}):
                    if k not in keys:
                        self.error(
                            "PROFILE-KEY",
                            f"unknown key '{k}' in [{table}] (expected {', '.join(keys)})",
                            table,
                            k,
                            key=True,
                        )
        for k in data:
            if k not in _TABLES:
                self.error(
                    "PROFILE-KEY",
                    f"unknown table '{k}' (expected [profile], [values], [fill] and [quirks])",
                    k,
                    key=True,
                )
        release = self.release(data.get("profile", {}))
        present = list(self.cat.fields_of(release)) if release is not None else []
        names = {f.name for f in present}
        fill = {}
        for fname, raw in data.get("fill", {}).items():
            f = self.field(fname, names, release, "fill")
            if f is not None and f.num_ids == 1:
                self.error(
                    "PROFILE-SHAPE",
                    f"{fname} is a single element: [fill] is for arrays",
                    "fill",
                    fname,
                )
            elif f is not None:
                fill[fname] = self.integer(raw, f, ("fill", fname))
        given: dict[str, list[list[int]]] = {}
        for fname, raw in data.get("values", {}).items():
            f = self.field(fname, names, release, "values")
            rows = None if f is None else self.shape(raw, f)
            given[fname] = rows  # None: reported already
        quirk = self.quirks(data.get("quirks", {}), names, release)
        self.counts(present, given)
        self.text_keys(data.get("profile", {}))
        if "table" in data.get("profile", {}) and release is not None:
            self.field_set(present, data.get("values", {}), release)
        if release is None or self.rep.errors:
            return None
        values = {}
        for f in present:
            rows = given.get(f.name) or []
            flat = [v for row in rows for v in row]
            values[f.name] = tuple(flat + [fill.get(f.name, 0)] * (f.num_ids - len(flat)))
        return Module(self.name, release, tuple(present), values, frozenset(quirk))

    def release(self, table: dict) -> Release | None:
        raw = table.get("release")
        if raw is None:
            self.error(
                "PROFILE-RELEASE",
                '[profile] has no release (e.g. release = "1.5.01"): '
                "it decides which fields the module has",
                "profile",
                key=True,
            )
            return None
        if not isinstance(raw, str):
            self.error(
                "PROFILE-RELEASE", 'release must be a string such as "1.5.01"', "profile", "release"
            )
            return None
        try:
            return Release.parse(raw)
        except ValueError as exc:
            self.error("PROFILE-RELEASE", str(exc), "profile", "release")
            return None

    def text_keys(self, table: dict) -> None:
        for key in ("description", "source", "table"):
            if key in table and not isinstance(table[key], str):
                self.error("PROFILE-KEY", f"{key} must be a string", "profile", key)

    def field_set(self, present: list[Field], values: dict, release: Release) -> None:
        """A profile of a module's table gives every field of its release, no more, no less.

        Fields the release lacks are PROFILE-RELEASE-FIELD already; here, those not given.
        """
        missing = [f.name for f in present if f.name not in values]
        if missing:
            self.error(
                "PROFILE-FIELD-SET",
                f"a {release} module has {len(present)} fields but "
                f"[values] gives {len(present) - len(missing)}: the profile models a module "
                f"table (table = ...), so give {', '.join(missing)}",
                "profile",
                "table",
            )

    def field(self, fname: str, present: set[str], release, table: str) -> Field | None:
        f = self.by_name.get(fname)
        if f is None:
            close = difflib.get_close_matches(fname, self.by_name, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            self.error("PROFILE-FIELD", f"unknown field '{fname}'{hint}", table, fname, key=True)
            return None
        if release is not None and fname not in present:
            when = f"first in {f.since.describe()}" if f.since else "in no public module release"
            self.error(
                "PROFILE-RELEASE-FIELD",
                f"{fname} is {when}: a {release} module does not have it",
                table,
                fname,
                key=True,
            )
            return None
        return f

    def integer(self, raw, f: Field, keys: tuple) -> int:
        if isinstance(raw, str):
            try:
                raw = chars.ascii_int(raw.replace("_", ""))
            except ValueError as exc:
                why = f": {exc}" if isinstance(exc, chars.NotAscii) else ""
                self.error("PROFILE-VALUE", f"'{chars.escape(raw)}' is not a number{why}", *keys)
                return 0
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.error("PROFILE-VALUE", f"{f.name} takes integers, not {type(raw).__name__}", *keys)
            return 0
        if not 0 <= raw <= f.element_mask:
            self.error(
                "PROFILE-VALUE",
                f"{raw:#x} does not fit {f.name}'s {f.element_size}-byte "
                f"element (max {f.element_mask:#x})",
                *keys,
            )
            return 0
        return raw

    def shape(self, raw, f: Field) -> list[list[int]] | None:
        """Values as rows of num_elements (a row for each field given)."""
        keys = ("values", f.name)
        if f.is_scalar:
            if isinstance(raw, list):
                self.error(
                    "PROFILE-SHAPE", f"{f.name} is a single element: give one integer", *keys
                )
                return None
            return [[self.integer(raw, f, keys)]]
        if not isinstance(raw, list):
            what = f"{f.num_fields} fields" if f.is_array else f"{f.num_elements} elements"
            self.error("PROFILE-SHAPE", f"{f.name} has {what}: give a list", *keys)
            return None
        if not f.is_array:  # one field of several elements: a flat list
            raw = [raw]
            keys_of = lambda i, e: keys + (e,)  # noqa: E731
        elif f.num_elements == 1:
            raw = [[v] for v in raw]
            keys_of = lambda i, e: keys + (i,)  # noqa: E731
        else:
            keys_of = lambda i, e: keys + (i, e)  # noqa: E731
        if len(raw) > f.num_fields:
            self.error(
                "PROFILE-CAPACITY",
                f"{len(raw)} values given but {f.name} has {f.num_fields} fields",
                *keys,
            )
            return None
        rows = []
        for i, row in enumerate(raw):
            if not isinstance(row, list) or len(row) != f.num_elements:
                self.error(
                    "PROFILE-SHAPE",
                    f"each field of {f.name} has {f.num_elements} "
                    f"elements: give a list of {f.num_elements} integers",
                    *keys + (i,),
                )
                return None
            rows.append([self.integer(v, f, keys_of(i, e)) for e, v in enumerate(row)])
        return rows

    def quirks(self, table: dict, present: set[str], release) -> list[str]:
        raw = table.get(QUIRK_FIRST_ELEMENT, [])
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            self.error(
                "PROFILE-KEY",
                f"{QUIRK_FIRST_ELEMENT} is a list of field names",
                "quirks",
                QUIRK_FIRST_ELEMENT,
            )
            return []
        out = []
        for n, fname in enumerate(raw):
            f = self.by_name.get(fname)
            if f is None or fname not in present and release is not None:
                self.error(
                    "PROFILE-FIELD",
                    f"'{fname}' is not a field of this module",
                    "quirks",
                    QUIRK_FIRST_ELEMENT,
                    n,
                )
            elif f.count is None or f.num_elements < 2:
                self.error(
                    "PROFILE-SHAPE",
                    f"{fname} has no live count or only one element: the quirk does not apply",
                    "quirks",
                    QUIRK_FIRST_ELEMENT,
                    n,
                )
            else:
                out.append(fname)
        return out

    def counts(self, present: list[Field], given: dict) -> None:
        """A live count must not exceed the fields given for its arrays."""
        for f in present:
            if f.count is None or not given.get(f.count) or given.get(f.name, []) is None:
                continue
            count = given[f.count][0][0]
            have = len(given.get(f.name, []))
            if count > have:
                where = self.doc.loc(("values", f.name), key=True) if f.name in given else None
                self.rep.error(
                    "PROFILE-COUNT",
                    f"{f.count} = {count} but {have} fields of {f.name} are given",
                    self.doc.loc(("values", f.count)),
                    Note(
                        f"{f.name} is here" if where else f"give {f.name} = [...] in [values]",
                        where,
                    ),
                )


# -- replay ----------------------------------------------------------------------


def load_replay(path: Path, catalogue: Catalogue) -> Module:
    """A module from a JSON dump (dump_json) or from raw TDH.SYS.RDALL pages."""
    path = Path(path)
    shown = display_path(path)
    rep = Reporter()
    try:
        data = read_bytes(path)
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
                        f"{where} sequence {n} ({fieldid.fmt(seq.header)}): "
                        f"element {fieldid.fmt(eid)} is no field of the schema",
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
                        f"{where} sequence {n} ({fieldid.fmt(seq.header)}): "
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
        if entry.get("id") != fieldid.fmt(f.id):
            rep.error(
                "REPLAY-FIELD",
                f"{what}: {f.name} has id {entry.get('id')} in the dump but "
                f"{fieldid.fmt(f.id)} in the schema",
                at(entry),
            )
            continue
        if not all(isinstance(v, str) and _HEX.fullmatch(v) for v in entry["values"]):
            rep.error("REPLAY-JSON", f'{what}: values are hex strings ("0x...")', at(entry))
            continue
        vals = tuple(int(v, 16) for v in entry["values"])
        if len(vals) != f.num_ids or any(not 0 <= v <= fieldid.MASK64 for v in vals):
            rep.error(
                "REPLAY-FIELD",
                f"{what}: {f.name} takes {f.num_ids} 64-bit values, {len(vals)} given",
                at(entry),
            )
            continue
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
                "id": fieldid.fmt(f.id),
                "values": [f"{v:#x}" for v in sim.values[f.name]],
            }
            for f in sim.fields
        ],
    }
    return json.dumps(doc, indent=1) + "\n"
