"""Finding the project a command works on, as git finds .git.

From the current directory upward, the first directory that holds either

- a project file, tdx-codegen.toml, naming its paths (every key optional):

      [paths]
      schema = "schema"        # the schema directory
      out = "generated"        # where build writes

- or the marker schema/settings.toml (schema/ and generated/ as above)

is the project root; relative paths of the project file are the root's.
Outside any project a command that needs one stops with ProjectNotFound,
which says what was looked for; tdx-codegen never falls back to where it
is installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

PROJECT_FILE = "tdx-codegen.toml"
MARKER = "schema/settings.toml"
DEFAULTS = {"schema": "schema", "out": "generated"}


class ProjectError(Exception):
    """No project, or an unusable project file: a usage error (exit 2)."""


class Project(NamedTuple):
    """Where a project is.  A named tuple, not a dataclass: a no-op build or --check (the
    pre-commit hook) would import dataclasses and inspect for it alone, a tenth of its time."""

    root: Path
    schema: Path
    out: Path
    file: Path | None = None  # the project file, when the project has one


def find(start: Path | None = None) -> Project:
    start = Path.cwd() if start is None else Path(start)
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / PROJECT_FILE).is_file():
            return load(directory / PROJECT_FILE)
        if (directory / MARKER).is_file():
            return Project(directory, directory / DEFAULTS["schema"], directory / DEFAULTS["out"])
    raise ProjectError(
        f"no tdx-codegen project in {start} or any parent directory (looked for "
        f"{PROJECT_FILE} or {MARKER}); run 'tdx-codegen init' to start one, "
        "use -C DIR to run in another directory, or give the paths (--schema, "
        "--out)"
    )


def load(path: Path) -> Project:
    # the schema's reader: a BOM, bytes that are not UTF-8 and syntax errors at a line and column
    from codegen.spec import toml_source

    root = path.parent
    try:
        doc = toml_source.load(path, str(path))
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}") from None
    except toml_source.TomlSyntaxError as exc:
        raise ProjectError(f"{exc.loc}: invalid TOML: {exc.message}") from None
    data = doc.data
    unknown = sorted(set(data) - {"paths"})
    paths = data.get("paths", {})
    if unknown or not isinstance(paths, dict):
        raise ProjectError(
            f"{path}: expected only a [paths] table (schema, out), "
            f"found {', '.join(unknown) or 'paths = ' + type(paths).__name__}"
        )
    bad = sorted(
        k for k, v in paths.items() if k not in DEFAULTS or not isinstance(v, str) or not v
    )
    if bad:
        raise ProjectError(
            f"{path}: [paths] takes schema and out, as non-empty strings (bad: {', '.join(bad)})"
        )
    resolved = {k: root / paths.get(k, v) for k, v in DEFAULTS.items()}
    clash = overlap(resolved["schema"], resolved["out"])
    if clash:
        given = "out" if "out" in paths else "schema"
        raise ProjectError(
            f"{doc.loc(('paths', given))}: [paths] out {paths.get('out', DEFAULTS['out'])!r} "
            f"{clash} {paths.get('schema', DEFAULTS['schema'])!r}: {APART}"
        )
    return Project(root, resolved["schema"], resolved["out"], path)


APART = "keep the generated files in a directory of their own"


def overlap(schema: Path, out: Path) -> str | None:
    """How out stands to the schema directory, or None when neither holds the other.

    The schema is what the user writes; out is what build owns (it writes,
    replaces and removes files there).  One inside the other mixes the two in
    every listing, diff and review, so it is refused before anything is read.
    """
    # realpath, not resolve(): a symlink loop is the compiler's to report, not a crash here
    schema, out = Path(os.path.realpath(schema)), Path(os.path.realpath(out))
    if out == schema:
        return "is the schema directory"
    if out.is_relative_to(schema):
        return "is inside the schema directory"
    if schema.is_relative_to(out):
        return "holds the schema directory"
    return None
