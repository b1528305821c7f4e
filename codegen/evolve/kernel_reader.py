"""Read a kernel tree's tdx_global_metadata.{c,h}: what they declare and what they read.

The files come in several styles: what an earlier generator wrote, the
same files edited by hand in development trees, and this project's own
output in both C flavours.  This reader knows the statements those styles
are made of, not one layout:

    struct tdx_sys_info_X { u16 member; u64 array[N]; ... };      header
    #define MD_FIELD_ID_NAME 0x...ULL                               named ids
    [static] [__init] int READER(struct tdx_sys_info_X *PARAM)      a reader
        read_sys_metadata_field(ID [+ i [* N + j]], &val)           a read
        PARAM->member[i][j] = [(uNN)]val;                           its target
        for (i = 0; i < PARAM->count; i++)                          live count
        if (PARAM->count > ARRAY_SIZE(...)) return -EINVAL;         guard
        if (!ret && !(ret = read...)) / ret = read...; if (ret) return ret;
    int get_tdx_sys_info(struct tdx_sys_info *sysinfo)              top level
        [if (sysinfo->S.M & BIT_NAME) | if (helper(sysinfo))]       gate
        ret = ret ?: READER(&sysinfo->MEMBER);                      a struct read
        pr_info("..." FMT "\\n", sysinfo->S.M, ...);                 the print
    TD_SYSINFO_MAP(ID, member) / TD_SYSINFO_MAP_TRUNCATE(ID, member) map flavour

Everything is returned with the line it was read at; a statement that
reads metadata but matches none of these is reported, located, never
guessed at.  Standard library only.

Over 400 lines on purpose: a pattern and a reader for each statement above,
which must agree on the line numbers they report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codegen.abi import fieldid
from codegen.spec import names


def _c(pattern: str) -> re.Pattern[str]:
    """A pattern over C text: \\w and \\d are ASCII, as C's identifiers and numbers are
    (a member named with another letter is then a line that cannot be read, at its line)."""
    return re.compile(pattern, re.ASCII)


_HEX = r"0x[0-9A-Fa-f]{1,16}(?:ULL|ull|UL|ul|U|u)?"
RE_STRUCT = _c(r"^struct (\w+) \{$")
RE_MEMBER = _c(r"^\t(?:(u8|u16|u32|u64)|struct (\w+)) (\w+)((?:\[\w+\])*);$")
RE_DEFINE = _c(rf"^#define (MD_FIELD_ID_\w+)\s+\(?({_HEX})\)?\s*$")
RE_GUARD = _c(r"^#ifndef (\w+)$")
RE_INCLUDE = _c(r"^#include <([\w/.-]+)>$")
RE_FUNC = _c(r"^(static )?(__init )?int (?:__init )?(\w+)\(struct (\w+) \*(\w+)(\)|,)$")
# A reader whose fields are gated on another struct's flags takes struct tdx_sys_info too.
RE_FUNC_MORE = _c(r"^\s+const struct tdx_sys_info \*sysinfo\)$")
RE_FIELD_GATE = _c(r"^\s*if \(sysinfo->(\w+)\.(\w+) & (\w+)\) \{$")
RE_READ = _c(r"read_sys_metadata_field(?:\d+)?\(\s*([^,]+?)\s*,\s*&?\s*(\w+)\s*\)")
RE_ID_EXPR = _c(rf"^(?:({_HEX})|(MD_FIELD_ID_\w+))(?:\s*\+\s*i(?:\s*\*\s*(\d+)\s*\+\s*j)?)?$")
RE_ASSIGN = _c(r"^\s*(\w+)->(\w+)((?:\[[ij]\])*)\s*=\s*(?:\((u8|u16|u32|u64)\)\s*)?(\w+);")
RE_FOR = _c(
    r"^\s*for \(([ij]) = 0; \1 < (?:(\w+)->(\w+)|(\d+)|ARRAY_SIZE\(\w+->\w+\)); "
    r"\1\+\+\)"
)
RE_GUARD_SIZE = _c(r"^\s*if \((\w+)->(\w+) > ARRAY_SIZE\((\w+)->(\w+)\)\)$")
RE_CALL = _c(r"^\s*ret = ret \?: (\w+)\(&sysinfo->(\w+)(?:, sysinfo)?\);$")
RE_CALL_EARLY = _c(r"^\s*ret = (\w+)\(&sysinfo->(\w+)\);$")
RE_GATE_BIT = _c(r"^\s*if \(sysinfo->(\w+)\.(\w+) & (\w+)\)$")
RE_GATE_HELPER = _c(r"^\s*if \((\w+)\(sysinfo\)\)$")
RE_PRINT = _c(r"^\s*pr_info\((.*)$")
RE_PRINT_ARG = _c(r"sysinfo->(\w+)\.(\w+)")
RE_MAP = _c(
    rf"TD_SYSINFO_MAP(?:_TRUNCATE)?\(\s*(?:({_HEX})|(?:MD_FIELD_ID_)?(\w+))\s*,"
    r"\s*(\w+)\s*\)"
)
RE_TOP = _c(
    r"^(static )?(__init )?int (?:__init )?get_tdx_sys_info\(struct tdx_sys_info "
    r"\*sysinfo\)$"
)


@dataclass(frozen=True)
class Member:
    name: str
    ctype: str  # u8..u64, or "struct NAME"
    dims: tuple[str, ...]  # "128" or a macro name, as written
    line: int


@dataclass
class StructDecl:
    name: str  # C struct name: tdx_sys_info_tdmr
    members: list[Member]
    line: int


@dataclass(frozen=True)
class Read:
    """One read_sys_metadata_field() and the member it fills."""

    id: int  # base id as written (bit 63 and all)
    member: str
    indices: int  # 0 scalar, 1 [i], 2 [i][j]
    stride: int  # N of "+ i * N + j" (elements per field), else 1
    count: str | None  # member of the same struct bounding the loop over i
    cast: str | None  # (u32)val
    line: int
    gate_bit: str | None = None  # read inside `if (sysinfo->S.M & BIT) {`


@dataclass
class Reader:
    name: str  # get_tdx_sys_info_tdmr
    struct: str  # C struct it fills
    param: str  # sysinfo_tdmr
    static: bool
    init: bool
    idiom: str  # "chain": if (!ret && !(ret = ...)); "early": if (ret) return ret
    array_guard: bool  # ARRAY_SIZE checks before the loops
    reads: list[Read]
    line: int
    takes_sysinfo: bool = False  # a second parameter: const struct tdx_sys_info *sysinfo


@dataclass(frozen=True)
class TopCall:
    reader: str
    member: str  # &sysinfo->MEMBER
    gate_bit: str | None  # TDX_FEATURES0_X, tested on sysinfo->STRUCT.MEMBER
    gate_member: tuple[str, str] | None
    gate_helper: str | None  # tdx_supports_runtime_update
    line: int


@dataclass
class Top:
    static: bool
    init: bool
    calls: list[TopCall]
    print_format: str | None  # the pr_info text between the parentheses' first argument
    print_members: list[tuple[str, str]]
    print_after: str | None  # the reader called just before the print
    line: int


@dataclass
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class TreeFiles:
    """What a tree's two files say."""

    header_path: str
    source_path: str
    header_banner: list[str] = field(default_factory=list)
    source_banner: list[str] = field(default_factory=list)
    guard: str | None = None
    includes: list[str] = field(default_factory=list)
    structs: dict[str, StructDecl] = field(default_factory=dict)
    defines: dict[str, int] = field(default_factory=dict)
    readers: dict[str, Reader] = field(default_factory=dict)
    top: Top | None = None
    map_entries: list[tuple[int, str, int]] = field(default_factory=list)  # (id, member, line)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, file: str, line: int, message: str) -> None:
        self.problems.append(Problem(file, line, message))


def _banner(lines: list[str]) -> tuple[list[str], int]:
    """The leading comment lines (SPDX and banner), and the index after them."""
    out, i = [], 0
    in_block = False
    while i < len(lines):
        text = lines[i]
        if in_block or text.startswith(("/*", "//")):
            out.append(text)
            in_block = (in_block or text.startswith("/*")) and "*/" not in text
            i += 1
            continue
        break
    return out, i


def read_header(tf: TreeFiles, text: str) -> None:
    lines = text.split("\n")
    tf.header_banner, start = _banner(lines)
    current: StructDecl | None = None
    for n, line in enumerate(lines[start:], start + 1):
        if current is not None:
            if line == "};":
                tf.structs[current.name] = current
                current = None
                continue
            m = RE_MEMBER.match(line)
            if m:
                ctype = m.group(1) or f"struct {m.group(2)}"
                dims = tuple(re.findall(r"\[(\w+)\]", m.group(4)))
                current.members.append(Member(m.group(3), ctype, dims, n))
            elif line.strip() and not line.strip().startswith(("/*", "*", "//")):
                tf.problem(
                    tf.header_path,
                    n,
                    f"struct {current.name}: cannot read member "
                    f"line '{_cut(line)}' (expected '<u8|u16|u32|u64> name[N];')",
                )
            continue
        if (m := RE_GUARD.match(line)) and tf.guard is None:
            tf.guard = m.group(1)
        elif m := RE_INCLUDE.match(line):
            tf.includes.append(m.group(1))
        elif m := RE_STRUCT.match(line):
            current = StructDecl(m.group(1), [], n)
    if current is not None:
        tf.problem(tf.header_path, current.line, f"struct {current.name} is never closed")
    if tf.guard is None:
        tf.problem(tf.header_path, 1, "no include guard (expected '#ifndef NAME')")


def _parse_id(tf: TreeFiles, expr: str, n: int) -> tuple[int, int, int] | None:
    """(id, indices, stride) of a read's id expression."""
    m = RE_ID_EXPR.match(expr.strip())
    if not m:
        tf.problem(
            tf.source_path,
            n,
            f"cannot read the field id expression '{_cut(expr)}' "
            "(expected 0x<id>, MD_FIELD_ID_<NAME>, '+ i' or '+ i * N + j')",
        )
        return None
    hex_text, name, stride = m.groups()
    if name is not None:
        if name not in tf.defines:
            tf.problem(tf.source_path, n, f"{name} is not defined in this file")
            return None
        fid = tf.defines[name]
    else:
        fid = fieldid.parse(_strip_suffix(hex_text))
    indices = 0 if "+" not in expr else (2 if stride else 1)
    return fid, indices, int(stride) if stride else 1


def _strip_suffix(text: str) -> str:
    return text.rstrip("uUlL")


def _cut(text: str, width: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def read_source(tf: TreeFiles, text: str) -> None:
    lines = text.split("\n")
    tf.source_banner, start = _banner(lines)
    n = start
    while n < len(lines):
        line = lines[n]
        num = n + 1
        if m := RE_DEFINE.match(line):
            tf.defines[m.group(1)] = fieldid.parse(_strip_suffix(m.group(2)))
        elif m := RE_TOP.match(line):
            n = _read_top(tf, lines, n, bool(m.group(1)), bool(m.group(2)))
            continue
        elif m := RE_FUNC.match(line):
            if m.group(6) == "," and not (n + 1 < len(lines) and RE_FUNC_MORE.match(lines[n + 1])):
                tf.problem(
                    tf.source_path,
                    num,
                    f"cannot read the parameters of {m.group(3)} "
                    "(expected '(struct NAME *PARAM)' or a second 'const struct "
                    "tdx_sys_info *sysinfo')",
                )
            n = _read_reader(tf, lines, n + (m.group(6) == ","), m)
            continue
        elif "TD_SYSINFO_MAP" in line and "#define" not in line:
            m = RE_MAP.search(line)
            if m:
                fid = (
                    fieldid.parse(_strip_suffix(m.group(1)))
                    if m.group(1)
                    else tf.defines.get(names.id_define(m.group(2)))
                )
                if fid is None:
                    tf.problem(tf.source_path, num, f"{names.id_define(m.group(2))} is not defined")
                else:
                    tf.map_entries.append((fid, m.group(3), num))
        elif RE_READ.search(line):
            tf.problem(tf.source_path, num, "a metadata read outside any reader function")
        n += 1


def _body(lines: list[str], n: int) -> int:
    """Index of the closing '}' of the function whose header is at lines[n]."""
    end = n + 1
    while end < len(lines) and lines[end] != "}":
        end += 1
    return end


def _read_reader(tf: TreeFiles, lines: list[str], n: int, m: re.Match[str]) -> int:
    static, init = bool(m.group(1)), bool(m.group(2)) or "__init" in lines[n]
    name, struct, param = m.group(3, 4, 5)
    end = _body(lines, n)
    two = m.group(6) == ","
    reader = Reader(name, struct, param, static, init, "chain", False, [], n + 1 - two, two)
    pending: tuple[int, int, int, int] | None = None  # id, indices, stride, line
    loop_count: str | None = None
    gate: str | None = None
    gate_indent = ""  # of the gate's if, while gate is set
    saw_early = saw_chain = False
    for k in range(n + 1, end):
        text = lines[k]
        num = k + 1
        if g := RE_FIELD_GATE.match(text):
            gate, gate_indent = g.group(3), text[: len(text) - len(text.lstrip())]
            continue
        if gate is not None and text == gate_indent + "}":
            gate = None
            continue
        if RE_GUARD_SIZE.match(text):
            reader.array_guard = True
            continue
        if (f := RE_FOR.match(text)) and f.group(1) == "i":
            loop_count = f.group(3)
            continue
        r = RE_READ.search(text)
        if r:
            if pending is not None:
                tf.problem(
                    tf.source_path, pending[3], "this read's value is never stored in a member"
                )
            if "!(ret = read_sys_metadata_field" in text:
                saw_chain = True
            elif re.match(r"^\s*ret = read_sys_metadata_field", text):
                saw_early = True
            parsed = _parse_id(tf, r.group(1), num)
            pending = (*parsed, num) if parsed else None
            if parsed and parsed[1] == 0:
                loop_count = None
            continue
        a = RE_ASSIGN.match(text)
        if a and pending is not None:
            target, member, idx, cast, _source = a.groups()
            if target != param:
                tf.problem(
                    tf.source_path,
                    num,
                    f"{name} stores into '{target}', not its parameter '{param}'",
                )
            fid, indices, stride, read_line = pending
            if idx.count("[") != indices:
                tf.problem(
                    tf.source_path,
                    num,
                    f"{target}->{member}{idx} is indexed "
                    f"{idx.count('[')} time(s) but the read at line {read_line} has "
                    f"{indices} loop index(es)",
                )
            reader.reads.append(
                Read(
                    fid,
                    member,
                    indices,
                    stride,
                    loop_count if indices else None,
                    cast,
                    read_line,
                    gate,
                )
            )
            pending = None
    if pending is not None:
        tf.problem(tf.source_path, pending[3], "this read's value is never stored in a member")
    reader.idiom = "early" if saw_early and not saw_chain else "chain"
    if name in tf.readers:
        tf.problem(
            tf.source_path,
            n + 1,
            f"{name} is defined twice (first at line {tf.readers[name].line})",
        )
    tf.readers[name] = reader
    return end + 1


def _read_top(tf: TreeFiles, lines: list[str], n: int, static: bool, init: bool) -> int:
    init = init or "__init" in lines[n]
    end = _body(lines, n)
    top = Top(static, init, [], None, [], None, n + 1)
    gate: tuple | None = None
    last_reader = None
    k = n + 1
    while k < end:
        text = lines[k]
        num = k + 1
        if m := RE_GATE_BIT.match(text):
            gate = ("bit", m.group(3), (m.group(1), m.group(2)))
        elif m := RE_GATE_HELPER.match(text):
            gate = ("helper", m.group(1))
        elif (m := RE_CALL.match(text)) or (m := RE_CALL_EARLY.match(text)):
            bit = gate[1] if gate and gate[0] == "bit" else None
            top.calls.append(
                TopCall(
                    m.group(1),
                    m.group(2),
                    bit,
                    gate[2] if gate and gate[0] == "bit" else None,
                    gate[1] if gate and gate[0] == "helper" else None,
                    num,
                )
            )
            gate = None
            last_reader = m.group(1)
        elif m := RE_PRINT.match(text):
            stmt = text
            while not stmt.rstrip().endswith(";") and k + 1 < end:
                k += 1
                stmt += "\n" + lines[k]
            first = stmt[stmt.index("(") + 1 :]
            fmt_end = first.rfind('\\n"')
            top.print_format = first[: fmt_end + 3] if fmt_end >= 0 else None
            top.print_members = RE_PRINT_ARG.findall(stmt)
            top.print_after = last_reader
        elif RE_READ.search(text):
            tf.problem(
                tf.source_path,
                num,
                "get_tdx_sys_info() reads a field itself; only "
                "calls of readers are understood there",
            )
        elif re.search(r"\w+\(&sysinfo->\w+\)", text) and not text.strip().startswith(("/*", "*")):
            tf.problem(
                tf.source_path,
                num,
                f"cannot read the call '{_cut(text)}' (expected "
                "'ret = ret ?: reader(&sysinfo->member);')",
            )
        k += 1
    tf.top = top
    return end + 1


def read_files(header_path: str, header: str, source_path: str, source: str) -> TreeFiles:
    tf = TreeFiles(header_path, source_path)
    read_header(tf, header)
    read_source(tf, source)
    return tf
