"""Verbs for evolving the schema: compat, release-diff, import-json and reconcile.

Everything heavy is imported inside the commands.  Exit status as elsewhere:
0 ok, 1 a finding (a break at or above --fail-on, an unexplained
difference, a change in the tree, a hand-edited file, invalid input), 2
usage error.

About 400 lines: four verbs, and the inputs they share: a schema given as
a directory or a git revision (extracted with git archive), a profile, and
Intel's JSON, each named in messages as the user gave it.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from codegen.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    add_command,
    add_format_arg,
    add_schema_arg,
    emit,
    json_mode,
    load_catalogue,
    problem,
    problem_line,
    profile_path,
    report,
)

COMPAT_HELP = """\
Compare two schemas and report every change, strictest category first:
  MODULE_ABI  a field's id, element size, number of fields or elements per
              field changed, or a field disappeared (almost always a bug)
  KERNEL_API  a struct or member renamed, retyped, narrowed, moved, reordered
              or removed, a capacity shrunk, a gate added, a bit renamed or
              removed, a field or struct dropped from an output
  ADDITIVE    new fields, structs, classes and bits; grown capacities
OLD and NEW are schema directories or git revisions (HEAD~1, main)."""


RELEASE_DIFF_HELP = """\
Compare what modules of two releases answer: the fields B has and A lacks
(added), those A has and B lacks (removed), and the fields whose values
differ (changed).  A and B are profiles of the schema (1.5.06, 2.0.08, ...) or
profile files; the releases need not be on one release line."""


# The verbs register() adds: main() builds the parsers of one module, the verb's.
VERBS = ("compat", "release-diff", "import-json", "reconcile")


def register(sub) -> None:
    p = add_command(
        sub,
        "compat",
        help="compare two schemas and sort the changes by how much they break",
        description=COMPAT_HELP,
        examples=[
            "tdx-codegen compat HEAD~1 HEAD",
            "tdx-codegen compat main schema --fail-on KERNEL_API --format json",
        ],
    )
    p.add_argument("old", metavar="OLD", help="schema directory or git revision (e.g. HEAD~1)")
    p.add_argument("new", metavar="NEW", help="schema directory or git revision (e.g. main)")
    p.add_argument(
        "--fail-on",
        default="MODULE_ABI",
        metavar="CAT",
        choices=("MODULE_ABI", "KERNEL_API", "ADDITIVE"),
        help="exit 1 when a change of this category or a stricter one is found: "
        "MODULE_ABI (default), KERNEL_API or ADDITIVE",
    )
    add_format_arg(
        p,
        github=True,
        help="output format (default: text); json: one JSON object on stdout (docs/cli.md); "
        "github: a GitHub Actions annotation per change (error at or above --fail-on, else "
        "notice) on stdout, the text on stderr",
    )
    p.add_argument(
        "--repo",
        type=Path,
        metavar="DIR",
        help="git repository revisions are read from (default: the project's)",
    )
    p.set_defaults(func=cmd_compat)

    p = add_command(
        sub,
        "release-diff",
        help="compare two module releases (profiles): fields added, removed, and values changed",
        description=RELEASE_DIFF_HELP,
        examples=[
            "tdx-codegen release-diff 1.5.06 2.0.08",
            "tdx-codegen release-diff 2.0.08 2.0.18 --format json",
        ],
    )
    p.add_argument(
        "old", metavar="A", help="profile name (schema/profiles/NAME.toml) or file (-: stdin)"
    )
    p.add_argument("new", metavar="B", help="profile name or file (-: stdin)")
    add_schema_arg(p)
    add_format_arg(p)
    p.set_defaults(func=cmd_release_diff)

    p = add_command(
        sub,
        "import-json",
        help="read Intel's global metadata JSON",
        description="Read one release of Intel's global_metadata.json, check it, and print "
        "its fields: as a\ntable, as normalised records (json), or as [[field]] tables of "
        "the fields the schema\nlacks (toml), ready to paste into schema/.",
        examples=[
            "tdx-codegen import-json global_metadata.json",
            "tdx-codegen import-json global_metadata.json --format toml",
            "curl -s URL | tdx-codegen import-json - --format json",
        ],
    )
    p.add_argument("file", type=Path, metavar="FILE", help="global_metadata.json; - reads stdin")
    add_schema_arg(p)
    add_format_arg(
        p,
        extra=("toml",),
        help="text: a table; json: normalised records, in one JSON object (docs/cli.md); "
        "toml: [[field]] tables for the fields the schema lacks",
    )
    p.set_defaults(func=cmd_import_json)

    p = add_command(
        sub,
        "reconcile",
        help="report field by field where the schema and one release of Intel's JSON differ",
        description="Compare the schema with one release of Intel's global_metadata.json, "
        "field by field.\nA difference an override of the schema explains is reported as "
        "such; exit 1 when\nany is unexplained.",
        examples=[
            "tdx-codegen reconcile global_metadata.json",
            "tdx-codegen reconcile - --format json < global_metadata.json",
        ],
    )
    p.add_argument("file", type=Path, metavar="FILE", help="global_metadata.json; - reads stdin")
    add_schema_arg(p)
    add_format_arg(p)
    p.set_defaults(func=cmd_reconcile)


# -- compat --------------------------------------------------------------------


def cmd_compat(args) -> int:
    import tempfile

    from codegen.evolve import compat

    with tempfile.TemporaryDirectory(prefix="tdx-codegen-compat-") as tmp:
        sides = [
            _load_side(spec, args, Path(tmp) / str(i), what)
            for i, (spec, what) in enumerate(((args.old, "OLD"), (args.new, "NEW")))
        ]
    if any(cat is None for cat, _ in sides):
        return EXIT_INVALID
    (old, old_label), (new, new_label) = sides
    changes = compat.compare(old, new, old_label, new_label)
    failing = any(compat.at_or_above(c.category, args.fail_on) for c in changes)
    if emit(
        args,
        old=args.old,
        new=args.new,
        fail_on=args.fail_on,
        failed=failing,
        counts={c: sum(x.category == c for x in changes) for c in compat.CATEGORIES},
        changes=[c.to_dict() for c in changes],
    ):
        if failing:
            at = sum(compat.at_or_above(c.category, args.fail_on) for c in changes)
            problem(args, "FAIL-ON", f"{at} change(s) at or above {args.fail_on}")
    elif args.format == "github":
        from codegen.annotations import command, location

        sys.stderr.write(compat.format_text(changes, args.old, args.new, args.fail_on))
        for c in changes:
            file, line = location(c.new or c.old)
            level = "error" if compat.at_or_above(c.category, args.fail_on) else "notice"
            sys.stdout.write(command(level, c.message, file, line, title=c.category))
    else:
        sys.stdout.write(compat.format_text(changes, args.old, args.new, args.fail_on))
    return EXIT_INVALID if failing else EXIT_OK


# -- release-diff ----------------------------------------------------------------


def cmd_release_diff(args) -> int:
    from codegen.evolve import compat
    from codegen.sim import profile

    if args.old == args.new == "-":
        raise UsageError("only one of A and B can be - (standard input)")
    paths = [profile_path(spec, args.schema) for spec in (args.old, args.new)]
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    try:
        a, b = (profile.load_profile(path, catalogue) for path in paths)
    except profile.ProfileError as exc:
        report(args, exc.diagnostics)
        return EXIT_INVALID
    changes = compat.release_diff(a, b)
    if not emit(
        args,
        a=a.name,
        b=b.name,
        releases=[str(m.release) for m in (a, b)],
        counts={k: sum(c.kind == k for c in changes) for k in compat.RELEASE_KINDS},
        changes=[c.to_dict() for c in changes],
    ):
        sys.stdout.write(compat.format_release_diff(changes, a.name, b.name))
    return EXIT_OK


def _revision_schema(args) -> tuple[Path, str]:
    """(git repository, the schema's path inside it) that revisions are read from.

    The repository is --repo, else the one holding the project; the schema is
    the project's, at the same place in every revision (schema/ in a
    repository the project is not part of).
    """
    project = args.project
    if args.repo is None and project is None:
        from codegen.project import ProjectError, find

        try:
            find()
        except ProjectError as exc:  # says what was looked for
            raise UsageError(str(exc)) from None
    repo = args.repo if args.repo is not None else project.root
    top = _git(repo, "rev-parse", "--show-toplevel")
    if top is None:
        raise UsageError(
            f"{repo} is not in a git repository: give OLD and NEW as schema "
            "directories, or --repo DIR"
        )
    top = Path(top.strip())
    inside = "schema"
    if project is not None:
        with contextlib.suppress(ValueError):  # outside the repository: schema/
            inside = project.schema.resolve().relative_to(top.resolve()).as_posix()
    return top, inside


def _load_side(spec: str, args, dest: Path, what: str):
    """(Catalogue or None, location label) for a schema directory or a git revision."""
    from codegen.spec.compiler import compile_schema

    # a file is neither a schema nor (unless git says so) a revision: said as such, rather
    # than as a missing revision or a missing repository
    not_a_directory = UsageError(
        f"{what} '{spec}' is a file, not a schema directory: give OLD and NEW as schema "
        "directories or git revisions"
    )
    if Path(spec).is_dir():
        catalogue, rep = compile_schema(Path(spec))
        label = ""
    else:
        try:
            repo, inside = _revision_schema(args)
        except UsageError:
            if Path(spec).exists():
                raise not_a_directory from None
            raise
        rev = _git(repo, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}")
        if rev is None and Path(spec).exists():
            raise not_a_directory
        if rev is None:
            raise UsageError(
                f"{what} '{spec}' is neither a schema directory nor a git revision of {repo}"
            )
        archive = _git(repo, "archive", "--format=tar", rev.strip(), f"{inside}/", text=False)
        if archive is None:
            raise UsageError(f"{what} revision '{spec}' has no {inside}/ directory")
        dest.mkdir(parents=True)
        for name in _extract(archive, dest):
            problem(
                args,
                "INPUT",
                f"{spec}:{name} is a symlink or special file in the revision; compat does not "
                "follow it",
                severity="warning",
                file=f"{spec}:{name}",
            )
        with contextlib.chdir(dest):  # locations read schema/..., shown as REV:schema/...
            catalogue, rep = compile_schema(Path(inside))
        label = f"{spec}:"
    if catalogue is None:
        _print_diagnostics(args, rep.sorted(), label)
        problem(args, "INPUT", f"{what} ({spec}) is not a valid schema")
    return catalogue, label


def _extract(archive: bytes, dest: Path) -> list[str]:
    """Unpack git archive's tar: directories and regular files only, never outside dest.

    Returns the members left out (symlinks and other special files), to be reported.

    By hand rather than extractall(filter="data"), which Python 3.11.0-3.11.3 lack.
    """
    import io
    import tarfile
    from pathlib import PurePosixPath

    skipped = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar:
            parts = PurePosixPath(member.name).parts
            if not parts or PurePosixPath(member.name).is_absolute() or ".." in parts:
                continue
            target = dest.joinpath(*parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                target.write_bytes(source.read() if source is not None else b"")
            else:
                skipped.append(member.name)
    return skipped


def _git(repo: Path, *argv: str, text: bool = True):
    import subprocess

    try:
        done = subprocess.run(["git", "-C", str(repo), *argv], capture_output=True, text=text)
    except OSError as exc:
        raise UsageError(f"cannot run git: {exc.strerror or exc}") from None
    return done.stdout if done.returncode == 0 else None


def _print_diagnostics(args, diags, label: str) -> None:
    """A revision's diagnostics, their files shown as REV:schema/...: text on stderr (never
    annotations: the files are not in the work tree), or in the envelope."""
    from dataclasses import replace

    from codegen.spec.diagnostics import format_text, summary

    def relabel(loc):
        return replace(loc, file=label + loc.file) if loc is not None else None

    diags = [
        replace(d, loc=relabel(d.loc), notes=tuple(replace(n, loc=relabel(n.loc)) for n in d.notes))
        for d in diags
    ]
    if json_mode(args):
        report(args, diags)
    else:
        sys.stderr.write(format_text(diags))
        sys.stderr.write(f"{summary(diags)}\n")


# -- Intel's JSON ------------------------------------------------------------------


def _load_json(args, path: Path):
    from codegen.evolve import intel_json
    from codegen.spec.diagnostics import display_path

    try:
        return intel_json.load(path, display_path(path))
    except intel_json.IntelJsonError as exc:
        for text in exc.problems:
            problem_line(args, "INTEL-JSON", text)
        problem(
            args,
            "INTEL-JSON",
            f"{display_path(path)} is not usable as Intel's global "
            f"metadata JSON ({len(exc.problems)} problem(s))",
            file=display_path(path),
        )
        return None


def cmd_import_json(args) -> int:
    from codegen.abi import fieldid
    from codegen.evolve import importer

    rel = _load_json(args, args.file)
    if rel is None:
        return EXIT_INVALID
    if emit(args, **importer.records(rel)):
        return EXIT_OK
    if args.format == "toml":
        catalogue = load_catalogue(args)
        if catalogue is None:
            return EXIT_INVALID
        sys.stdout.write(importer.toml_stubs(rel, catalogue))
        return EXIT_OK
    print(
        f"{rel.file}: {rel.info or 'no Info'}, release {rel.version or 'unknown'}, "
        f"{len(rel.fields)} fields"
    )
    for f in rel.fields:
        print(
            f"  {f.class_code:#04x}  {fieldid.canonical(f.id)}  {f.name:<36} {f.element_size}  "
            f"{f.num_fields}x{f.num_elements}"
        )
    return EXIT_OK


def cmd_reconcile(args) -> int:
    from codegen.evolve import reconcile

    rel = _load_json(args, args.file)
    if rel is None:
        return EXIT_INVALID
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    diffs = reconcile.reconcile(catalogue, rel)
    unused = reconcile.unused_overrides(catalogue, diffs, rel)
    unexplained = sum(not d.explained for d in diffs)
    if emit(
        args,
        json=rel.file,
        release=rel.version,
        unexplained=unexplained,
        unused_overrides=unused,
        differences=[d.to_dict() for d in diffs],
    ):
        if unexplained:
            problem(
                args,
                "UNEXPLAINED",
                f"{unexplained} difference(s) from {rel.file} that no override explains",
            )
    else:
        sys.stdout.write(reconcile.format_text(diffs, rel, catalogue))
        for line in unused:
            print(f"{line} (warning: remove it if this release is current)")
    return EXIT_INVALID if unexplained else EXIT_OK
