"""What the command modules share: exit codes, common arguments, loading the schema, reports.

Every command module (build, inspect, sim, evolve, kernel) imports this one and
no other command module.  Heavy modules (pydantic, jinja2, emitters, simulator)
are imported inside the functions that need them, so every verb starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
FLAVORS = ("map", "functions")


class UsageError(Exception):
    """Bad command-line input: reported without a traceback, exit 2."""


class InputError(Exception):
    """Input that cannot be used (a kernel tree that defines clashing names): exit 1."""


def fill_project_defaults(args) -> None:
    """Set args.project, and the --schema / --out the command line left out, from the project.

    The project is found from the current directory upward (codegen.project);
    outside one, a verb that needs a default stops with a usage error saying
    what was looked for.  Paths given on the command line are the cwd's.
    """
    from codegen import project

    wanted = [k for k in ("schema", "out") if hasattr(args, k) and getattr(args, k) is None]
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


def add_format_arg(p: argparse.ArgumentParser, github: bool = False) -> None:
    choices = ("text", "json", "github") if github else ("text", "json")
    p.add_argument(
        "--format",
        choices=choices,
        default="text",
        help="output format (default: text)"
        + (
            "; github: GitHub Actions annotations (::error file=...,line=...::) on "
            "stdout, the text on stderr"
            if github
            else ""
        ),
    )


def add_flavor_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--c-flavor",
        choices=FLAVORS,
        help="kernel C flavour (default: [kernel].flavor of settings.toml)",
    )


def add_kernel_tree_arg(p: argparse.ArgumentParser, required: bool, help: str) -> None:
    p.add_argument("--kernel-tree", type=Path, required=required, metavar="PATH", help=help)


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


def rendered(diags) -> tuple[str, str, bool, str]:
    """Diagnostics as (text, JSON, failed, annotations): what report() prints, as plain strings."""
    from codegen.annotations import diagnostics
    from codegen.spec.diagnostics import format_json, format_text, summary

    text = format_text(diags) + f"{summary(diags)}\n" if diags else ""
    return (text, format_json(diags), any(d.severity == "error" for d in diags), diagnostics(diags))


def report(args, diags) -> None:
    show(args, rendered(diags))


def show(args, shown: tuple[str, str, bool]) -> None:
    """Print rendered diagnostics: JSON on stdout with --format json, else text on stderr
    (and with --format github, annotations on stdout)."""
    text, as_json, failed, annotations = shown
    if getattr(args, "format", "text") == "json":
        if failed or getattr(args, "json_always", False):
            sys.stdout.write(as_json)
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
    if getattr(args, "format", "text") != "json":
        print(text, file=sys.stderr)


def annotate(args, level: str, message: str, file: str = "", line: int = 0) -> None:
    """A GitHub annotation on stdout, with --format github only."""
    if getattr(args, "format", "text") == "github":
        from codegen.annotations import command

        sys.stdout.write(command(level, message, file, line))


def shown_path(path: Path) -> str:
    from codegen.paths import display_path

    return display_path(path)


def report_hand_edits(edited, root_shown: str) -> None:
    for out in edited:
        print(
            f"tdx-codegen: error: {root_shown}/{out.path} was edited by hand (its content hash "
            "does not match); not overwritten. Move the change into the schema, or run with "
            "--force to discard it.",
            file=sys.stderr,
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
    for out in plan.create + plan.update + plan.edited:
        target = plan.root / out.path
        if os.path.lexists(target) and (target.is_symlink() or not target.is_file()):
            raise UsageError(
                f"{target} is not a regular file (a directory, a symlink or a "
                "device): tdx-codegen will not replace it"
            )
    return plan


def build_kernel_tree(args, catalogue, flavor: str) -> int:
    """build --kernel-tree PATH: write the kernel outputs in place."""
    from codegen.outputs import writer

    plan = tree_plan(args, catalogue, flavor)
    report = build_report(plan)
    if args.check or args.diff:
        if args.diff:
            sys.stdout.write(writer.diff(plan))
        report["would_change"] = [o.path for o in plan.changes]
        for out in plan.changes:
            say(args, f"{plan.root / out.path}: out of date")
        status = EXIT_INVALID if plan.changes else EXIT_OK
    else:
        try:
            report["written"] = writer.apply(plan, force=args.force)
        except OSError as exc:
            print(
                f"tdx-codegen: error: cannot write into {plan.root}: {exc.strerror or exc}"
                f"{f' ({exc.filename})' if exc.filename else ''}; no file was changed",
                file=sys.stderr,
            )
            return EXIT_INVALID
        for rel in report["written"]:
            say(args, f"wrote {plan.root / rel}")
        if not report["written"] and not plan.edited:
            say(args, f"{len(plan.unchanged)} kernel files in {plan.root} up to date")
        status = EXIT_INVALID if plan.edited and not args.force else EXIT_OK
    if plan.edited and not args.force:
        report_hand_edits(plan.edited, str(plan.root))
    if args.format == "json":
        print(json.dumps(report, indent=2))
    return status


def tree_catalogue(args):
    catalogue = load_catalogue(args)
    if catalogue is None:
        return None, None
    return catalogue, args.c_flavor or catalogue.settings.kernel.flavor
