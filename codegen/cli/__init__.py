"""The tdx-codegen command line.

Exit status: 0 ok, 1 invalid schema (or --check found changes), 2 usage
error, 3 internal error.  One module per group of verbs, each with
register(subparsers); they share codegen.cli.common and never import
each other.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from codegen import __version__
from codegen.cli import build, evolve, inspect, kernel, sim
from codegen.cli.common import (
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    Envelope,
    InputError,
    UsageError,
    fill_project_defaults,
    json_mode,
    problem,
)

# The command modules, in the order --help lists their verbs.
COMMAND_MODULES = (build, inspect, sim, evolve, kernel)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(verb_of(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if getattr(args, "envelope_verb", False) and args.format == "json":
        args.envelope = Envelope(args.verb)
    # A verb runs for a second or two and what it builds (documents, the model, the
    # outputs) lives to its end, so the cyclic collector would only walk it again and
    # again: a third of a 10,000-field build.  The verbs that run for hours (sim serve,
    # sim batch) turn it back on; the caller's setting is restored either way.
    collecting = gc.isenabled()
    gc.disable()
    try:
        status = _run(args)
    finally:
        if collecting:
            gc.enable()
    if json_mode(args) and status != 130:
        sys.stdout.write(args.envelope.text(status))
    return status


def _run(args) -> int:
    """The verb's exit status; its errors reported as problems (JSON with --format json)."""
    try:
        if args.directory is not None:
            _change_directory(args.directory)
        _check_cwd()
        fill_project_defaults(args)
        return args.func(args)
    except UsageError as exc:
        problem(args, "USAGE", str(exc))
        return EXIT_USAGE
    except InputError as exc:
        problem(args, "INPUT", str(exc))
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug: say so in one line, trace on request
        if os.environ.get("TDX_CODEGEN_DEBUG"):
            raise
        print(
            f"tdx-codegen: internal error: {type(exc).__name__}: {exc}\n"
            "(set TDX_CODEGEN_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        if json_mode(args):
            problem(args, "INTERNAL", f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL


def _change_directory(path: str) -> None:
    try:
        os.chdir(path)
    except OSError as exc:
        raise UsageError(f"-C {path}: {exc.strerror or exc}") from None


def _check_cwd() -> None:
    """Paths are shown and the project is found from the cwd: it must still exist."""
    try:
        os.getcwd()
    except OSError as exc:
        raise UsageError(
            "the current directory cannot be read "
            f"({exc.strerror or exc}: was it deleted?); cd to a directory that "
            "exists, or give -C DIR"
        ) from None


def verb_of(argv: list[str]) -> str | None:
    """The verb argv runs, when it names one (before it: -C DIR and options only).  None
    also when --help (or -h, --he...) comes first: the help it prints lists every verb."""
    words = iter(argv)
    for word in words:
        if word == "-C":
            next(words, None)
        elif word.startswith(("-h", "--h")):
            return None
        elif not word.startswith("-"):
            return word if any(word in m.VERBS for m in COMMAND_MODULES) else None
    return None


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser of every verb, or given one, of its module's verbs alone: argparse makes
    and translates each verb's help as it is added, a fifth of a no-op build for all of
    them.  Each module imports its heavy parts only when run."""
    parser = argparse.ArgumentParser(
        prog="tdx-codegen",
        description="Schema compiler, code generator and simulator for TDX global metadata.",
    )
    parser.add_argument("--version", action="version", version=f"tdx-codegen {__version__}")
    parser.add_argument(
        "-C",
        dest="directory",
        metavar="DIR",
        help="run as if started in DIR (the project is found from there)",
    )
    sub = parser.add_subparsers(metavar="COMMAND")
    for module in COMMAND_MODULES:
        if verb is None or verb in module.VERBS:
            module.register(sub)
    return parser
