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
    UsageError,
    add_command,
    add_flavor_arg,
    add_format_arg,
    add_kernel_tree_arg,
    add_schema_arg,
    emit,
    json_mode,
    load_catalogue,
    problem,
    problem_line,
    report,
    report_hand_edits,
    say,
    shown_path,
    stale,
    tree_catalogue,
    tree_plan,
)

ADOPT_HELP = """\
Read the tree's tdx_global_metadata.{c,h}, map every field id to the catalogue,
and edit the project's settings.toml and schema files until they generate what
the tree has.  Ids the catalogue lacks become fields marked unverified.  The
tree is never written.  Exit 0 when 'diff --kernel-tree PATH' then shows no
change; 1 when something could not be adopted (each reported with file:line)."""


# The verbs register() adds: main() builds the parsers of one module, the verb's.
VERBS = ("adopt", "diff", "patch")


def register(sub) -> None:
    p = add_command(
        sub,
        "adopt",
        help="edit the schema and settings to match a kernel tree's files",
        description=ADOPT_HELP,
        examples=[
            "tdx-codegen adopt --kernel-tree ~/linux",
            "tdx-codegen adopt --kernel-tree ~/linux --dry-run",
        ],
    )
    add_kernel_tree_arg(p, True, "a Linux checkout (read only)")
    add_schema_arg(p)
    p.add_argument(
        "--dry-run", action="store_true", help="say what would change in the project; write nothing"
    )
    add_format_arg(p)
    p.set_defaults(func=cmd_adopt)

    p = add_command(
        sub,
        "diff",
        help="show what 'build --kernel-tree' would change, writing nothing",
        description="Print the unified diff between a Linux checkout's metadata files and "
        "what the schema\ngenerates (paths from the tree's root, for git apply there). "
        "Exit 1 when they differ.",
        examples=[
            "tdx-codegen diff --kernel-tree ~/linux",
            "tdx-codegen diff --kernel-tree ~/linux --format json",
        ],
    )
    add_kernel_tree_arg(p, True, "a Linux checkout")
    add_schema_arg(p)
    add_flavor_arg(p)
    add_format_arg(p)
    p.set_defaults(func=cmd_diff)

    p = add_command(
        sub,
        "patch",
        help="write a patch for git am that updates a kernel tree",
        description="Write what 'build --kernel-tree' would change as a patch for git am: "
        "an x86/virt/tdx:\nsubject, a changelog of the fields, members, readers and gates "
        "that changed, and a\nSigned-off-by: line. The tree is not written.",
        examples=[
            "tdx-codegen patch --kernel-tree ~/linux -o 0001-tdx-metadata.patch",
            "tdx-codegen patch --kernel-tree ~/linux --signoff 'A U Thor <author@example.org>'",
        ],
    )
    add_kernel_tree_arg(p, True, "a Linux checkout")
    add_schema_arg(p)
    add_flavor_arg(p)
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
    add_format_arg(p)
    p.set_defaults(func=cmd_patch)


def cmd_diff(args) -> int:
    """Print what build --kernel-tree would change; exit 1 when something would."""
    from codegen.outputs import writer

    catalogue, flavor = tree_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    plan = tree_plan(args, catalogue, flavor)
    text = writer.diff(plan)
    if emit(
        args,
        kernel_tree=str(plan.root),
        would_change=[o.path for o in plan.changes],
        hand_edited=[o.path for o in plan.edited],
        diff=text,
    ):
        for out in plan.changes:
            stale(args, str(plan.root / out.path))
    else:
        sys.stdout.write(text)
    for out in plan.edited:
        problem(
            args,
            "HAND-EDITED",
            f"{plan.root / out.path} was edited by hand; 'build --kernel-tree' will not "
            "overwrite it without --force",
            severity="note",
            file=str(plan.root / out.path),
        )
    return EXIT_INVALID if plan.changes else EXIT_OK


def cmd_patch(args) -> int:
    from codegen import __version__, chars
    from codegen.evolve import kernel_tree

    if args.signoff is not None and (why := kernel_tree.identity_problem(args.signoff)):
        raise UsageError(f"--signoff '{chars.escape(args.signoff)}': {why}")
    catalogue, flavor = tree_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    plan = tree_plan(args, catalogue, flavor)
    result: dict[str, object] = {
        "kernel_tree": str(plan.root),
        "output": None,
        "subject": None,
        "files": [],
    }
    emit(args, **result, patch=None)
    if plan.edited and not args.force:
        report_hand_edits(args, plan.edited, str(plan.root))
        return EXIT_INVALID
    if not plan.changes:
        say(args, f"kernel files in {plan.root} are up to date: no patch")
        return EXIT_OK
    author = kernel_tree.tree_author(args.kernel_tree)
    if args.signoff is None and author == kernel_tree.AUTHOR:
        problem(
            args,
            "INPUT",
            "the tree has no git user.name and user.email, so the patch "
            "has no Signed-off-by: line; pass --signoff 'NAME <EMAIL>'",
            severity="note",
        )
    patch = kernel_tree.make_patch(
        plan,
        force=args.force,
        generator_version=__version__,
        author=author,
        catalogue=catalogue,
        signoff=args.signoff,
    )
    result["subject"] = next(
        line.removeprefix("Subject: [PATCH] ")
        for line in patch.splitlines()
        if line.startswith("Subject: ")
    )
    result["files"] = sorted(o.path for o in plan.changes if args.force or o not in plan.edited)
    if args.output is None:
        if not emit(args, **result, patch=patch):
            sys.stdout.write(patch)
        return EXIT_OK
    from codegen.outputs.writer import atomic_write

    try:
        atomic_write(args.output, patch)
    except OSError as exc:
        problem(
            args,
            "WRITE-ERROR",
            f"cannot write {args.output}: {exc.strerror or exc}",
            file=str(args.output),
        )
        return EXIT_INVALID
    emit(args, **result | {"output": shown_path(args.output)})
    say(args, f"wrote {args.output}")
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
        problem(args, "ADOPT", str(exc))
        return EXIT_INVALID
    current = kernel_tree.plan(
        args.kernel_tree, kernel_tree.kernel_outputs(catalogue, catalogue.settings.kernel.flavor)
    )
    result = {"dry_run": args.dry_run, "edits": [], "new_structs": [], "new_fields": []}
    if not current.changes:  # nothing to adopt: keep the project's files as they are
        if not emit(args, **result, changed=[], residual=[]):
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
            if json_mode(args):
                report(args, [_relocated(d, str(trial), schema_shown) for d in rep.sorted()])
            else:
                sys.stderr.write(format_text(rep.sorted()).replace(str(trial), schema_shown))
            for text in problems:  # what could not be read is most often why
                problem_line(args, "ADOPT", text)
            problem(args, "ADOPT", "the adopted schema would not be valid; nothing was written")
            return EXIT_INVALID
        outputs = kernel_tree.kernel_outputs(adopted, adopted.settings.kernel.flavor)
        residual = kernel_tree.plan(args.kernel_tree, outputs)
    result["edits"] = [
        {"field": e.name, "key": e.key, "value": e.value, "why": e.why} for e in adoption.edits
    ]
    result["new_structs"] = list(adoption.new_structs)
    result["new_fields"] = list(adoption.new_fields)
    changed = [p for p, text in texts.items() if p.read_text(encoding="utf-8") != text]
    if not args.dry_run:
        for path in changed:
            writer.atomic_write(path, texts[path])
    result["changed"] = [shown_path(path) for path in changed]
    result["residual"] = [o.path for o in residual.changes]
    if not emit(args, **result):
        for e in adoption.edits:
            print(f"{e.why}: set {e.key} = {adopt.toml_value(e.value)} of field {e.name}")
        for s in adoption.new_structs:
            print(f"new struct {s['name']} ({s['c_name']})")
        for f in adoption.new_fields:
            print(f"new field {f['name']} {f['id']} (unverified: {f['unverified']})")
    for text in problems:
        problem_line(args, "ADOPT", text)
    verb = "would change" if args.dry_run else "changed"
    if not json_mode(args):
        for path in changed:
            print(f"{verb} {shown_path(path)}")
    if residual.changes:
        lines = writer.diff(residual).count("\n")
        problem(
            args,
            "ADOPT",
            f"the adopted settings still generate different kernel "
            f"files ({', '.join(o.path for o in residual.changes)}; a {lines}-line diff): "
            f"run 'tdx-codegen diff --kernel-tree {args.kernel_tree}' to see it",
        )
    if problems or residual.changes:
        return EXIT_INVALID
    return EXIT_OK


def _relocated(d, trial: str, shown: str):
    """A diagnostic of the trial copy, naming the project's schema instead."""
    from dataclasses import replace

    def move(loc):
        return replace(loc, file=loc.file.replace(trial, shown)) if loc is not None else None

    return replace(d, loc=move(d.loc), notes=tuple(replace(n, loc=move(n.loc)) for n in d.notes))
