"""What the command modules share: exit codes, common arguments, loading the schema, reports.

Every command module (build, inspect, sim, evolve, kernel) imports this one and
no other command module.  Heavy modules (pydantic, jinja2, emitters, simulator)
are imported inside the functions that need them, so every verb starts fast.

Over 400 lines on purpose: by the rule above, whatever two command modules
both need lives here (the convention of docs/cli.md, ids given by name,
loading and reporting the schema, kernel trees), in the sections below.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from codegen import chars

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
FLAVORS = ("map", "functions")


class UsageError(Exception):
    """Bad command-line input: reported without a traceback, exit 2."""


class InputError(Exception):
    """Input that cannot be used (a kernel tree that defines clashing names): exit 1."""


# -- the convention every verb follows (docs/cli.md) ---------------------------
#
# --help: a description and an example: block (add_command).  Data on stdout,
# status on stderr (say).  With --format json, stdout is exactly one object,
# the envelope {"verb", "ok", "diagnostics", ...the verb's keys}, in success and
# in failure; what went wrong is in "diagnostics", never only on stderr.

# Rules of the problems the command line itself reports (the schema's rules are
# codegen.spec.rules.REGISTRY); each is a "rule" of an envelope's diagnostics.
CLI_RULES = {
    "USAGE": "a usage error (exit 2): a bad option value, a missing project or file",
    "INPUT": "input that cannot be used (exit 1), such as a kernel tree with clashing names",
    "INTERNAL": "a bug in tdx-codegen (exit 3)",
    "OUT-OF-DATE": "a generated file that does not match the schema (--check, --diff, diff)",
    "HAND-EDITED": "a generated file edited by hand since tdx-codegen wrote it",
    "WRITE-ERROR": "a file that could not be written (nothing was changed)",
    "NO-FIELD": "explain: no field of the schema holds the id",
    "SEAMCALL-ERROR": "sim: a TDH.SYS.RD or TDH.SYS.RDALL answered an error status",
    "FAIL-ON": "compat: a change at or above --fail-on",
    "UNEXPLAINED": "reconcile: a difference from Intel's JSON that no override explains",
    "INTEL-JSON": "import-json, reconcile: the file is not usable as Intel's JSON",
    "ADOPT": "adopt: something of the tree the settings cannot say",
}


def add_command(sub, name: str, *, help: str, description: str, examples, verb=None, **kw):
    """A subcommand whose --help has a description and ends with an example: block.

    verb: the envelope's "verb" (default name; "sim rd" for sim's rd).
    """
    p = sub.add_parser(
        name,
        help=help,
        description=description.rstrip(),
        epilog="example:\n" + "".join(f"  {e}\n" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kw,
    )
    p.set_defaults(verb=verb or name)
    return p


class Envelope:
    """What a verb run with --format json prints: filled as it runs, printed once by main."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.diagnostics: list[dict] = []
        self.data: dict = {}

    def text(self, status: int) -> str:
        whole = {"verb": self.verb, "ok": status == EXIT_OK, "diagnostics": self.diagnostics}
        return json.dumps({**whole, **self.data}, indent=2) + "\n"


def json_mode(args) -> bool:
    return getattr(args, "envelope", None) is not None


def emit(args, **keys) -> bool:
    """Add the verb's keys to the envelope; True with --format json (the caller prints no text)."""
    if json_mode(args):
        args.envelope.data.update(keys)
        return True
    return False


def problem(
    args,
    rule: str,
    message: str,
    *,
    severity: str = "error",
    file: str = "",
    line: int = 0,
    col: int = 0,
    text: str | None = None,
) -> None:
    """A problem of the run: a diagnostic in the envelope with --format json, else on stderr
    (text, by default 'tdx-codegen: SEVERITY: MESSAGE'; severity "note" is a warning in JSON)."""
    assert rule in CLI_RULES, rule
    if json_mode(args):
        args.envelope.diagnostics.append(
            {
                "severity": "error" if severity == "error" else "warning",
                "rule": rule,
                "message": message,
                "file": file,
                "line": line,
                "col": col,
                "notes": [],
            }
        )
    else:
        # what the user typed (a profile name, a --set field) may hold an escape sequence
        shown = f"tdx-codegen: {severity}: {message}" if text is None else text
        print("\n".join(map(chars.escape, shown.split("\n"))), file=sys.stderr)


def fill_project_defaults(args) -> None:
    """Set args.project, and the --schema / --out the command line left out, from the project.

    The project is found from the current directory upward (codegen.project);
    outside one, a verb that needs a default stops with a usage error saying
    what was looked for.  Paths given on the command line are the cwd's.
    """
    from codegen import project

    wanted = [k for k in ("schema", "out") if hasattr(args, k) and getattr(args, k) is None]
    if getattr(args, "kernel_tree", None) is not None and "out" in wanted:
        wanted.remove("out")  # build --kernel-tree writes into the tree, not to out
    try:
        args.project = project.find()
    except project.ProjectError as exc:
        args.project = None
        if wanted:
            raise UsageError(str(exc)) from None
    for key in wanted:
        setattr(args, key, getattr(args.project, key))


def add_schema_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--schema",
        type=Path,
        metavar="DIR",
        help="schema directory (default: the project's, found from the current directory upward)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="validate and generate afresh, ignoring the result cache",
    )


def add_format_arg(
    p: argparse.ArgumentParser, github: bool = False, extra=(), help: str | None = None
) -> None:
    """--format text|json[|github|extra...]: json is the envelope (docs/cli.md)."""
    choices = ("text", "json", *(("github",) if github else ()), *extra)
    p.add_argument(
        "--format",
        choices=choices,
        default="text",
        help=help
        or "output format (default: text); json: one JSON object on stdout (docs/cli.md)"
        + (
            "; github: GitHub Actions annotations (::error file=...,line=...::) on "
            "stdout, the text on stderr"
            if github
            else ""
        ),
    )
    p.set_defaults(envelope_verb=True)


def add_flavor_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--c-flavor",
        choices=FLAVORS,
        help="kernel C flavour (default: [kernel].flavor of settings.toml)",
    )


def add_kernel_tree_arg(p: argparse.ArgumentParser, required: bool, help: str) -> None:
    p.add_argument("--kernel-tree", type=Path, required=required, metavar="PATH", help=help)


# file:line:col: message, file:line: message or file: message
_WHERE = re.compile(r"([^\s:][^:]*?):(?:(\d+):(?:(\d+):)?)? (.*)\Z", re.S)


def problem_line(args, rule: str, text: str, severity: str = "error") -> None:
    """A problem a module gives as 'file:line:col: message' text: that line on stderr, or a
    diagnostic with its file, line and column."""
    m = _WHERE.match(text)
    file, line, col, message = m.groups() if m else ("", 0, 0, text)
    problem(
        args,
        rule,
        message,
        severity=severity,
        file=file,
        line=int(line or 0),
        col=int(col or 0),
        text=text,
    )


# -- field ids given by number or by name -------------------------------------

# A field name, optionally with an element index: MAX_TDMRS, CMR_BASE[3], CPUID_CONFIG_VALUES[1][0]
_FIELD_REF = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9]+)\](?:\[([0-9]+)\])?)?\Z")


def is_field_name(text: str) -> bool:
    return _FIELD_REF.match(text.strip()) is not None


def parse_id(text: str, what: str | None = None) -> int | None:
    """The id text gives as a number (None for a field name, resolved by field_id); UsageError
    ('cannot WHAT ...: ' first when what is given) when it is neither."""
    return None if is_field_name(text) else _number(text, what)


def _number(text: str, what: str | None) -> int:
    from codegen.abi import fieldid

    try:
        return fieldid.parse(text)
    except ValueError as exc:
        raise UsageError(
            (f"cannot {what} '{chars.escape(text)}': " if what else "") + str(exc)
        ) from None


def field_id(text: str, catalogue, what: str = "read") -> int:
    """The id of TEXT: a number (0x..., -1), a field name (its base id) or NAME[i] /
    NAME[i][j] (that element's id); UsageError 'cannot WHAT ...' otherwise.  Every verb that
    takes an id takes a name this way."""
    import difflib

    m = _FIELD_REF.match(text.strip())
    if m is None:
        return _number(text, None)
    name, index, element = m.groups()
    try:
        f = catalogue.field(name)
    except KeyError:
        close = difflib.get_close_matches(name, [f.name for f in catalogue.fields], 1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(
            f"cannot {what} '{text}': no field named {name} in the schema{hint}; "
            "ids are written as 0x followed by hex digits"
        ) from None
    i, j = int(index or 0), int(element or 0)
    if i >= f.num_fields or j >= f.num_elements:
        raise UsageError(
            f"cannot {what} '{text}': {name} has {f.num_fields} field(s) of "
            f"{f.num_elements} element(s)"
        )
    return f.element_id(i, j)


def profile_path(spec: str, schema_dir: Path) -> Path:
    """The file of a profile given by name or path ('-': standard input); UsageError if none."""
    from codegen.sim import profile

    path = profile.resolve(spec, schema_dir)
    if str(path) != "-" and not path.exists():
        names = ", ".join(profile.profile_names(schema_dir)) or "none"
        raise UsageError(
            f"no profile '{spec}' ({shown_path(path)} does not exist; profiles: {names})"
        )
    return path


# -- schema loading shared by the verbs --------------------------------------


def compile_cached(schema_dir: Path, use_cache: bool = True):
    """(Catalogue or None, sorted diagnostics), from the cache when the inputs are unchanged."""
    from codegen.outputs import cache

    digest = cache.key("compile", schema_dir) if use_cache and cache.enabled() else None
    hit = cache.load(digest) if digest else None
    if hit is not None:
        return hit
    from codegen.spec.compiler import compile_schema

    catalogue, rep = compile_schema(schema_dir)
    result = (catalogue, rep.sorted())
    if digest:
        cache.store(digest, result)
    return result


def rendered(diags) -> tuple[str, list[dict], bool, str]:
    """Diagnostics as (text, JSON records, failed, annotations): what report() shows."""
    from codegen.annotations import diagnostics
    from codegen.spec.diagnostics import format_text, records, summary

    text = format_text(diags) + f"{summary(diags)}\n" if diags else ""
    return (text, records(diags), any(d.severity == "error" for d in diags), diagnostics(diags))


def report(args, diags) -> None:
    show(args, rendered(diags))


def show(args, shown: tuple[str, list[dict], bool, str]) -> None:
    """Show rendered diagnostics: into the envelope with --format json, else text on stderr
    (and with --format github, annotations on stdout)."""
    text, as_json, _failed, annotations = shown
    if json_mode(args):
        args.envelope.diagnostics.extend(as_json)
    else:
        sys.stderr.write(text)
        if getattr(args, "format", "text") == "github":
            sys.stdout.write(annotations)


def load_catalogue(args):
    """Compile args.schema; print diagnostics; return the Catalogue or None."""
    catalogue, diags = compile_cached(args.schema, not getattr(args, "no_cache", False))
    report(args, diags)
    return catalogue


def emit_cached(args):
    """Generated outputs for args (None when the schema is invalid); cached by input bytes."""
    from codegen.outputs import cache

    use = not args.no_cache and cache.enabled()
    digest = cache.key("emit", args.schema, args.c_flavor or "") if use else None
    hit = cache.load(digest) if digest else None
    if hit is not None:  # no pydantic, jinja2 or emitter import on this path
        shown, outputs = hit
        show(args, shown)
        return outputs
    catalogue, diags = compile_cached(args.schema, use)
    shown = rendered(diags)
    show(args, shown)
    outputs = None
    if catalogue is not None:
        from codegen.emitters import EmitContext, emit_all

        flavor = args.c_flavor or catalogue.settings.kernel.flavor
        outputs = emit_all(EmitContext(catalogue, flavor))
    if digest:
        cache.store(digest, (shown, outputs))
    return outputs


def say(args, text: str) -> None:
    """A status line: on stderr (stdout is for data), not with --format json."""
    if not json_mode(args):  # a path in it may hold an escape sequence
        print("\n".join(map(chars.escape, text.split("\n"))), file=sys.stderr)


def annotate(args, level: str, message: str, file: str = "", line: int = 0) -> None:
    """A GitHub annotation on stdout, with --format github only."""
    if getattr(args, "format", "text") == "github":
        from codegen.annotations import command

        sys.stdout.write(command(level, message, file, line))


def shown_path(path: Path) -> str:
    from codegen.paths import display_path

    return display_path(path)


def report_hand_edits(args, edited, root_shown: str) -> None:
    for out in edited:
        problem(
            args,
            "HAND-EDITED",
            f"{root_shown}/{out.path} was edited by hand (its content hash "
            "does not match); not overwritten. Move the change into the schema, or run with "
            "--force to discard it.",
            file=f"{root_shown}/{out.path}",
        )


def build_report(plan, written=()) -> dict:
    """The JSON report of build, the same with or without --kernel-tree."""
    return {
        "written": list(written),
        "unchanged": [o.path for o in plan.unchanged],
        "hand_edited": [o.path for o in plan.edited],
        "stale": list(plan.stale),
        "would_change": [],
    }


# -- kernel trees, shared by build --kernel-tree, diff and patch -----------------


def tree_plan(args, catalogue, flavor):
    from codegen.evolve import kernel_tree

    try:
        kernel_tree.check_tree(args.kernel_tree)
        plan = kernel_tree.plan(
            args.kernel_tree, kernel_tree.kernel_outputs(catalogue, flavor, args.kernel_tree)
        )
    except kernel_tree.TreeError as exc:
        raise UsageError(str(exc)) from None
    except kernel_tree.TreeConflict as exc:
        raise InputError(str(exc)) from None
    from codegen.paths import file_kind

    for out in plan.create + plan.update + plan.edited:
        target = plan.root / out.path
        if kind := file_kind(target):
            raise UsageError(
                f"{target} is {kind}, not a regular file: tdx-codegen will not replace it"
            )
    return plan


def build_kernel_tree(args, catalogue, flavor: str) -> int:
    """build --kernel-tree PATH: write the kernel outputs in place."""
    from codegen.outputs import writer

    plan = tree_plan(args, catalogue, flavor)
    report = build_report(plan)
    emit(args, **report)
    if args.check or args.diff:
        if args.diff and not emit(args, diff=(text := writer.diff(plan))):
            sys.stdout.write(text)
        report["would_change"] = [o.path for o in plan.changes]
        for out in plan.changes:
            stale(args, f"{plan.root / out.path}")
        status = EXIT_INVALID if plan.changes else EXIT_OK
    else:
        try:
            report["written"] = writer.apply(plan, force=args.force)
        except OSError as exc:
            problem(
                args,
                "WRITE-ERROR",
                f"cannot write into {plan.root}: {exc.strerror or exc}"
                f"{f' ({exc.filename})' if exc.filename else ''}; no file was changed",
                file=str(plan.root),
            )
            return EXIT_INVALID
        for rel in report["written"]:
            say(args, f"wrote {plan.root / rel}")
        if not report["written"] and not plan.edited:
            say(args, f"{len(plan.unchanged)} kernel files in {plan.root} up to date")
        status = EXIT_INVALID if plan.edited and not args.force else EXIT_OK
    if plan.edited and not args.force:
        report_hand_edits(args, plan.edited, str(plan.root))
    emit(args, **report)
    return status


def stale(args, shown: str) -> None:
    """A generated file that would change: a status line, or a diagnostic with --format json."""
    if json_mode(args):
        problem(args, "OUT-OF-DATE", f"{shown}: out of date", file=shown)
    else:
        say(args, f"{shown}: out of date")


def tree_catalogue(args):
    catalogue = load_catalogue(args)
    if catalogue is None:
        return None, None
    return catalogue, args.c_flavor or catalogue.settings.kernel.flavor
