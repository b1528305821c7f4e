"""Schema directory -> validated Catalogue, or every diagnostic found.

schema/*.toml --toml_source--> documents with positions
              --schema (pydantic)--> typed entries
              --rules--> Catalogue (frozen, sorted) or diagnostics
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from codegen import chars, paths
from codegen.spec import shapes, toml_source
from codegen.spec.diagnostics import CompileError, Location, Reporter, display_path

if TYPE_CHECKING:  # the model is loaded with the rules that build it
    from codegen.spec.model import Catalogue

SETTINGS_FILE = "settings.toml"
PROFILE_DIR = "profiles"  # value profiles, one per module release (codegen.sim.profile)


@dataclass
class Entry:
    """One table of a schema file, typed or (when invalid) None."""

    kind: str  # "class", "struct", "field", "settings"
    spec: object | None  # the pydantic model instance
    raw: dict  # the table as tomli parsed it
    doc: toml_source.Document
    path: tuple  # key path of the table inside doc

    def loc(self, *keys, key: bool = False) -> Location:
        return self.doc.loc(self.path + keys, key=key)

    @property
    def line(self) -> int:
        """Line of this table's header (cheap: no full position scan)."""
        return self.doc.header_line(self.path)

    @property
    def name(self):
        value = self.raw.get("name") if isinstance(self.raw, dict) else None
        return value if isinstance(value, str) else None


@dataclass
class Loaded:
    entries: list[Entry]
    sources: list[str]
    schema_dir: Path
    # a file could not be read whole: references into it cannot be judged,
    # so the rules skip "unknown name" reports rather than cascade
    incomplete: bool = False
    releases: list = field(default_factory=list)  # ModuleRelease of each profile


def schema_files(schema_dir: Path) -> list[Path]:
    """Class files: every *.toml directly in the schema directory but settings."""
    return sorted(p for p in schema_dir.glob("*.toml") if p.name != SETTINGS_FILE)


def load(schema_dir: Path, rep: Reporter) -> Loaded:
    schema_dir = Path(schema_dir)
    entries: list[Entry] = []
    sources: list[str] = []
    errors_before = len(rep.errors)
    if not schema_dir.is_dir():
        rep.error(
            "NO-SCHEMA",
            f"schema directory {paths.not_a_directory(schema_dir)}",
            Location(display_path(schema_dir)),
        )
        return Loaded(entries, sources, schema_dir)
    files = schema_files(schema_dir)
    if not files:
        rep.error(
            "NO-SCHEMA",
            "no schema files (*.toml) in this directory",
            Location(display_path(schema_dir)),
        )
    settings_path = schema_dir / SETTINGS_FILE
    if not settings_path.exists():
        rep.error(
            "SETTINGS-MISSING",
            f"{SETTINGS_FILE} is missing: it says which structs go to which output",
            Location(display_path(settings_path)),
        )
    else:
        files = [*files, settings_path]
    unsafe_name(schema_dir.resolve(), rep, "schema directory", display_path(schema_dir))
    for path in files:
        # generated banners name files relative to the schema dir's parent,
        # so output does not depend on the cwd or on absolute paths
        sources.append(f"{schema_dir.resolve().name}/{path.name}")
        unsafe_name(path, rep)
        doc = read(path, rep)
        if doc is None:
            continue
        if path.name == SETTINGS_FILE:
            entries.append(_typed("settings", shapes.SettingsSpec, doc.data, doc, (), rep))
        else:
            entries.extend(_class_file(doc, rep))
    incomplete = any(
        d.rule in ("TOML-SYNTAX", "READ-ERROR", "NO-SCHEMA")
        or d.message.startswith("unknown top-level")
        or (d.rule == "BAD-VALUE" and "array of tables" in d.message)
        for d in rep.errors[errors_before:]
    )
    return Loaded(
        entries, sorted(sources), schema_dir, incomplete, profile_releases(schema_dir, rep)
    )


def unsafe_name(path: Path, rep: Reporter, what: str = "file", shown: str = "") -> None:
    """Report a name the generated banners could not carry: not UTF-8, or a control character.

    The file is still read, so its other errors are reported in the same run.
    """
    for ch in path.name:
        if 0xDC80 <= ord(ch) <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8
            why = f"is not UTF-8 (byte 0x{ord(ch) - 0xDC00:02X})"
        elif chars.is_unsafe(ch):
            why = f"holds the control character {chars.escape(ch)} (U+{ord(ch):04X})"
        else:
            continue
        rep.error(
            "FILE-NAME",
            f"the {what} name {why}: the generated files name it in their banners; rename it",
            Location(shown or display_path(path)),
        )
        return


def read(path: Path, rep: Reporter) -> toml_source.Document | None:
    """A TOML file with positions, or None after reporting why it cannot be read."""
    shown = display_path(path)
    try:
        return toml_source.load(path, shown)
    except toml_source.TomlSyntaxError as exc:
        rep.error("TOML-SYNTAX", f"invalid TOML: {exc.message}", exc.loc)
    except OSError as exc:
        rep.error("READ-ERROR", exc.strerror or str(exc), Location(shown))
    return None


def profile_releases(schema_dir: Path, rep: Reporter) -> list:
    """The release each profile names: the docs show which fields each release has.

    Only [profile] release is read here; the simulator checks the rest of a
    profile when it loads one.
    """
    from codegen.abi.release import Release
    from codegen.spec.model import ModuleRelease

    out = []
    for path in sorted((schema_dir / PROFILE_DIR).glob("*.toml")):
        unsafe_name(path, rep)
        doc = read(path, rep)
        if doc is None:
            continue
        table = doc.data.get("profile")
        raw = table.get("release") if isinstance(table, dict) else None
        if not isinstance(raw, str):
            rep.error(
                "PROFILE-RELEASE",
                'a profile names its module release as a string: [profile] release = "1.5.01"',
                doc.loc(("profile", "release")),
            )
            continue
        try:
            release = Release.parse(raw)
        except ValueError as exc:
            rep.error("PROFILE-RELEASE", str(exc), doc.loc(("profile", "release")))
            continue
        out.append(
            ModuleRelease(
                path.stem, release, f"{schema_dir.resolve().name}/{PROFILE_DIR}/{path.name}"
            )
        )
    return out


_TABLES = {"class": shapes.ClassSpec, "struct": shapes.StructSpec, "field": shapes.FieldSpec}


def _class_file(doc: toml_source.Document, rep: Reporter) -> list[Entry]:
    if not doc.data:  # empty or comments only: a save cut short reads like this
        rep.warning(
            "FILE-EMPTY",
            "the file declares no [class], [[struct]] or [[field]]: it adds nothing to the schema",
            doc.loc(),
        )
    out = []
    for key, value in doc.data.items():
        if key not in _TABLES:
            rep.error(
                "UNKNOWN-KEY",
                f"unknown top-level table '{key}' (expected [class], [[struct]] and [[field]])",
                doc.loc((key,), key=True),
            )
            continue
        model = _TABLES[key]
        if key == "class":
            if not isinstance(value, dict):
                rep.error("BAD-VALUE", "'class' must be a table: [class]", doc.loc((key,)))
                continue
            out.append(_typed(key, model, value, doc, (key,), rep))
            continue
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            rep.error(
                "BAD-VALUE", f"'{key}' must be an array of tables: [[{key}]]", doc.loc((key,))
            )
            continue
        for i, table in enumerate(value):
            out.append(_typed(key, model, table, doc, (key, i), rep))
    return out


def _typed(kind, model, data, doc, path, rep: Reporter) -> Entry:
    spec, errors = shapes.validate(model, data)
    for rule, message, keys, error_type in shapes.problems(errors, model):
        if error_type == "missing":
            loc = doc.loc(path, key=True)  # the table header
        else:
            loc = doc.loc(path + keys, key=error_type == "extra_forbidden")
        rep.error(rule, message, loc)
    return Entry(kind, spec, data, doc, path)


def compile_schema(schema_dir: Path) -> tuple[Catalogue | None, Reporter]:
    """Load and check a schema directory: (Catalogue or None, reporter)."""
    from codegen.spec import rules

    rep = Reporter()
    loaded = load(Path(schema_dir), rep)
    catalogue = rules.check(loaded, rep)
    if rep.errors:
        return None, rep
    return catalogue, rep


def compile_or_raise(schema_dir: Path):
    catalogue, rep = compile_schema(schema_dir)
    if catalogue is None:
        raise CompileError(rep.sorted())
    return catalogue
