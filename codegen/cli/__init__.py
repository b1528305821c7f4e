"""The tdx-codegen command line.

Exit status: 0 ok, 1 invalid schema (or --check found changes), 2 usage
error.  Heavy modules (pydantic, jinja2, emitters, simulator) are imported
inside the commands that need them, so every verb starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from codegen import __version__

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCHEMA = PROJECT_ROOT / "schema"
DEFAULT_OUT = PROJECT_ROOT / "generated"

# Modules adding further verbs: each has register(subparsers).
EXTRA_COMMANDS = ("codegen.cli.sim", "codegen.cli.evolve")

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """Bad command-line input: reported without a traceback, exit 2."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"tdx-codegen: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug: say so in one line, trace on request
        if os.environ.get("TDX_CODEGEN_DEBUG"):
            raise
        print(f"tdx-codegen: internal error: {type(exc).__name__}: {exc}\n"
              "(set TDX_CODEGEN_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return EXIT_INTERNAL


CORE_VERBS = ("validate", "build", "explain", "list")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; the extra verbs are loaded only when argv may need them (startup time)."""
    parser = argparse.ArgumentParser(
        prog="tdx-codegen",
        description="Schema compiler, code generator and simulator for TDX global metadata.")
    parser.add_argument("--version", action="version", version=f"tdx-codegen {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("validate", help="check the schema and report every problem")
    add_schema_arg(p)
    add_format_arg(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("build", help="validate, then write the generated files")
    add_schema_arg(p)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help="output directory (default: the project's generated/)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when any generated file would change")
    p.add_argument("--diff", action="store_true", help="print the unified diff of what would change")
    p.add_argument("--force", action="store_true", help="overwrite files that were edited by hand")
    p.add_argument("--c-flavor", choices=("map", "functions"),
                   help="kernel C flavour (default: [kernel].flavor of settings.toml)")
    p.add_argument("--kernel-tree", type=Path, metavar="PATH",
                   help="write only the kernel outputs, into this Linux checkout at their "
                   "in-tree paths")
    add_format_arg(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("explain", help="decode a field id and name the field it belongs to")
    p.add_argument("id", metavar="ID", help="field id, e.g. 0x9100000100000008 (-1: the null id)")
    add_schema_arg(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("list", help="the catalogue of fields as a table")
    add_schema_arg(p)
    add_format_arg(p)
    p.set_defaults(func=cmd_list)

    verb = next((a for a in argv or () if not a.startswith("-")), None)
    if argv is not None and verb in CORE_VERBS:
        return parser
    for module in EXTRA_COMMANDS:
        try:
            importlib.import_module(module).register(sub)
        except ModuleNotFoundError as exc:
            if exc.name not in (module, module.rpartition(".")[0]):
                raise
    return parser


def add_schema_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, metavar="DIR",
                   help="schema directory (default: the project's schema/)")
    p.add_argument("--no-cache", action="store_true",
                   help="validate and generate afresh, ignoring the result cache")


def add_format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="output format (default: text)")


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


def rendered(diags) -> tuple[str, str, bool]:
    """Diagnostics as (text, JSON, failed): what report() prints, cacheable as plain strings."""
    from codegen.spec.diagnostics import format_json, format_text, summary

    text = format_text(diags) + f"{summary(diags)}\n" if diags else ""
    return text, format_json(diags), any(d.severity == "error" for d in diags)


def report(args, diags) -> None:
    show(args, rendered(diags))


def show(args, shown: tuple[str, str, bool]) -> None:
    """Print rendered diagnostics: JSON on stdout with --format json, else text on stderr."""
    text, as_json, failed = shown
    if getattr(args, "format", "text") == "json":
        if failed or args.func is cmd_validate:
            sys.stdout.write(as_json)
    else:
        sys.stderr.write(text)


def load_catalogue(args):
    """Compile args.schema; print diagnostics; return the Catalogue or None."""
    catalogue, diags = compile_cached(args.schema, not getattr(args, "no_cache", False))
    report(args, diags)
    return catalogue


def cmd_validate(args) -> int:
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    if args.format == "text":
        print(f"{len(catalogue.fields)} fields in {len(catalogue.structs)} structs: schema is valid")
    return EXIT_OK


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


def cmd_build(args) -> int:
    from codegen.outputs import writer

    if args.kernel_tree is not None:
        catalogue = load_catalogue(args)
        if catalogue is None:
            return EXIT_INVALID
        from codegen.cli.evolve import build_kernel_tree
        return build_kernel_tree(args, catalogue, args.c_flavor or catalogue.settings.kernel.flavor)
    outputs = emit_cached(args)
    if outputs is None:
        return EXIT_INVALID
    plan = writer.plan(args.out, outputs)
    out_shown = _shown(args.out)
    result = {"written": [], "unchanged": len(plan.unchanged), "hand_edited": [],
              "stale": list(plan.stale), "would_change": []}
    if args.diff:
        sys.stdout.write(writer.diff(plan))
    status = EXIT_OK
    if args.check or args.diff:
        result["would_change"] = [o.path for o in plan.changes] + plan.stale
        for rel in result["would_change"]:
            _say(args, f"{out_shown}/{rel}: out of date")
        if plan.dirty:
            _say(args, "generated files do not match the schema: run 'tdx-codegen build'")
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
            _say(args, f"wrote {out_shown}/{rel}" if rel not in plan.stale
                 else f"removed {out_shown}/{rel} (no longer generated)")
        if not written:
            _say(args, f"{len(plan.unchanged)} generated files up to date")
    if plan.edited and not args.force:
        result["hand_edited"] = [o.path for o in plan.edited]
        for out in plan.edited:
            print(f"tdx-codegen: error: {out_shown}/{out.path} was edited by hand (its content hash "
                  "does not match); not overwritten. Move the change into the schema, or run "
                  "with --force to discard it.", file=sys.stderr)
        if not (args.check or args.diff) and len(plan.changes) > len(plan.edited):
            print("tdx-codegen: nothing was written, so the generated files stay consistent "
                  "with each other", file=sys.stderr)
        status = EXIT_INVALID
    if args.format == "json":
        print(json.dumps(result, indent=2))
    return status


def _say(args, text: str) -> None:
    if args.format == "text":
        print(text)


def _shown(path: Path) -> str:
    from codegen.paths import display_path
    return display_path(path)


def cmd_explain(args) -> int:
    from codegen.abi import fieldid

    try:
        fid = fieldid.parse(args.id)
    except ValueError as exc:
        raise UsageError(f"cannot explain '{args.id}': {exc}") from None
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    print(fieldid.fmt(fid))
    if fid == fieldid.NULL_ID:
        print("  the null id (-1): TDH.SYS.RD answers with the first field's id; "
              "TDH.SYS.RDALL starts at the first field")
        return EXIT_OK
    d = fieldid.decode(fid)
    for name, bits, value in fieldid.explain(fid):
        extra = ""
        if name == "CLASS_CODE":
            cls = catalogue.md_class(value)
            extra = f"  {cls.name}" if cls else "  (no such class in the schema)"
        elif name == "ELEMENT_SIZE_CODE":
            extra = f"  {fieldid.ELEMENT_SIZES[value]} byte(s)"
        elif name == "CONTEXT_CODE":
            extra = "  " + {0: "global (SYS)", 1: "TD", 2: "VCPU"}.get(value, "reserved")
        elif name.startswith("RESERVED") and value:
            extra = "  must be 0"
        print(f"  {name:<24}{bits:>6}  {value:#x}{extra}")
    problems = []
    if fid & fieldid.RESERVED_MASK:
        problems.append("reserved bits are set: TDH.SYS.RD answers TDX_METADATA_FIELD_ID_INCORRECT")
    if fid & fieldid.LAST_MASK:
        problems.append("LAST_ELEMENT_IN_FIELD / LAST_FIELD_IN_SEQUENCE are set: this is a sequence "
                        "header, not an element id; TDH.SYS.RD rejects it")
    found = catalogue.locate(fid)
    if found is None:
        print(f"no field of the schema holds class {d.class_code:#04x} field code "
              f"{d.field_code:#x}", file=sys.stderr)
        for p in problems:
            print(f"note: {p}", file=sys.stderr)
        return EXIT_INVALID
    f, index, element = found
    struct = catalogue.struct(f.struct)
    where = f.name
    if f.is_array:
        where += f"[{index}]"
    if f.num_elements > 1:
        where += f" element {element} of {f.num_elements}"
    print(f"field: {where}")
    member = f"{struct.c_name}.{f.member}" + "".join(f"[{n}]" for n in f.dims)
    print(f"  member:   {member} ({f.ctype})")
    print(f"  shape:    {f.num_fields} field(s) x {f.num_elements} element(s) of "
          f"{f.element_size} byte(s), base id {fieldid.fmt(f.id)}")
    if f.count:
        print(f"  count:    {f.count}")
    gates = [g.text for g in (struct.gate, f.gate) if g is not None]
    print(f"  gate:     {', '.join(gates) if gates else 'none (always read)'}")
    print(f"  since:    {f.since or 'no public module release'}")
    if d.element_size != f.element_size:
        problems.append(f"ELEMENT_SIZE_CODE says {d.element_size} byte(s) but {f.name} has "
                        f"{f.element_size}: TDH.SYS.RD ignores it, TDH.SYS.RDALL rejects it")
    if (fid ^ f.id) & fieldid.NON_ARCH_BIT:
        problems.append("bit 63 differs from the table's id: not part of the lookup key")
    for p in problems:
        print(f"  note:     {p}")
    return EXIT_OK


def cmd_list(args) -> int:
    from codegen.abi import fieldid

    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    structs = {s.name: s for s in catalogue.structs}
    rows = []
    for f in catalogue.fields:
        rows.append({
            "name": f.name, "id": fieldid.fmt(f.id), "class": f.class_code,
            "element_size": f.element_size, "num_fields": f.num_fields,
            "num_elements": f.num_elements, "struct": structs[f.struct].c_name,
            "member": f.member, "type": f.ctype, "capacity": f.capacity, "count": f.count,
            "since": str(f.since) if f.since else None,
        })
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    header = ("CLASS", "ID", "NAME", "SIZE", "SHAPE", "STRUCT.MEMBER")
    table = [header]
    for r in rows:
        shape = f"{r['num_fields']}x{r['num_elements']}"
        table.append((f"{r['class']:#04x}", r["id"], r["name"], str(r["element_size"]), shape,
                      f"{r['struct']}.{r['member']}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK
