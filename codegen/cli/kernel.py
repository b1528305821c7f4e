"""Verbs diff and patch: carry the kernel outputs into a Linux checkout.

`build --kernel-tree` (codegen.cli.build) writes them in place; these two
show or package the same change without touching the tree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from codegen.cli.common import (EXIT_INVALID, EXIT_OK, add_flavor_arg, add_kernel_tree_arg,
                                add_schema_arg, report_hand_edits, tree_catalogue, tree_plan)



def register(sub) -> None:
    for verb, text in (("diff", "show what 'build --kernel-tree' would change, writing nothing"),
                       ("patch", "write a patch for git am that updates a kernel tree")):
        p = sub.add_parser(verb, help=text)
        add_kernel_tree_arg(p, True, "a Linux checkout")
        add_schema_arg(p)
        add_flavor_arg(p)
        if verb == "patch":
            p.add_argument("-o", "--output", type=Path, metavar="FILE",
                           help="write the patch here (default: standard output)")
            p.add_argument("--force", action="store_true",
                           help="include files that were edited by hand (discarding the edit)")
            p.add_argument("--signoff", metavar="'NAME <EMAIL>'",
                           help="sign the patch off as this identity (default: the tree's git "
                                "user.name and user.email)")
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
        print(f"tdx-codegen: note: {plan.root / out.path} was edited by hand; 'build "
              "--kernel-tree' will not overwrite it without --force", file=sys.stderr)
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
        print("tdx-codegen: note: the tree has no git user.name and user.email, so the patch "
              "has no Signed-off-by: line; pass --signoff 'NAME <EMAIL>'", file=sys.stderr)
    patch = kernel_tree.make_patch(plan, force=args.force, generator_version=__version__,
                                   author=author, catalogue=catalogue, signoff=args.signoff)
    if args.output is None:
        sys.stdout.write(patch)
        return EXIT_OK
    from codegen.outputs.writer import atomic_write

    try:
        atomic_write(args.output, patch)
    except OSError as exc:
        print(f"tdx-codegen: error: cannot write {args.output}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK
