"""`tdx-codegen sim`: the simulated TDX module on the command line.

    tdx-codegen sim --profile 1.5.01 rd 0x9900000100000004
    tdx-codegen sim --profile 2.0.08 walk
    tdx-codegen sim --replay dump.json rdall
    tdx-codegen sim --profile 1.5.01 dump --format pages -o pages.bin
    tdx-codegen sim --profile 1.5.01 serve --unix /tmp/tdx.sock
    tdx-codegen sim --profile 1.5.01 batch < calls.jsonl

Module options (--profile, --replay, --no-lp-init, --shutdown, --fault,
--set) may be given before or after the subcommand.  Imports are lazy:
registering the verb costs nothing until it runs.

Over 400 lines on purpose: six subcommands share the module options and
the one way a simulator is built from them, and each subcommand's output
(text, JSON, pages, batch lines) sits beside the options it reads.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

# The verbs register() adds: main() builds the parsers of one module, the verb's.
VERBS = ("sim",)


def register(sub) -> None:
    from codegen.cli.common import add_command, add_format_arg, add_schema_arg

    p = add_command(
        sub,
        "sim",
        help="a simulated TDX module: TDH.SYS.RD / TDH.SYS.RDALL",
        description="Answer TDH.SYS.RD and TDH.SYS.RDALL as a TDX module does, over the "
        "schema and a value\nprofile (or a module replayed from a dump). Module options may "
        "come before or after\nthe subcommand. Protocol and profiles: docs/sim-protocol.md.",
        examples=[
            "tdx-codegen sim --profile 2.0.08 rd MAX_TDMRS",
            "tdx-codegen sim --profile 1.5.01 walk",
        ],
    )
    _module_args(p, argparse.SUPPRESS)
    add_schema_arg(p)
    verbs = p.add_subparsers(metavar="SUBCOMMAND")
    common = argparse.ArgumentParser(add_help=False)
    _module_args(common, argparse.SUPPRESS)

    def verb(name: str, help: str, description: str, examples):
        return add_command(
            verbs,
            name,
            help=help,
            description=description,
            examples=examples,
            verb=f"sim {name}",
            parents=[common],
        )

    v = verb(
        "rd",
        "TDH.SYS.RD of each id",
        "One TDH.SYS.RD per ID, in order: the status (RAX), the next field id (RDX) and the\n"
        "value (R8). Exit 1 when any call answers an error status.",
        [
            "tdx-codegen sim --profile 2.0.08 rd MAX_TDMRS 'CMR_BASE[3]'",
            "tdx-codegen sim --profile 1.5.01 rd 0x9900000100000004 -1 --format json",
        ],
    )
    v.add_argument(
        "ids",
        nargs="+",
        metavar="ID",
        help="field id (hex; -1 is the null id) or field name (MAX_TDMRS, CMR_BASE[3])",
    )
    add_format_arg(v)
    v.set_defaults(func=cmd_rd)

    v = verb(
        "rdall",
        "one TDH.SYS.RDALL, decoded",
        "One TDH.SYS.RDALL from ID: the registers, then the list it wrote into the page,\n"
        "sequence by sequence, each element with its id, field and value.",
        [
            "tdx-codegen sim --profile 2.0.08 rdall",
            "tdx-codegen sim --profile 2.0.08 rdall NUM_CMRS --format json",
        ],
    )
    v.add_argument(
        "id",
        nargs="?",
        default="-1",
        metavar="ID",
        help="first field id or field name (default: -1, the first field)",
    )
    v.add_argument(
        "--page",
        default="0x100000",
        metavar="ADDR",
        help="physical address of the list page (default 0x100000)",
    )
    add_format_arg(v)
    v.set_defaults(func=cmd_rdall)

    v = verb(
        "walk",
        "every element, following TDH.SYS.RD's next id from the null id",
        "Read every element as a host enumerates them: TDH.SYS.RD of the null id, then of\n"
        "each next id (RDX) until it is -1. Exit 1 when a call answers an error status.",
        ["tdx-codegen sim --profile 1.5.01 walk", "tdx-codegen sim --replay dump.json walk"],
    )
    add_format_arg(v)
    v.set_defaults(func=cmd_walk)

    v = verb(
        "dump",
        "the module's fields, for --replay",
        "Write the module's fields and values: --format json is the dump --replay reads\n"
        "(a file format, not the JSON envelope of the other verbs); pages: raw TDH.SYS.RDALL\n"
        "pages.",
        [
            "tdx-codegen sim --profile 1.5.01 dump -o dump.json",
            "tdx-codegen sim --profile 1.5.01 dump --format pages -o pages.bin",
        ],
    )
    v.add_argument(
        "--format",
        choices=("json", "pages"),
        default="json",
        help="json: the simulator's dump; pages: raw TDH.SYS.RDALL pages",
    )
    v.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE, not stdout")
    v.set_defaults(func=cmd_dump)

    v = verb(
        "serve",
        "serve SEAMCALLs over a socket (protocol: docs/sim-protocol.md)",
        "Serve SEAMCALLs to programs in any language over a Unix socket or loopback TCP,\n"
        "until SIGTERM or SIGINT. The frames are described in docs/sim-protocol.md.",
        [
            "tdx-codegen sim --profile 1.5.01 serve --unix /tmp/tdx.sock",
            "tdx-codegen sim --profile 2.0.08 serve --tcp 127.0.0.1:7070",
        ],
    )
    where = v.add_mutually_exclusive_group(required=True)
    where.add_argument("--unix", type=Path, metavar="PATH", help="Unix socket path")
    where.add_argument(
        "--tcp", metavar="HOST:PORT", help="loopback TCP address, e.g. 127.0.0.1:7070"
    )
    v.add_argument(
        "--max-clients",
        type=int,
        default=64,
        metavar="N",
        help="connections served at once (default 64); a new one takes the slot of "
        "one idle for a second or more, or is closed",
    )
    v.add_argument(
        "--stall-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close a connection whose client takes none of its responses this "
        "long (default 10); a request begun must be whole within 1 s, or this",
    )
    v.set_defaults(func=cmd_serve)

    v = verb(
        "batch",
        "JSON lines of calls on stdin, one JSON line of registers per call on stdout",
        'Read one call per line on stdin ({"leaf": 34, "rdx": "0x9900000100000004"}) and\n'
        "write one JSON line of output registers per call (JSON lines, not the envelope).",
        [
            "tdx-codegen sim --profile 1.5.01 batch < calls.jsonl",
            'echo \'{"leaf": 34, "rdx": "-1"}\' | tdx-codegen sim --profile 2.0.08 batch',
        ],
    )
    v.set_defaults(func=cmd_batch)
    p.set_defaults(func=lambda args: _no_verb(p))


def _module_args(p, default) -> None:
    p.add_argument(
        "--profile",
        default=default,
        metavar="NAME|FILE",
        help="value profile: a name under schema/profiles/ or a TOML file (-: stdin)",
    )
    p.add_argument(
        "--replay",
        default=default,
        type=Path,
        metavar="FILE",
        help="replay a module from a JSON dump or raw TDH.SYS.RDALL pages (-: stdin)",
    )
    p.add_argument(
        "--no-lp-init",
        action="store_true",
        default=default,
        help="this logical processor has not run TDH.SYS.LP.INIT",
    )
    p.add_argument(
        "--shutdown", action="store_true", default=default, help="the module has been shut down"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=default,
        metavar="[FIELD=]STATUS[:COUNT]",
        help="answer STATUS (name or number) on calls touching FIELD (a name or id; "
        "omitted: every call), COUNT times or always; repeatable",
    )
    p.add_argument(
        "--set",
        action="append",
        default=default,
        metavar="FIELD=VALUE[,VALUE...]",
        help="override values without checks, e.g. NUM_CPUID_CONFIG=200; repeatable",
    )


def _no_verb(p) -> int:
    from codegen.cli.common import UsageError

    raise UsageError("sim needs a subcommand: rd, rdall, walk, dump, serve or batch")


# -- building the simulator ------------------------------------------------------


def build_simulator(args):
    """(Simulator, Catalogue) the options describe, or an int exit status after diagnostics."""
    from codegen.cli.common import EXIT_INVALID, UsageError, load_catalogue, profile_path, report
    from codegen.sim import profile
    from codegen.sim import replay as replay_module
    from codegen.sim.simulator import Simulator

    spec, replay = getattr(args, "profile", None), getattr(args, "replay", None)
    if (spec is None) == (replay is None):
        names = ", ".join(profile.profile_names(args.schema)) or "none"
        raise UsageError(f"give --profile NAME|FILE or --replay FILE (profiles: {names})")
    if "-" in (spec, str(replay)) and args.func is cmd_batch:
        raise UsageError("batch reads its calls on stdin: give the module as a file, not -")
    if spec is not None:
        path = profile_path(spec, args.schema)
    catalogue = load_catalogue(args)
    if catalogue is None:
        return EXIT_INVALID
    try:
        module = (
            profile.load_profile(path, catalogue)
            if spec is not None
            else replay_module.load_replay(replay, catalogue)
        )
    except profile.ProfileError as exc:
        report(args, exc.diagnostics)
        return EXIT_INVALID
    sim = Simulator(
        module,
        lp_init=not getattr(args, "no_lp_init", False),
        shutdown=getattr(args, "shutdown", False),
    )
    for text in getattr(args, "set", None) or ():
        _apply_set(sim, text)
    for text in getattr(args, "fault", None) or ():
        _apply_fault(sim, text)
    return sim, catalogue


def _field_name(sim, text: str) -> str:
    """A field given by ABI name or by any id of its elements."""
    from codegen.abi import fieldid
    from codegen.cli.common import UsageError

    if text in sim._index:
        return text
    try:
        found = sim._locate(fieldid.parse(text))
    except ValueError:
        found = None
    if found is None:
        raise UsageError(f"'{text}' is not a field of module {sim.module.name}")
    return sim.fields[found[0]].name


def _apply_set(sim, text: str) -> None:
    from codegen.cli.common import UsageError

    name, sep, values = text.partition("=")
    if not sep:
        raise UsageError(f"--set {text}: expected FIELD=VALUE[,VALUE...]")
    from codegen.chars import ascii_int, escape

    try:
        vals = [ascii_int(v) for v in values.split(",")]
    except ValueError:
        raise UsageError(
            f"--set {escape(text)}: values are integers (0x... or decimal, ASCII digits)"
        ) from None
    if any(not 0 <= v < 1 << 64 for v in vals):
        raise UsageError(f"--set {text}: values must fit in 64 bits")
    sim.set_value(_field_name(sim, name), vals)


def _apply_fault(sim, text: str) -> None:
    from codegen.abi import status
    from codegen.cli.common import UsageError

    target, sep, rest = text.rpartition("=")
    code, _, count = rest.partition(":")
    try:
        value = status.parse(code)
        if count and not (count.isascii() and count.isdigit()):
            raise ValueError(
                f"COUNT '{count.encode('ascii', 'backslashreplace').decode()}' is "
                "not a decimal number"
            )
        times = int(count) if count else None
    except ValueError as exc:
        raise UsageError(f"--fault {text}: {exc}") from None
    if times is not None and times < 1:
        raise UsageError(f"--fault {text}: COUNT must be at least 1")
    sim.inject(_field_name(sim, target) if sep else None, value, times)


def _run(args, body) -> int:
    built = build_simulator(args)
    if isinstance(built, int):
        return built
    sim, catalogue = built
    return body(sim, catalogue)


# -- subcommands -------------------------------------------------------------------


def _describe(sim, field_id: int) -> str:
    from codegen.abi import fieldid

    if field_id == fieldid.NULL_ID:
        return "-1"
    found = sim._locate(field_id)
    if found is None:
        return "?"
    f = sim.fields[found[0]]
    index, element = divmod(found[1], f.num_elements)
    where = f.name + (f"[{index}]" if f.is_array else "")
    return where + (f".{element}" if f.num_elements > 1 else "")


def _field_of(sim, field_id: int) -> str | None:
    """The element an id names (CMR_BASE[3]), for JSON: None for -1 and ids of no field."""
    where = _describe(sim, field_id)
    return None if where in ("-1", "?") else where


def _parse_id(text: str) -> int:
    from codegen.abi import fieldid
    from codegen.cli.common import UsageError

    try:
        return fieldid.parse(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def registers(regs) -> dict:
    """Output registers as batch and --format json give them: 64-bit hex strings."""
    return {"rax": _hex(regs.rax), "rdx": _hex(regs.rdx), "r8": _hex(regs.r8)}


def _hex(value: int) -> str:
    return f"0x{value:016x}"


def _status(regs) -> dict:
    """The registers of a call with its status's name, for --format json."""
    from codegen.abi import status

    return {**registers(regs), "status": status.name(regs.rax)}


def _seamcall_error(args, what: str, regs) -> None:
    """With --format json, an error status is a diagnostic (the text shows it in its line)."""
    from codegen.abi import status
    from codegen.cli.common import json_mode, problem

    if json_mode(args):
        problem(args, "SEAMCALL-ERROR", f"{what}: {status.name(regs.rax)} ({_hex(regs.rax)})")


def cmd_rd(args) -> int:
    from codegen.abi import fieldid, status
    from codegen.cli.common import emit, field_id, json_mode, parse_id

    for text in args.ids:  # a bad id is a usage error before the module is built
        parse_id(text)

    def body(sim, catalogue) -> int:
        failed, calls = False, []
        for text in args.ids:
            fid = field_id(text, catalogue)
            regs, _ = sim.call(status.TDH_SYS_RD, 0, fid, 0)
            where = _describe(sim, fid)
            calls.append(
                {
                    "id": _hex(fid),
                    "field": _field_of(sim, fid),
                    **_status(regs),
                    "next": _field_of(sim, regs.rdx),
                }
            )
            if status.is_error(regs.rax):
                failed = True
                _seamcall_error(args, f"TDH.SYS.RD of {fieldid.canonical(fid)}", regs)
            if not json_mode(args):
                print(
                    f"{fieldid.canonical(fid)}  {where:<28}  rax={fieldid.canonical(regs.rax)} "
                    f"{status.name(regs.rax)}  rdx={fieldid.canonical(regs.rdx)}  "
                    f"r8={fieldid.canonical(regs.r8)}"
                )
        emit(args, calls=calls)
        return 1 if failed else 0

    return _run(args, body)


def cmd_rdall(args) -> int:
    from codegen.abi import fieldid, rdall_list, status
    from codegen.cli.common import emit, field_id, parse_id

    parse_id(args.id)
    page = _parse_id(args.page)

    def body(sim, catalogue) -> int:
        start = field_id(args.id, catalogue)
        regs, written = sim.call(status.TDH_SYS_RDALL, 0, page, start)
        failed = status.is_error(regs.rax)
        if failed:
            _seamcall_error(args, f"TDH.SYS.RDALL from {fieldid.canonical(start)}", regs)
        seqs = rdall_list.parse(written) if written is not None else []
        if emit(
            args,
            id=_hex(start),
            page_address=_hex(page),
            **_status(regs),
            page=written.hex() if written is not None else None,
            sequences=[
                {
                    "header": _hex(seq.header),
                    "num_fields": seq.num_fields,
                    "num_elements": seq.num_elements,
                    "elements": [
                        {"id": _hex(eid), "field": _field_of(sim, eid), "value": _hex(value)}
                        for eid, value in seq.element_ids()
                    ],
                }
                for seq in seqs
            ],
        ):
            return 1 if failed else 0
        rax, r8 = fieldid.canonical(regs.rax), fieldid.canonical(regs.r8)
        print(f"rax={rax} {status.name(regs.rax)}  r8={r8}")
        if written is None:
            print("nothing written")
            return 1 if failed else 0
        header = int.from_bytes(written[:8], "little")
        header_text = fieldid.canonical(header)
        print(f"list header {header_text}: {len(written)} bytes, {len(seqs)} sequences")
        for seq in seqs:
            print(
                f"  {fieldid.canonical(seq.header)}  {seq.num_fields} field(s) x "
                f"{seq.num_elements} element(s)"
            )
            for eid, value in seq.element_ids():
                eid_text, value_text = fieldid.canonical(eid), fieldid.canonical(value)
                print(f"    {eid_text}  {_describe(sim, eid):<28}  {value_text}")
        return 0

    return _run(args, body)


def cmd_walk(args) -> int:
    from codegen.abi import fieldid, status
    from codegen.cli.common import emit, json_mode, problem

    def body(sim, catalogue) -> int:
        elements: list[dict[str, str | None]] = []
        for fid, rax, value in sim.walk():
            if rax != status.TDX_SUCCESS:
                if json_mode(args):
                    problem(
                        args,
                        "SEAMCALL-ERROR",
                        f"TDH.SYS.RD of {fieldid.canonical(fid)}: {status.name(rax)} ({_hex(rax)})",
                    )
                    emit(args, elements=elements, count=len(elements))
                else:
                    print(f"{fieldid.canonical(fid)}  {status.name(rax)}", file=sys.stderr)
                return 1
            elements.append({"id": _hex(fid), "field": _field_of(sim, fid), "value": _hex(value)})
            if not json_mode(args):
                fid_text, value_text = fieldid.canonical(fid), fieldid.canonical(value)
                print(f"{fid_text}  {_describe(sim, fid):<28}  {value_text}")
        if not emit(args, elements=elements, count=len(elements)):
            print(f"{len(elements)} elements, then -1")
        return 0

    return _run(args, body)


def cmd_dump(args) -> int:
    from codegen.cli.common import UsageError
    from codegen.sim import replay

    if args.format == "pages" and args.output is None and sys.stdout.isatty():
        raise UsageError("--format pages writes binary: give -o FILE or redirect stdout")

    def body(sim, catalogue) -> int:
        if args.format == "json":
            data = replay.dump_json(sim).encode()
        else:
            sim.lp_init, sim.shutdown = True, False  # a dump is of the values, not the state
            data = b"".join(sim.dump_pages())
        if args.output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            _write_file(args.output, data)
        return 0

    return _run(args, body)


def _write_file(path: Path, data: bytes) -> None:
    """Write all of data or nothing (the build's atomic write)."""
    from codegen.cli.common import UsageError
    from codegen.outputs.writer import atomic_write_bytes

    try:
        if not path.parent.is_dir():  # a dump goes into an existing directory, as before
            raise FileNotFoundError(2, "No such file or directory")
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_serve(args) -> int:
    from codegen.cli.common import UsageError
    from codegen.sim import address, server

    if args.max_clients < 1:
        raise UsageError("--max-clients must be at least 1")
    if not args.stall_timeout > 0:
        raise UsageError("--stall-timeout must be a positive number of seconds")
    try:  # checked before the module is built, and again when the socket file is claimed
        tcp = address.parse_tcp(args.tcp) if args.tcp else None
        if args.unix is not None:
            address.check_unix_path(args.unix)
    except address.AddressError as exc:
        raise UsageError(str(exc)) from None

    def body(sim, catalogue) -> int:
        gc.enable()  # serves for hours: see main()
        try:
            return server.serve(
                sim,
                unix=args.unix,
                tcp=tcp,
                max_clients=args.max_clients,
                stall_timeout=args.stall_timeout,
            )
        except address.AddressError as exc:
            raise UsageError(str(exc)) from None

    return _run(args, body)


def cmd_batch(args) -> int:
    def body(sim, catalogue) -> int:
        gc.enable()  # reads its input for as long as it comes: see main()
        failed = False
        for n, line in enumerate(getattr(sys.stdin, "buffer", sys.stdin), 1):
            if not line.strip():
                continue
            out = batch_call(sim, line, n)
            failed |= "error" in out
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
        return 1 if failed else 0

    return _run(args, body)


def batch_call(sim, line: bytes | str, n: int) -> dict:
    """One batch line -> the output object (registers, page, or an error)."""
    from codegen import chars
    from codegen.abi import status
    from codegen.sim import json_input

    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        call = json.loads(text, object_pairs_hook=json_input.no_duplicates)
    except UnicodeDecodeError as exc:
        return {
            "error": f"line {n}: not UTF-8: byte {line[exc.start]:#04x} at column {exc.start + 1}"
        }
    except RecursionError:
        try:
            json_input.load(text)
        except json_input.JsonError as exc:  # where it nests too deep
            return {"error": f"line {n}: not JSON: {exc.message} (column {exc.col})"}
        raise
    except json_input.DuplicateKey as exc:
        return {"error": f"line {n}: not JSON: duplicate key {exc.args[0]!r}"}
    except ValueError as exc:
        # int() refuses a number that long, with no position
        found = None if isinstance(exc, json.JSONDecodeError) else chars.long_number(text)
        why = f"{found[0]} at column {found[2]}" if found else str(exc)
        return {"error": f"line {n}: not JSON: {why}"}
    if not isinstance(call, dict):
        return {"error": f'line {n}: expected an object such as {{"leaf": 34, "rdx": "0x0"}}'}
    unknown = sorted(set(call) - {"leaf", "rcx", "rdx", "r8"})
    if unknown:
        return {"error": f"line {n}: unknown key(s) {', '.join(unknown)}"}
    regs = {}
    for key in ("leaf", "rcx", "rdx", "r8"):
        raw = call.get(key, 0)
        if isinstance(raw, str):
            try:
                raw = chars.ascii_int(raw, 16 if raw.lower().startswith("0x") else 10)
            except ValueError:
                return {"error": f'line {n}: {key} {raw!r} is not a number (write "0x...")'}
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < 1 << 64:
            return {"error": f"line {n}: {key} must be a 64-bit value"}
        regs[key] = raw
    if "leaf" not in call:
        return {"error": f'line {n}: missing "leaf" (34 TDH.SYS.RD, 37 TDH.SYS.RDALL)'}
    out, written = sim.call(regs["leaf"], regs["rcx"], regs["rdx"], regs["r8"])
    result = registers(out)
    if regs["leaf"] & 0xFFFF == status.TDH_SYS_RDALL and written is not None:
        result["page"] = written.hex()
    return result
