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

A module can also be replayed from a dump (codegen.sim.replay).
Every problem is reported with its file:line through codegen.diagnostics.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from codegen import chars
from codegen.abi.release import Release
from codegen.paths import STDIN
from codegen.sim.simulator import Module
from codegen.spec import toml_source
from codegen.spec.diagnostics import CompileError, Location, Note, Reporter, display_path
from codegen.spec.model import Catalogue, Field

PROFILE_DIR = "profiles"  # under the schema directory
QUIRK_FIRST_ELEMENT = "rdall_first_element_only"
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
    """A profile given by name (schema/profiles/NAME.toml) or as a file path ('-': stdin)."""
    path = Path(spec)
    if spec.endswith(".toml") or "/" in spec or spec == STDIN:
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
    assert module is not None  # run() gives None only with an error reported
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
        given: dict[str, list[list[int]] | None] = {}
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
        keys_of: Callable[[int, int], tuple[str | int, ...]]  # a value's key path
        if not f.is_array:  # one field of several elements: a flat list
            raw = [raw]
            keys_of = lambda i, e: (*keys, e)
        elif f.num_elements == 1:
            raw = [[v] for v in raw]
            keys_of = lambda i, e: (*keys, i)
        else:
            keys_of = lambda i, e: (*keys, i, e)
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
                    *(*keys, i),
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
            if f is None or (fname not in present and release is not None):
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
