"""Verbs validate and build: check the schema, write the generated files."""

from __future__ import annotations

import sys
from pathlib import Path

from codegen.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    add_command,
    add_flavor_arg,
    add_format_arg,
    add_kernel_tree_arg,
    add_schema_arg,
    annotate,
    build_kernel_tree,
    build_report,
    emit,
    emit_cached,
    load_catalogue,
    problem,
    report_hand_edits,
    say,
    shown_path,
    stale,
)

# The verbs register() adds: main() builds the parsers of one module, the verb's.
VERBS = ("validate", "build", "init")


def register(sub) -> None:
    p = add_command(
        sub,
        "validate",
        help="check the schema and report every problem",
        description="Check the schema against every rule and report every problem, "
        "as file:line:col.\nWrites nothing; exit 1 when the schema has an error.",
        examples=["tdx-codegen validate", "tdx-codegen validate --schema schema --format json"],
    )
    add_schema_arg(p)
    add_format_arg(p, github=True)
    p.set_defaults(func=cmd_validate)

    p = add_command(
        sub,
        "build",
        help="validate, then write the generated files",
        description="Validate the schema, then write every generated file whose bytes "
        "change (all or\nnothing; a file edited by hand stops the build). --check and "
        "--diff write nothing\nand exit 1 when a file would change.",
        examples=[
            "tdx-codegen build",
            "tdx-codegen build --check",
            "tdx-codegen build --diff | git apply",
            "tdx-codegen build --kernel-tree ~/linux",
        ],
    )
    add_schema_arg(p)
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output directory (default: the project's generated/)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when any generated file would change",
    )
    p.add_argument(
        "--diff", action="store_true", help="print the unified diff of what would change"
    )
    p.add_argument("--force", action="store_true", help="overwrite files that were edited by hand")
    add_flavor_arg(p)
    add_kernel_tree_arg(
        p, False, "write only the kernel outputs, into this Linux checkout at their in-tree paths"
    )
    add_format_arg(p, github=True)
    p.set_defaults(func=cmd_build)

    p = add_command(
        sub,
        "init",
        help="start a project from the built-in catalogue",
        description="Copy the built-in catalogue (the shipped schema and profiles) to "
        "DIR/schema/, write\nDIR/.taplo.toml for editors, and build DIR/generated/.",
        examples=["tdx-codegen init", "tdx-codegen init my-project"],
    )
    p.add_argument(
        "dir",
        nargs="?",
        default=".",
        type=Path,
        metavar="DIR",
        help="the project's root (default: the current directory)",
    )
    add_format_arg(p)
    p.set_defaults(func=cmd_init)


def cmd_init(args) -> int:
    """Copy the built-in catalogue to DIR/schema, then build DIR/generated from it."""
    import argparse
    import shutil

    from codegen.paths import builtin_schema
    from codegen.project import PROJECT_FILE, Project

    root = args.dir
    for name in ("schema", PROJECT_FILE):
        if (root / name).exists():
            raise UsageError(
                f"{root / name} exists: {root} is already a project (nothing was changed)"
            )
    if root.exists() and not root.is_dir():
        raise UsageError(f"{shown_path(root)} is not a directory")
    source = builtin_schema()
    files = sorted(source.glob("*.toml")) + sorted(source.glob("profiles/*.toml"))
    try:
        for path in files:
            target = root / "schema" / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    except OSError as exc:
        problem(
            args,
            "WRITE-ERROR",
            f"cannot create {shown_path(root / 'schema')}: {exc.strerror or exc}",
            file=shown_path(root / "schema"),
        )
        return EXIT_INVALID
    from codegen.emitters.json_schema import TAPLO

    if not (root / ".taplo.toml").exists():  # editors: the JSON Schemas of schema/*.toml
        (root / ".taplo.toml").write_text(TAPLO, encoding="utf-8")
    created = shown_path(root / "schema")
    say(args, f"created {created}: {len(files)} files of the built-in catalogue")
    emit(args, created=created, files=len(files))
    root = root.resolve()
    project = Project(root, root / "schema", root / "generated")
    return cmd_build(
        argparse.Namespace(
            schema=project.schema,
            out=project.out,
            project=project,
            no_cache=False,
            c_flavor=None,
            kernel_tree=None,
            check=False,
            diff=False,
            force=False,
            format=args.format,
            envelope=getattr(args, "envelope", None),
        )
    )


def cmd_validate(args) -> int:
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    counts = {"fields": len(catalogue.fields), "structs": len(catalogue.structs)}
    if not emit(args, counts=counts):  # the verb's result, so on stdout
        print(f"{counts['fields']} fields in {counts['structs']} structs: schema is valid")
    return EXIT_OK


def cmd_build(args) -> int:
    from codegen.outputs import writer

    if args.kernel_tree is not None:
        default_out = args.project.out if args.project is not None else None
        if args.out is not None and (
            default_out is None or Path(args.out).absolute() != Path(default_out).absolute()
        ):
            raise UsageError(
                "--out and --kernel-tree do not go together: --kernel-tree writes "
                "only the kernel files, at their paths in the tree"
            )
        catalogue = load_catalogue(args)
        if catalogue is None:
            return EXIT_INVALID
        return build_kernel_tree(args, catalogue, args.c_flavor or catalogue.settings.kernel.flavor)
    from codegen import project

    clash = project.overlap(args.schema, args.out)
    if clash:
        raise UsageError(
            f"the output directory {shown_path(args.out)!r} {clash} {shown_path(args.schema)!r}: "
            f"{project.APART}"
        )
    outputs = emit_cached(args)
    if outputs is None:
        return EXIT_INVALID
    plan = writer.plan(args.out, outputs)
    out_shown = shown_path(args.out)
    result = build_report(plan)
    emit(args, **result)
    if args.force:
        result["hand_edited"] = []
    if args.diff:  # paths from the project root, so `git apply` works there
        from codegen.paths import relative_to_root

        rel = relative_to_root(args.out, args.project.root if args.project is not None else None)
        text = writer.diff(plan, "" if rel == "." else rel + "/")
        if not emit(args, diff=text):
            sys.stdout.write(text)
    status = EXIT_OK
    if args.check or args.diff:
        result["would_change"] = [o.path for o in plan.changes] + plan.stale
        for rel in result["would_change"]:
            stale(args, f"{out_shown}/{rel}")
            annotate(
                args,
                "error",
                "out of date: run 'tdx-codegen build' and commit the result",
                f"{out_shown}/{rel}",
            )
        if plan.dirty:
            say(args, "generated files do not match the schema: run 'tdx-codegen build'")
            status = EXIT_INVALID
        elif not plan.edited:
            say(
                args,
                f"checked {len(plan.unchanged)} generated files in {out_shown} against "
                f"{shown_path(args.schema)}: up to date",
            )
    elif plan.edited and not args.force:
        pass  # all or nothing: with a hand edit pending, no file is written
    else:
        try:
            written = writer.apply(plan, force=args.force)
        except OSError as exc:
            problem(
                args,
                "WRITE-ERROR",
                f"cannot write under {out_shown}: {exc.strerror or exc}"
                f"{f' ({exc.filename})' if exc.filename else ''}",
                file=out_shown,
            )
            return EXIT_INVALID
        result["written"] = written
        for rel in written:
            say(
                args,
                f"wrote {out_shown}/{rel}"
                if rel not in plan.stale
                else f"removed {out_shown}/{rel} (no longer generated)",
            )
        if not written:
            say(args, f"{len(plan.unchanged)} generated files up to date")
    if plan.edited and not args.force:
        report_hand_edits(args, plan.edited, out_shown)
        for out in plan.edited:
            annotate(
                args,
                "error",
                "edited by hand: move the change into the schema",
                f"{out_shown}/{out.path}",
            )
        if not (args.check or args.diff) and len(plan.changes) > len(plan.edited):
            say(
                args,
                "tdx-codegen: nothing was written, so the generated files stay consistent "
                "with each other",
            )
        status = EXIT_INVALID
    emit(args, **result)
    return status
