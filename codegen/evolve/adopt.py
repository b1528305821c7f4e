"""adopt: make the schema and settings say what a kernel tree's files say.

The tree's tdx_global_metadata.{c,h} are read by codegen.evolve.kernel_reader;
every id read is mapped to the catalogue, and the differences become edits:

- [kernel] settings: which structs, in which order, which are members of
  struct tdx_sys_info, reader and member names, __init, the error idiom,
  gates rendered as kernel helpers, the version print, guard, includes and
  banners, and the fields the tree does not read (exclude_fields);
- schema edits of fields the tree reads differently (struct, member, C type,
  capacity, live count);
- new fields for ids the catalogue lacks, built from what the files say and
  marked unverified with the file:line they were read at.

What the settings cannot say is reported, located, never guessed.  adopt
writes into the project only, never into the tree; the caller checks the
result by regenerating and diffing against the tree.

Over 400 lines on purpose: the mapping and the edits it writes change together
(one key of the settings is read, mapped and written in one place).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from codegen.abi import fieldid
from codegen.evolve import kernel_reader
from codegen.spec import names
from codegen.spec.model import C_TYPE_BYTES, Catalogue, Field

SOURCE_PATH = "arch/x86/virt/vmx/tdx/tdx_global_metadata.c"
# Where trees keep the header: today's place first, then where it started out.
HEADER_PATHS = (
    "arch/x86/include/asm/tdx_global_metadata.h",
    "arch/x86/virt/vmx/tdx/tdx_global_metadata.h",
)
STRUCT_PREFIX = "tdx_sys_info_"


class AdoptError(Exception):
    """The tree cannot be read at all (a usage error)."""


@dataclass
class Edit:
    """Set `key` of a schema entry (kind "field" or "struct", by name) to `value`."""

    kind: str
    name: str
    key: str
    value: object
    why: str  # "FILE:LINE: what the tree says"


@dataclass
class Adoption:
    tree_files: kernel_reader.TreeFiles
    kernel: dict  # the [kernel] table to write
    edits: list[Edit] = field(default_factory=list)
    new_structs: list[dict] = field(default_factory=list)
    new_fields: list[dict] = field(default_factory=list)
    gate_helpers: dict[str, str] = field(default_factory=dict)  # "FIELD.BIT" -> helper
    problems: list[str] = field(default_factory=list)


def read_tree(tree: Path) -> kernel_reader.TreeFiles:
    tree = Path(tree)
    source = tree / SOURCE_PATH
    # lexists: a FIFO or a directory at the path is there, and reading it says what it is
    header = next((tree / p for p in HEADER_PATHS if os.path.lexists(tree / p)), None)
    if not os.path.lexists(source):
        raise AdoptError(f"{tree} has no {SOURCE_PATH}")
    if header is None:
        raise AdoptError(
            f"{tree} has no tdx_global_metadata.h (looked for {' and '.join(HEADER_PATHS)})"
        )
    texts = [_tree_text(p) for p in (header, source)]
    for path, text in zip((header, source), texts, strict=True):
        if not text.strip():
            raise AdoptError(f"{path} is empty: there is nothing to adopt from it")
    return kernel_reader.read_files(
        str(header.relative_to(tree)), texts[0], str(source.relative_to(tree)), texts[1]
    )


def _tree_text(path: Path) -> str:
    """A tree file's text; AdoptError naming the file, and the line and column of a bad byte."""
    from codegen import chars, paths

    try:
        raw = paths.read_bytes(path)
        return raw.decode("utf-8")
    except OSError as exc:
        raise AdoptError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        message, line, col, _ = chars.utf8_error(raw, exc)
        raise AdoptError(f"{path}:{line}:{col}: {message}") from None


def _banner_text(lines: list[str]) -> list[str]:
    """A banner comment's text lines, without the SPDX line and the comment markers."""
    out = []
    for line in lines:
        if "SPDX-License-Identifier" in line:
            continue
        text = line.strip()
        if text.startswith("/*") and text.endswith("*/"):
            out.append(text[2:-2].strip())
        elif text in ("/*", "*/"):
            continue
        elif text.startswith("*"):
            out.append(text[1:].strip())
        elif text.startswith("//"):
            out.append(text[2:].strip())
    return out


def adopt(catalogue: Catalogue, tf: kernel_reader.TreeFiles) -> Adoption:
    result = Adoption(tf, {})
    src, hdr = tf.source_path, tf.header_path
    problems = result.problems
    problems.extend(str(p) for p in tf.problems)
    by_c_name = {s.c_name: s for s in catalogue.structs}
    sysinfo = tf.structs.get("tdx_sys_info")
    members = {
        m.ctype[len("struct ") :]: m.name
        for m in (sysinfo.members if sysinfo else ())
        if m.ctype.startswith("struct ")
    }
    readers = {r.struct: r for r in tf.readers.values()}
    calls = {c.reader: c for c in (tf.top.calls if tf.top else ())}
    if tf.map_entries:
        problems.append(
            f"{src}:{tf.map_entries[0][2]}: the tree uses TD_SYSINFO_MAP tables; "
            "adopt reads the one-reader-per-struct style (set [kernel].flavor = "
            '"map" by hand after adopting the functions style)'
        )

    order: list[str] = []  # schema struct names, in the header's order
    struct_settings: dict[str, dict] = {}
    read_fields: set[str] = set()
    new_names = {f.name for f in catalogue.fields}
    for decl in tf.structs.values():
        if decl.name == "tdx_sys_info":
            continue
        schema_struct = by_c_name.get(decl.name)
        key = schema_struct.name if schema_struct else decl.name.removeprefix(STRUCT_PREFIX)
        if schema_struct is None:
            result.new_structs.append(
                {
                    "name": key,
                    "c_name": decl.name,
                    "description": f"Read by the kernel tree ({hdr}:{decl.line}).",
                }
            )
        order.append(key)
        reader = readers.get(decl.name)
        opts: dict = {}
        member = members.get(decl.name)
        if member is None:
            opts["in_sysinfo"] = False
        elif member != key:
            opts["member"] = member
        if reader is None:
            problems.append(f"{hdr}:{decl.line}: struct {decl.name} has no reader in {src}")
            struct_settings[key] = opts
            continue
        if reader.name != names.c_reader(key):
            opts["reader"] = reader.name
        opts["init"] = reader.init
        opts["errors"] = "return" if reader.idiom == "early" else "chain"
        if reader.param != names.c_param(key):
            problems.append(
                f"{src}:{reader.line}: {reader.name}'s parameter is named "
                f"'{reader.param}'; generated readers name it '{names.c_param(key)}'"
            )
        call = calls.get(reader.name)
        if member is not None and call is None:
            problems.append(
                f"{src}:{reader.line}: {reader.name} is not called by "
                "get_tdx_sys_info() although struct tdx_sys_info has its member"
            )
        struct_settings[key] = opts
        decl_members = {m.name: m for m in decl.members}
        for rd in reader.reads:
            mem = decl_members.get(rd.member)
            if mem is None:
                problems.append(f"{src}:{rd.line}: {decl.name} has no member '{rd.member}'")
                continue
            if rd.cast is not None and rd.cast != mem.ctype:
                problems.append(
                    f"{src}:{rd.line}: the value is cast to {rd.cast} but the member is {mem.ctype}"
                )
            found = catalogue.locate(rd.id)
            if (
                found is None
                or found[0].id & ~fieldid.NON_ARCH_BIT != rd.id & ~fieldid.NON_ARCH_BIT
            ):
                name = _new_field(result, rd, mem, key, decl, catalogue, new_names, src)
                read_fields.add(name)
                continue
            f = found[0]
            read_fields.add(f.name)
            _field_edits(result, f, rd, mem, key, decl_members, reader, catalogue, src)
        _check_order(result, catalogue, key, decl, reader, src, hdr)
        if call is not None and (call.gate_bit or call.gate_helper):
            _gate(result, catalogue, key, call, src)

    kernel: dict = {"flavor": "functions", "structs": order}
    excluded = sorted(
        f.name
        for s in catalogue.structs
        if s.name in order
        for f in s.fields
        if f.name not in read_fields
    )
    kernel["exclude_fields"] = excluded
    if catalogue.settings.kernel.baseline is not None:  # a fact of the kernel, not of its files
        kernel["baseline"] = str(catalogue.settings.kernel.baseline)
    inits = [o["init"] for o in struct_settings.values() if "init" in o]
    common_init = max(set(inits), key=inits.count) if inits else True
    kernel["init"] = common_init
    idioms = [o["errors"] for o in struct_settings.values() if "errors" in o]
    common_idiom = max(sorted(set(idioms)), key=idioms.count) if idioms else "chain"
    kernel["errors"] = common_idiom
    for opts in struct_settings.values():
        if opts.get("init") == common_init:
            opts.pop("init", None)
        if opts.get("errors") == common_idiom:
            opts.pop("errors", None)
    if result.gate_helpers:
        kernel["gate_helpers"] = dict(sorted(result.gate_helpers.items()))
    top = tf.top
    if top is not None:
        if top.init != common_init:
            kernel["top"] = {"init": top.init}
        if top.print_members:
            kernel["print"] = _print(top, src, problems)
    kernel["header"] = {
        "banner": _banner_text(tf.header_banner),
        # no guard read: keep the project's, and the reader's problem says why
        "guard": tf.guard or catalogue.settings.kernel.guard,
        "includes": tf.includes,
    }
    if hdr != HEADER_PATHS[0]:
        kernel["header"]["path"] = hdr
    kernel["source"] = {"banner": _banner_text(tf.source_banner)}
    kernel["struct"] = {k: v for k, v in struct_settings.items() if v}
    result.kernel = kernel
    return result


def _new_field(result, rd, mem, key, decl, catalogue, names, src) -> str:
    """A field for an id the catalogue lacks, from what the files say."""
    d = fieldid.decode(rd.id)
    name = rd.member.upper()
    while name in names:
        name += "_ADOPTED"
    names.add(name)
    entry = {
        "name": name,
        "id": fieldid.canonical(rd.id),
        "class": d.class_code,
        "element_size": d.element_size,
        "struct": key,
        "member": rd.member,
        "type": mem.ctype if mem.ctype in C_TYPE_BYTES else "u64",
        "description": f"Read by the kernel tree into struct {decl.name} member {rd.member}.",
        "unverified": f"read by the kernel tree at {src}:{rd.line}; in no module table "
        "the catalogue knows",
    }
    if rd.indices:
        entry["num_fields"] = int(mem.dims[0]) if mem.dims and mem.dims[0].isdigit() else 1
        if rd.indices == 2:
            entry["num_elements"] = rd.stride
        if rd.count:
            count = next((f for f in result.new_fields if f["member"] == rd.count), None)
            entry["count"] = count["name"] if count else rd.count.upper()
    result.new_fields.append(entry)
    return name


def _field_edits(result, f: Field, rd, mem, key, decl_members, reader, catalogue, src) -> None:
    where = f"{src}:{rd.line}"

    def edit(k, value, what):
        result.edits.append(Edit("field", f.name, k, value, f"{where}: {what}"))

    if f.struct != key:
        edit("struct", key, f"read into struct {reader.struct}")
    if f.member != rd.member:
        edit("member", rd.member, f"read into member {rd.member}")
    if mem.ctype != f.ctype and mem.ctype in C_TYPE_BYTES:
        edit("type", mem.ctype, f"member {rd.member} is {mem.ctype}")
    if f.is_array and mem.dims and mem.dims[0].isdigit() and int(mem.dims[0]) != f.capacity:
        edit("capacity", int(mem.dims[0]), f"member {rd.member} holds {mem.dims[0]}")
    if rd.count is not None:
        counted = next(
            (g for g in catalogue.fields if g.struct in (key, f.struct) and g.member == rd.count),
            None,
        )
        if counted is not None and counted.name != f.count:
            edit("count", counted.name, f"the loop runs to {rd.count}")


def _check_order(result, catalogue, key, decl, reader, src, hdr) -> None:
    """Generated structs list members in field order; say where the tree differs."""
    try:
        fields = catalogue.struct(key).fields
    except KeyError:
        return
    rank = {f.member: i for i, f in enumerate(fields)}
    edited = {e.name: e.value for e in result.edits if e.kind == "field" and e.key == "member"}
    for f in fields:
        if f.name in edited:
            rank[edited[f.name]] = rank.pop(f.member, len(rank))
    seen = [m for m in decl.members if m.name in rank]
    if [m.name for m in seen] != sorted((m.name for m in seen), key=rank.__getitem__):
        result.problems.append(
            f"{hdr}:{decl.line}: struct {decl.name} orders its members "
            f"{', '.join(m.name for m in seen)}; generated structs follow "
            "the fields' order (class, then field code)"
        )


def _gate(result, catalogue, key, call, src) -> None:
    try:
        struct = catalogue.struct(key)
    except KeyError:
        struct = None
    gate = struct.gate if struct is not None else None
    if call.gate_bit:
        if (
            gate is None
            or gate.feature_field is None
            or f"{gate.feature_field}_{gate.feature_bit}" != call.gate_bit
        ):
            result.problems.append(
                f"{src}:{call.line}: get_tdx_sys_info() reads struct {key} "
                f"only when {call.gate_bit} is set; give the struct that "
                "gate in the schema"
            )
    elif call.gate_helper:
        if gate is None or gate.feature_field is None:
            result.problems.append(
                f"{src}:{call.line}: get_tdx_sys_info() reads struct {key} "
                f"only when {call.gate_helper}() says so; give the struct "
                "the feature bit it stands for in the schema, then adopt "
                "again"
            )
            return
        result.gate_helpers[f"{gate.feature_field}.{gate.feature_bit}"] = call.gate_helper


def _print(top, src, problems) -> dict:
    fmt = top.print_format or ""
    members = [f"{s}.{m}" for s, m in top.print_members]
    out: dict = {"members": members}
    m = re.fullmatch(r'"([^"%]*)" (\w+) "\\n"', fmt)
    if m:
        out["prefix"], out["format"] = m.group(1), m.group(2)
    else:
        m = re.fullmatch(r'"([^"%]*?)(%[^"]*)\\n"', fmt)
        if m:
            out["prefix"], out["format"] = m.group(1), m.group(2)
        else:
            problems.append(f"{src}:{top.line}: cannot read the print format {fmt}")
    out["when"] = "always"
    return out


# -- writing the adoption into the project ------------------------------------------

RE_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")


def toml_value(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"no TOML form for {value!r}")


def kernel_table(kernel: dict) -> str:
    """The [kernel] settings as TOML text, sub-tables after the plain keys."""
    lines = ["[kernel]", "# Written by 'tdx-codegen adopt' from a kernel tree's files."]
    subtables = []
    for key, value in kernel.items():
        if isinstance(value, dict) and key != "gate_helpers":
            subtables.append((key, value))
        elif key == "exclude_fields" and value:
            lines.append("exclude_fields = [")
            lines.extend(f"    {toml_value(v)}," for v in value)
            lines.append("]")
        else:
            lines.append(f"{key} = {toml_value(value)}")
    for key, value in subtables:
        if key == "struct":
            for name, opts in value.items():
                lines += ["", f"[kernel.struct.{name}]"]
                lines += [f"{k} = {toml_value(v)}" for k, v in opts.items()]
            continue
        lines += ["", f"[kernel.{key}]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


def replace_kernel_table(text: str, table: str) -> str | None:
    """settings.toml with its [kernel] tables replaced; None when they cannot be found."""
    lines = text.split("\n")
    start = end = None
    for i, line in enumerate(lines):
        m = RE_TABLE.match(line)
        if not m:
            continue
        name = m.group(1).strip('"')
        if name == "kernel" and start is None:
            start = i
        elif start is not None and end is None and not name.startswith("kernel."):
            end = i
    if start is None:
        return None
    end = len(lines) if end is None else end
    while end > start and lines[end - 1].strip() == "":
        end -= 1
    rest = lines[end:]
    return (
        "\n".join(lines[:start])
        + "\n"
        + table.rstrip("\n")
        + ("\n\n" if rest else "\n")
        + "\n".join(rest).lstrip("\n")
    )


def _edit_block(lines: list[str], first: int, key: str, value) -> bool:
    """Set key in the [[...]] table whose header is lines[first]; False if not plain TOML."""
    if not RE_TABLE.match(lines[first]):
        return False
    end = first + 1
    while end < len(lines) and not RE_TABLE.match(lines[end]):
        end += 1
    last = first
    for i in range(first + 1, end):
        stripped = lines[i].strip()
        if re.match(rf"^{re.escape(key)}\s*=", stripped):
            lines[i] = f"{key} = {toml_value(value)}"
            return True
        if stripped and not stripped.startswith("#"):
            last = i
    lines.insert(last + 1, f"{key} = {toml_value(value)}")
    return True


def schema_texts(
    catalogue: Catalogue, schema_dir: Path, adoption: Adoption, settings_name: str = "settings.toml"
) -> tuple[dict[Path, str], list[str]]:
    """New text of every schema file adopt changes, and what it could not edit."""
    schema_dir = Path(schema_dir)
    texts: dict[Path, list[str]] = {}
    problems = []

    def lines_of(path: Path) -> list[str]:
        if path not in texts:
            texts[path] = path.read_text(encoding="utf-8").split("\n")
        return texts[path]

    def file_of(entry) -> Path:
        return schema_dir / Path(entry.source.file).name

    # Edits bottom-up within a file, so earlier line numbers stay right.
    edits = sorted(adoption.edits, key=lambda e: -catalogue.field(e.name).source.line)
    for e in edits:
        f = catalogue.field(e.name)
        if not _edit_block(lines_of(file_of(f)), f.source.line - 1, e.key, e.value):
            problems.append(
                f"{f.source}: cannot set {e.key} = {toml_value(e.value)} of "
                f"{f.name} here (not a plain [[field]] table); {e.why}"
            )
    appended: dict[Path, list[str]] = {}
    new_class_files: dict[int, Path] = {}
    for s in adoption.new_structs:
        first = next((f for f in adoption.new_fields if f["struct"] == s["name"]), None)
        code = first["class"] if first else None
        if first is None:
            moved = next(
                (
                    catalogue.field(e.name)
                    for e in adoption.edits
                    if e.key == "struct" and e.value == s["name"]
                ),
                None,
            )
            code = moved.class_code if moved else None
        target = _class_file(catalogue, schema_dir, code, new_class_files)
        appended.setdefault(target, []).append(
            "\n".join(["[[struct]]"] + [f"{k} = {toml_value(v)}" for k, v in s.items()])
        )
    for entry in adoption.new_fields:
        target = _class_file(catalogue, schema_dir, entry["class"], new_class_files)
        shown = dict(entry, **{"class": f"0x{entry['class']:02x}"})
        body = [f"{k} = {v if k == 'class' else toml_value(v)}" for k, v in shown.items()]
        appended.setdefault(target, []).append("\n".join(["[[field]]", *body]))
    out = {p: "\n".join(ls) for p, ls in texts.items()}
    for path, blocks in appended.items():
        base = out.get(path)
        if base is None:
            base = (
                path.read_text(encoding="utf-8")
                if path.exists()
                else _class_header(path, new_class_files)
            )
        out[path] = base.rstrip("\n") + "\n\n" + "\n\n".join(blocks) + "\n"
    settings = schema_dir / settings_name
    new = replace_kernel_table(settings.read_text(encoding="utf-8"), kernel_table(adoption.kernel))
    if new is None:
        problems.append(f"{settings}: no [kernel] table to replace")
    else:
        out[settings] = new
    return out, problems


def _class_file(catalogue, schema_dir: Path, code, new_class_files) -> Path:
    cls = catalogue.md_class(code) if code is not None else None
    if cls is not None:
        return schema_dir / Path(cls.source.file).name
    if code is None:
        code = 0xFF
    new_class_files.setdefault(code, schema_dir / f"{code:02x}-adopted.toml")
    return new_class_files[code]


def _class_header(path: Path, new_class_files) -> str:
    code = next(c for c, p in new_class_files.items() if p == path)
    return (
        f"# Class 0x{code:02x}: fields a kernel tree reads that no module table the\n"
        "# catalogue knows holds (written by 'tdx-codegen adopt').\n\n"
        f'[class]\ncode = 0x{code:02x}\nname = "Class 0x{code:02x}"\n'
        'description = "Fields read by a kernel tree, not in the catalogue."\n'
    )
