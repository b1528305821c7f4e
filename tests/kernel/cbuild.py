"""Build and run the generated kernel reader against a fake TDH.SYS.RD.

Used by tests (pytest puts tests/ on sys.path):

    from kernel import cbuild
    cat = cbuild.with_kernel(catalogue, flavor="functions", init=False)
    values = cbuild.default_values(cat)          # element id -> value, every field
    dump = cbuild.build_and_run(cat, tmp_path, values)
    dump.ret, dump.members["td_conf.cpuid_config_values[3][1]"], dump.reads, dump.stderr

build_and_run() writes the two generated files under tmp_path/out (as
`tdx-codegen build` writes them), a tdx_dump.h for harness.c and, unless a
fake C file is given, fake_values.h for fake_table.c; compiles with
GCC_FLAGS against the shim in tests/kernel/include, runs and parses the
output (format documented in harness.c).  A caller with its own fake
(e.g. one backed by the simulator) passes fake_c=path: a C file defining
`int fake_read(u64 field_id, u64 *data)` (its directory is on the include
path), extra_c=(paths of further C files) and env={...} for the run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from codegen.abi import fieldid
from codegen.abi.release import VERSION_FIELDS
from codegen.emitters import EmitContext, kernel_c
from codegen.spec.model import Catalogue, Field

HERE = Path(__file__).resolve().parent
SHIM = HERE / "include"
HARNESS = HERE / "harness.c"
FAKE_TABLE = HERE / "fake_table.c"
GCC_FLAGS = ("-std=gnu11", "-Wall", "-Wextra", "-Werror")
KEY_MASK = fieldid.FIELD_CODE_MASK | fieldid.replace(0, CLASS_CODE=fieldid.MAX_CLASS)


class BuildError(Exception):
    """gcc rejected the generated code: its diagnostics are the message."""


@dataclass
class Dump:
    ret: int
    members: dict[str, int]  # "struct.member[i][j]" -> value
    reads: list[int] = field(default_factory=list)  # ids fake_table.c was asked for
    stderr: str = ""
    apart_ret: dict[str, int] = field(default_factory=dict)  # struct read on its own -> ret
    apart_reads: list[int] = field(default_factory=list)  # the ids those reads asked for


def with_kernel(catalogue: Catalogue, **changes) -> Catalogue:
    """The catalogue with [kernel] settings changed (flavor, structs, init, named_ids, ...)."""
    if "structs" in changes:
        changes["structs"] = tuple(changes["structs"])
    if "exclude_fields" in changes:
        changes["exclude_fields"] = frozenset(changes["exclude_fields"])
    kernel = dataclasses.replace(catalogue.settings.kernel, **changes)
    settings = dataclasses.replace(catalogue.settings, kernel=kernel)
    return dataclasses.replace(catalogue, settings=settings)


def generate(catalogue: Catalogue, out: Path, flavor: str | None = None) -> dict[str, str]:
    """Write the kernel files under out; return path -> text."""
    ctx = EmitContext(catalogue, flavor or catalogue.settings.kernel.flavor)
    files = {}
    for o in kernel_c.emit(ctx):
        text = o.content
        target = out / o.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        files[o.path] = text
    return files


def kernel_fields(catalogue: Catalogue, apart: bool = False):
    """(struct, field) of every member get_tdx_sys_info() reads (apart: the structs read
    on their own, outside it), in struct order."""
    for s in catalogue.output_structs("kernel"):
        if catalogue.settings.kernel.struct_options(s.name).in_sysinfo != apart:
            for f in catalogue.output_fields("kernel", s):
                yield s, f


def sysinfo_member(catalogue: Catalogue, s) -> str:
    """The member of struct tdx_sys_info that holds struct s."""
    return catalogue.settings.kernel.struct_options(s.name).member


def gate_test(catalogue: Catalogue, gate) -> str:
    """C test of a gate over the struct tdx_sys_info at s."""

    def member(name):
        f = catalogue.field(name)
        return f"s->{sysinfo_member(catalogue, catalogue.struct(f.struct))}.{f.member}"

    if gate.release is not None:
        major, minor, update = (member(n) for n in VERSION_FIELDS)
        return (
            f"((unsigned int){major} << 16 | (unsigned int){minor} << 8 | {update}) >= "
            f"{gate.release.code:#x}"
        )
    return f"{member(gate.feature_field)} >> {gate.bit} & 1"


def _print_members(pairs, base) -> list[str]:
    lines = []
    for s, f in pairs:
        m = f"{base(s)}.{f.member}"
        name = f"{s.name}.{f.member}"
        if not f.dims:
            lines.append(f'\tprintf("{name}=0x%llx\\n", (unsigned long long){m});')
        elif len(f.dims) == 1:
            lines.append(f"\tfor (i = 0; i < {f.dims[0]}; i++)")
            lines.append(f'\t\tprintf("{name}[%u]=0x%llx\\n", i, (unsigned long long){m}[i]);')
        else:
            lines.append(f"\tfor (i = 0; i < {f.dims[0]}; i++)")
            lines.append(f"\t\tfor (j = 0; j < {f.dims[1]}; j++)")
            lines.append(
                f'\t\t\tprintf("{name}[%u][%u]=0x%llx\\n", i, j, (unsigned long long){m}[i][j]);'
            )
    return lines


def dump_header(catalogue: Catalogue) -> str:
    """tdx_dump.h: dump_sysinfo() printing every element of every member, and dump_apart()
    reading each struct read on its own (as tdx.c's module-update code does) and printing it."""
    lines = [
        "static void dump_sysinfo(const struct tdx_sys_info *s)",
        "{",
        "\tunsigned int i, j;",
        "",
    ]
    lines += _print_members(
        kernel_fields(catalogue), lambda s: f"s->{sysinfo_member(catalogue, s)}"
    )
    lines += ["\t(void)i;", "\t(void)j;", "}", ""]
    apart = [
        s
        for s in catalogue.output_structs("kernel")
        if not catalogue.settings.kernel.struct_options(s.name).in_sysinfo
        and catalogue.output_fields("kernel", s)
    ]
    lines += [
        "static void dump_apart(const struct tdx_sys_info *s)",
        "{",
        "\tunsigned int i, j;",
        "",
    ]
    lines += [f"\tstatic struct {a.c_name} apart_{a.name};" for a in apart]
    lines.append('\tprintf("apart\\n");')
    for a in apart:
        reader = catalogue.settings.kernel.struct_options(a.name).reader
        call = f'\tprintf("ret.{a.name}=%d\\n", {reader}(&apart_{a.name}));'
        if a.gate is None:
            lines.append(call)
        else:  # as the kernel's caller, which reads the struct only where the module has it
            lines += [f"\tif ({gate_test(catalogue, a.gate)})", "\t" + call]
    lines += _print_members(kernel_fields(catalogue, apart=True), lambda s: f"apart_{s.name}")
    lines += ["\t(void)i;", "\t(void)j;", "\t(void)s;", "}", ""]
    return "\n".join(lines)


def fake_values_header(values: dict[int, int], errors: dict[int, int] | None = None) -> str:
    """fake_values.h for fake_table.c: values and errors by element id."""
    rows = [(fid, v, 0) for fid, v in values.items() if fid not in (errors or {})]
    rows += [(fid, 0, err) for fid, err in (errors or {}).items()]
    lines = [
        f"#define FAKE_KEY_MASK {KEY_MASK:#x}ULL",
        "",
        "static const struct fake_value fake_values[] = {",
    ]
    for fid, v, err in sorted(rows):
        lines.append(f"\t{{ {fid:#018x}ULL, {v:#x}ULL, {err} }},")
    lines += ["\t{ ~0ULL, 0, -EIO },\t/* never matches a declared field */", "};", ""]
    return "\n".join(lines)


def compile_reader(
    build: Path, out: Path, fake_c: Path | None = None, extra_c: tuple[Path, ...] = ()
) -> Path:
    """gcc harness.c + the fake (+ extra C files, e.g. a client library) -> executable."""
    exe = build / "harness"
    fake = Path(fake_c or FAKE_TABLE)
    cmd = [
        "gcc",
        *GCC_FLAGS,
        f"-I{SHIM}",
        f"-I{build}",
        f"-I{fake.parent}",
        f"-I{out / 'linux/arch/x86/include'}",
        f"-I{out / 'linux/arch/x86/virt/vmx/tdx'}",
        str(HARNESS),
        str(fake),
        *map(str, extra_c),
        "-o",
        str(exe),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise BuildError(proc.stderr)
    return exe


def run(exe: Path, env: dict[str, str] | None = None) -> Dump:
    """Run the harness (env: extra environment variables for the fake)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([str(exe)], capture_output=True, text=True, check=True, env=full_env)
    return parse(proc.stdout, proc.stderr)


_LINE = re.compile(r"^([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*(?:\[\d+\])*)=0x([0-9a-f]+)$")


def parse(stdout: str, stderr: str = "") -> Dump:
    ret = None
    members: dict[str, int] = {}
    reads: list[int] = []
    apart_ret: dict[str, int] = {}
    apart_reads: list[int] = []
    for line in stdout.splitlines():
        if line.startswith("ret="):
            ret = int(line[4:])
        elif line == "apart":
            reads, main_reads = apart_reads, reads
        elif line.startswith("ret."):
            name, _, value = line[4:].partition("=")
            apart_ret[name] = int(value)
        elif line.startswith("rd="):
            reads.append(int(line[3:], 16))
        elif m := _LINE.match(line):
            members[m.group(1)] = int(m.group(2), 16)
    if ret is None:
        raise ValueError(f"harness printed no ret= line:\n{stdout}{stderr}")
    if reads is apart_reads:
        reads = main_reads
    return Dump(ret, members, reads, stderr, apart_ret, apart_reads)


def build_and_run(
    catalogue: Catalogue,
    tmp: Path,
    values: dict[int, int] | None = None,
    errors: dict[int, int] | None = None,
    *,
    flavor: str | None = None,
    fake_c: Path | None = None,
    extra_c: tuple[Path, ...] = (),
    env: dict[str, str] | None = None,
) -> Dump:
    out, build = tmp / "out", tmp / "build"
    build.mkdir(parents=True, exist_ok=True)
    generate(catalogue, out, flavor)
    (build / "tdx_dump.h").write_text(dump_header(catalogue))
    if fake_c is None:
        (build / "fake_values.h").write_text(fake_values_header(values or {}, errors))
    return run(compile_reader(build, out, fake_c, extra_c), env)


# -- values a fake module serves, and what the reader must make of them --------


def element_ids(f: Field):
    """(id, field index, element) of every element of a field, in id order."""
    for i in range(f.num_fields):
        for j in range(f.num_elements):
            yield f.element_id(i, j), i, j


def mask(nbytes: int) -> int:
    return (1 << (8 * nbytes)) - 1


def default_values(catalogue: Catalogue) -> dict[int, int]:
    """A deterministic value for every element of every field.

    Distinct per element and masked to the element size, as TDH.SYS.RD
    returns them; count fields hold the number of fields of the arrays
    they count, flag fields have every named bit set.
    """
    counts: dict[str, int] = {}
    for f in catalogue.fields:
        if f.count:
            counts[f.count] = max(counts.get(f.count, 0), f.num_fields)
    values = {}
    for f in catalogue.fields:
        for fid, i, j in element_ids(f):
            if f.name in counts:
                v = counts[f.name]
            elif f.bits:
                v = sum(1 << b.bit for b in f.bits)
            else:
                v = (f.class_code << 48) ^ (f.field_code << 20) ^ (i << 8) ^ (j + 1) ^ 0x5A5A5A5A
            values[fid] = v & mask(f.element_size)
    return values


def expected(catalogue: Catalogue, values: dict[int, int]) -> dict[str, int]:
    """What a correct reader leaves in every member element, from the schema alone.

    Gated structs and fields whose gate is closed stay zero; arrays hold the
    live-count elements (all module fields when there is no count) and zero
    beyond; a truncate field keeps the low bytes of the element.
    """
    got: dict[str, int] = {}

    def read(f: Field) -> int:
        return values.get(f.id, 0)

    def open_gate(gate) -> bool:
        if gate is None:
            return True
        if gate.release is not None:
            major, minor, update = (read(catalogue.field(n)) for n in VERSION_FIELDS)
            return (major << 16 | minor << 8 | update) >= gate.release.code
        return bool(read(catalogue.field(gate.feature_field)) >> gate.bit & 1)

    # a struct read on its own is read, as by its caller, only when its gate is open
    for s, f in list(kernel_fields(catalogue)) + list(kernel_fields(catalogue, apart=True)):
        live = open_gate(s.gate) and open_gate(f.gate)
        fields = f.num_fields if f.count is None else read(catalogue.field(f.count))
        for i in range(f.capacity if f.num_fields > 1 else 1):
            for j in range(f.num_elements):
                name = (
                    f"{s.name}.{f.member}"
                    + (f"[{i}]" if f.num_fields > 1 else "")
                    + (f"[{j}]" if f.num_elements > 1 else "")
                )
                v = values.get(f.element_id(i, j), 0) if live and i < fields else 0
                got[name] = v & mask(f.member_bytes)
    return got
