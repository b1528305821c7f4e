"""Verbs validate and build: check the schema, write the generated files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from codegen.cli.common import (DEFAULT_OUT, EXIT_INVALID, EXIT_OK, add_flavor_arg, add_format_arg,
                                add_kernel_tree_arg, add_schema_arg, build_kernel_tree, build_report,
                                emit_cached, load_catalogue, report_hand_edits, say, shown_path)



def register(sub) -> None:
    p = sub.add_parser("validate", help="check the schema and report every problem")
    add_schema_arg(p)
    add_format_arg(p)
    p.set_defaults(func=cmd_validate, json_always=True)

    p = sub.add_parser("build", help="validate, then write the generated files")
    add_schema_arg(p)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help="output directory (default: the project's generated/)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when any generated file would change")
    p.add_argument("--diff", action="store_true", help="print the unified diff of what would change")
    p.add_argument("--force", action="store_true", help="overwrite files that were edited by hand")
    add_flavor_arg(p)
    add_kernel_tree_arg(p, False, "write only the kernel outputs, into this Linux checkout at "
                        "their in-tree paths")
    add_format_arg(p)
    p.set_defaults(func=cmd_build)



def cmd_validate(args) -> int:
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    if args.format == "text":
        print(f"{len(catalogue.fields)} fields in {len(catalogue.structs)} structs: schema is valid")
    return EXIT_OK


def cmd_build(args) -> int:
    from codegen.outputs import writer

    if args.kernel_tree is not None:
        catalogue = load_catalogue(args)
        if catalogue is None:
            return EXIT_INVALID
        return build_kernel_tree(args, catalogue, args.c_flavor or catalogue.settings.kernel.flavor)
    outputs = emit_cached(args)
    if outputs is None:
        return EXIT_INVALID
    plan = writer.plan(args.out, outputs)
    out_shown = shown_path(args.out)
    result = build_report(plan)
    if args.force:
        result["hand_edited"] = []
    if args.diff:
        sys.stdout.write(writer.diff(plan))
    status = EXIT_OK
    if args.check or args.diff:
        result["would_change"] = [o.path for o in plan.changes] + plan.stale
        for rel in result["would_change"]:
            say(args, f"{out_shown}/{rel}: out of date")
        if plan.dirty:
            say(args, "generated files do not match the schema: run 'tdx-codegen build'")
            status = EXIT_INVALID
    elif plan.edited and not args.force:
        pass  # all or nothing: with a hand edit pending, no file is written
    else:
        try:
            written = writer.apply(plan, force=args.force)
        except OSError as exc:
            print(f"tdx-codegen: error: cannot write under {out_shown}: {exc.strerror or exc}"
                  f"{f' ({exc.filename})' if exc.filename else ''}", file=sys.stderr)
            return EXIT_INVALID
        result["written"] = written
        for rel in written:
            say(args, f"wrote {out_shown}/{rel}" if rel not in plan.stale
                 else f"removed {out_shown}/{rel} (no longer generated)")
        if not written:
            say(args, f"{len(plan.unchanged)} generated files up to date")
    if plan.edited and not args.force:
        report_hand_edits(plan.edited, out_shown)
        if not (args.check or args.diff) and len(plan.changes) > len(plan.edited):
            print("tdx-codegen: nothing was written, so the generated files stay consistent "
                  "with each other", file=sys.stderr)
        status = EXIT_INVALID
    if args.format == "json":
        print(json.dumps(result, indent=2))
    return status
