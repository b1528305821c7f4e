"""Verbs diff, patch and adopt: the kernel outputs and a Linux checkout.

`build --kernel-tree` (codegen.cli.build) writes them in place; diff and
patch show or package the same change without touching the tree; adopt
goes the other way, editing the project's schema and settings until they
generate what the tree has.
"""

from __future__ import annotations

import sys
from pathlib import Path

from codegen.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    add_flavor_arg,
    add_kernel_tree_arg,
    add_schema_arg,
    load_catalogue,
    report_hand_edits,
    shown_path,
    tree_catalogue,
    tree_plan,
)

ADOPT_HELP = """\
Read the tree's tdx_global_metadata.{c,h}, map every field id to the catalogue,
and edit the project's settings.toml and schema files until they generate what
the tree has.  Ids the catalogue lacks become fields marked unverified.  The
tree is never written.  Exit 0 when 'diff --kernel-tree PATH' then shows no
change; 1 when something could not be adopted (each reported with file:line).

example:
  tdx-codegen adopt --kernel-tree ~/linux
  tdx-codegen adopt --kernel-tree ~/linux --dry-run"""


def register(sub) -> None:
    import argparse

    p = sub.add_parser(
        "adopt",
        help="edit the schema and settings to match a kernel tree's files",
        description=ADOPT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_kernel_tree_arg(p, True, "a Linux checkout (read only)")
    add_schema_arg(p)
    p.add_argument(
        "--dry-run", action="store_true", help="say what would change in the project; write nothing"
    )
    p.set_defaults(func=cmd_adopt)

    for verb, text in (
        ("diff", "show what 'build --kernel-tree' would change, writing nothing"),
        ("patch", "write a patch for git am that updates a kernel tree"),
    ):
        p = sub.add_parser(verb, help=text)
        add_kernel_tree_arg(p, True, "a Linux checkout")
        add_schema_arg(p)
        add_flavor_arg(p)
        if verb == "patch":
            p.add_argument(
                "-o",
                "--output",
                type=Path,
                metavar="FILE",
                help="write the patch here (default: standard output)",
            )
            p.add_argument(
                "--force",
                action="store_true",
                help="include files that were edited by hand (discarding the edit)",
            )
            p.add_argument(
                "--signoff",
                metavar="'NAME <EMAIL>'",
                help="sign the patch off as this identity (default: the tree's git "
                "user.name and user.email)",
            )
        p.set_defaults(func=cmd_diff if verb == "diff" else cmd_patch)


def cmd_diff(args) -> int:
    """Print what build --kernel-tree would change; exit 1 when something would."""
    from codegen.outputs import writer

    catalogue, flavor = tree_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    plan = tree_plan(args, catalogue, flavor)
    sys.stdout.write(writer.diff(plan))
    for out in plan.edited:
        print(
            f"tdx-codegen: note: {plan.root / out.path} was edited by hand; 'build "
            "--kernel-tree' will not overwrite it without --force",
            file=sys.stderr,
        )
    return EXIT_INVALID if plan.changes else EXIT_OK


def cmd_patch(args) -> int:
    from codegen import __version__
    from codegen.evolve import kernel_tree

    catalogue, flavor = tree_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    plan = tree_plan(args, catalogue, flavor)
    if plan.edited and not args.force:
        report_hand_edits(plan.edited, str(plan.root))
        return EXIT_INVALID
    if not plan.changes:
        print(f"kernel files in {plan.root} are up to date: no patch", file=sys.stderr)
        return EXIT_OK
    author = kernel_tree.tree_author(args.kernel_tree)
    if args.signoff is None and author == kernel_tree.AUTHOR:
        print(
            "tdx-codegen: note: the tree has no git user.name and user.email, so the patch "
            "has no Signed-off-by: line; pass --signoff 'NAME <EMAIL>'",
            file=sys.stderr,
        )
    patch = kernel_tree.make_patch(
        plan,
        force=args.force,
        generator_version=__version__,
        author=author,
        catalogue=catalogue,
        signoff=args.signoff,
    )
    if args.output is None:
        sys.stdout.write(patch)
        return EXIT_OK
    from codegen.outputs.writer import atomic_write

    try:
        atomic_write(args.output, patch)
    except OSError as exc:
        print(
            f"tdx-codegen: error: cannot write {args.output}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_INVALID
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_adopt(args) -> int:
    import shutil
    import tempfile

    from codegen.evolve import adopt, kernel_tree
    from codegen.outputs import writer
    from codegen.spec.compiler import compile_schema
    from codegen.spec.diagnostics import format_text

    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    try:
        kernel_tree.check_tree(args.kernel_tree)
        tf = adopt.read_tree(args.kernel_tree)
    except (adopt.AdoptError, kernel_tree.TreeError) as exc:
        print(f"tdx-codegen: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    current = kernel_tree.plan(
        args.kernel_tree, kernel_tree.kernel_outputs(catalogue, catalogue.settings.kernel.flavor)
    )
    if not current.changes:  # nothing to adopt: keep the project's files as they are
        print(f"{shown_path(args.schema)} already generates the tree's files")
        return EXIT_OK
    adoption = adopt.adopt(catalogue, tf)
    texts, problems = adopt.schema_texts(catalogue, args.schema, adoption)
    problems = adoption.problems + problems
    schema_shown = shown_path(args.schema)
    with tempfile.TemporaryDirectory(prefix="tdx-codegen-adopt-") as tmp:
        trial = Path(tmp) / "schema"
        shutil.copytree(args.schema, trial)
        for path, text in texts.items():
            (trial / path.relative_to(args.schema)).write_text(text, encoding="utf-8")
        adopted, rep = compile_schema(trial)
        if adopted is None:
            text = format_text(rep.sorted()).replace(str(trial), schema_shown)
            sys.stderr.write(text)
            print(
                "tdx-codegen: error: the adopted schema would not be valid; nothing was written",
                file=sys.stderr,
            )
            return EXIT_INVALID
        outputs = kernel_tree.kernel_outputs(adopted, adopted.settings.kernel.flavor)
        residual = kernel_tree.plan(args.kernel_tree, outputs)
    for e in adoption.edits:
        print(f"{e.why}: set {e.key} = {adopt.toml_value(e.value)} of field {e.name}")
    for s in adoption.new_structs:
        print(f"new struct {s['name']} ({s['c_name']})")
    for f in adoption.new_fields:
        print(f"new field {f['name']} {f['id']} (unverified: {f['unverified']})")
    for problem in problems:
        print(f"{problem}", file=sys.stderr)
    changed = [p for p, text in texts.items() if p.read_text(encoding="utf-8") != text]
    if not args.dry_run:
        for path in changed:
            writer.atomic_write(path, texts[path])
    verb = "would change" if args.dry_run else "changed"
    for path in changed:
        print(f"{verb} {shown_path(path)}")
    if residual.changes:
        lines = writer.diff(residual).count("\n")
        print(
            f"tdx-codegen: error: the adopted settings still generate different kernel "
            f"files ({', '.join(o.path for o in residual.changes)}; a {lines}-line diff): "
            f"run 'tdx-codegen diff --kernel-tree {args.kernel_tree}' to see it",
            file=sys.stderr,
        )
    if problems or residual.changes:
        return EXIT_INVALID
    return EXIT_OK
