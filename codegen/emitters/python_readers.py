"""Python readers: the importable package of records, field tables and readers.

python/<package>/__init__.py is rendered from templates/python/__init__.py.j2
and holds only what the schema decides (members, ids, shapes, counts,
gates, named bits), as Python literals.  The reading itself is
codegen.runtime, copied with the codegen.abi modules it imports into
python/<package>/_runtime/ (imports made relative, each copy with a banner), so
the package stands alone on the standard library; py.typed marks it typed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from codegen.abi import fieldid
from codegen.emitters.render import banner_lines, render
from codegen.outputs.writer import Output
from codegen.spec import names
from codegen.spec.model import Catalogue, Field, Gate, Struct


def docstring(text: str) -> str:
    """A docstring literal for text: triple-quoted when that is safe."""
    text = text.strip() or "(no description)"
    if '"""' in text or "\\" in text or text.endswith('"'):
        return repr(text)
    return f'"""{text}"""'


def gate_literal(gate: Gate | None) -> str:
    if gate is None:
        return "None"
    if gate.release is not None:
        return f'_Gate("{gate.text}", release={gate.release.code:#08x})'
    return f'_Gate("{gate.text}", "{gate.feature_field}", {gate.bit})'


def annotation(f: Field) -> str:
    text = "int" if f.num_elements == 1 else f"tuple[{', '.join(['int'] * f.num_elements)}]"
    if f.is_array:
        text = f"list[{text}]"
    return f"{text} | None" if f.nullable else text


def field_row(f: Field) -> str:
    count = f'"{f.count}"' if f.count else "None"
    # Two lines per row: names on the first, numbers on the second (within 100 columns).
    return (
        f'_Field("{f.name}", {fieldid.canonical(f.id)}, "{f.member}",\n'
        f"{' ' * 11}{f.element_size}, {f.num_fields}, {f.num_elements}, {f.capacity}, "
        f"{count}, {gate_literal(f.gate)}, {f.optional}, "
        f"{f.member_bytes})"
    )


def wrapped(head: str, items: list[str], tail: str, indent: int) -> str:
    """head + items joined by ', ' + tail, one line if it fits in 100 columns, else wrapped."""
    one = f"{' ' * indent}{head}{', '.join(items)}{tail}"
    if len(one) <= 100:
        return one
    lines, line = [], " " * (indent + 8)
    for item in items:
        if len(line) + len(item) + 1 > 100 and line.strip():
            lines.append(line.rstrip())
            line = " " * (indent + 8)
        line += f"{item}, "
    return (
        f"{' ' * indent}{head}\n"
        + "\n".join([*lines, line.rstrip()])
        + f"\n{' ' * indent}{tail.lstrip()}"
    )


class Member(NamedTuple):
    """A member of a record class, as the template writes it.  A tuple, not a dict: Jinja2
    finds an attribute of a tuple at once, a dict's key only after an AttributeError."""

    member: str
    annotation: str
    doc: str  # its attribute docstring, indented


def signature(members: list[Member]) -> str:
    """The generated __init__: one parameter per member, each set by _runtime.init."""
    names_ = [m.member for m in members]
    values = [*names_, ""] if len(names_) == 1 else names_  # a 1-tuple: (x,)
    return (
        wrapped(
            "def __init__(",
            ["self"] + [f"{m.member}: {m.annotation}" for m in members],
            ") -> None:",
            4,
        )
        + "\n"
        + wrapped("_runtime.init(self, (", values, "))", 8).replace(", ))", ",))")
    )


def member_doc(f: Field) -> str:
    """The attribute docstring of a member (ABI name, count, gate, description), indented.

    Editors and documentation tools show it for the member; wrapped to 100 columns.
    """
    import textwrap

    text = (
        f"{member_comment(f)}: {f.description.strip()}"
        if f.description.strip()
        else member_comment(f)
    )
    literal = docstring(text)
    if len(literal) + 4 <= 100 or not literal.startswith('"""'):
        return f"    {literal}"
    return (
        textwrap.fill(
            text,
            width=97,
            initial_indent='    """',
            subsequent_indent="    ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        + '"""'
    )


def member_comment(f: Field) -> str:
    parts = [f.name]
    if f.count:
        parts.append(f"count {f.count}")
    if f.gate:
        parts.append(f"if {f.gate.text}")
    return ", ".join(parts)


def struct_view(s: Struct, catalogue: Catalogue) -> dict:
    fields = catalogue.output_fields("python", s)
    return {
        "name": s.name,
        "c_name": s.c_name,
        "class_name": names.class_name(s.c_name),
        "docstring": docstring(f"struct {s.c_name}: {s.description}"),
        "table": names.fields_table(s.name),
        "gate_name": names.struct_gate(s.name),
        "reader": names.python_reader(s.name),
        "gate": gate_literal(s.gate),
        "gate_text": s.gate.text if s.gate else "",
        "members": [Member(f.member, annotation(f), member_doc(f)) for f in fields],
        "rows": [field_row(f) for f in fields],
    }


def with_signature(view: dict) -> dict:
    view["signature"] = signature(view["members"])
    return view


def flag_fields(structs) -> list[Field]:
    return [f for s in structs for f in s.fields if f.bits]


def emit(ctx) -> list[Output]:
    catalogue = ctx.catalogue
    structs = catalogue.output_structs("python")
    package = catalogue.settings.python_package
    content = render(
        "python/__init__.py.j2",
        banner=banner_lines(ctx),
        package=package,
        generator_version=ctx.generator_version,
        baseline=str(catalogue.settings.baseline),
        structs=[with_signature(struct_view(s, catalogue)) for s in structs],
        info_signature=signature(
            [
                Member(s.name, names.class_name(s.c_name) + (" | None" if s.gate else ""), "")
                for s in structs
            ]
        ),
        flags=[
            {
                "name": f.name,
                "bits": [(b.name, b.bit, names.bit_define(f.name, b.name)) for b in f.bits],
            }
            for f in flag_fields(structs)
        ],
    )
    module = names.python_module(package)
    root = module.rpartition("/")[0]
    return [
        Output(module, content),
        Output(
            f"{root}/py.typed",
            sealed_comment(ctx, "the PEP 561 marker: this package has type hints"),
        ),
        *runtime_outputs(ctx, root),
    ]


# -- the runtime copy ------------------------------------------------------------

PACKAGE_DIR = Path(__file__).resolve().parent.parent
# The stdlib-only modules the runtime may take with it (by path under codegen/); an import
# of any other codegen module must sit inside a function (simulator(): the tool's own).
PORTABLE = re.compile(r"(abi/\w+|chars)\.py")
_HEAD = re.compile(r"from codegen(?:\.\w+)* import")
_TOP_IMPORT = re.compile(r"^(from|import) codegen\b", re.M)


# `from codegen[.pkg][.module] import names` at any indent, its names on the line or in
# parentheses over several.  A line scan, not ast.parse: these are the tool's own sources,
# which keep no such line inside a string, and parsing them was a tenth of a cold build.
_FROM_CODEGEN = re.compile(
    r"^[ \t]*from[ \t]+codegen((?:\.\w+)*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M
)
_COMMENT = re.compile(r"#[^\n]*")


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


@lru_cache(maxsize=16)  # each copied module is read twice per build: scan it once
def _portable_imports(text: str) -> tuple[tuple[int, str, list[str]], ...]:
    """(line index, relative head, codegen/ paths) of each `from codegen... import` in text
    that names portable modules only; `from codegen.abi import a, b` names two."""
    found: list[tuple[int, str, list[str]]] = []
    for match in _FROM_CODEGEN.finditer(text):
        parts = match[1].split(".")[1:]  # the packages and module after codegen
        names = _COMMENT.sub("", match[2]).strip("() \t\n").replace("\n", ",").split(",")
        imported = [n.split()[0] for n in names if n.strip()]  # `status as _status`: status
        if parts in ([], ["abi"]):  # from codegen[.abi] import modules
            paths = ["/".join([*parts, name]) + ".py" for name in imported]
            head = "from . import"
        else:  # from codegen[.abi].module import names
            paths = ["/".join(parts) + ".py"]
            head = f"from .{parts[-1]} import"
        if all(PORTABLE.fullmatch(p) and (PACKAGE_DIR / p).is_file() for p in paths):
            found.append((_line_at(text, match.start()), head, paths))
    return tuple(found)  # a tuple: the cached answer is shared


def sealed_comment(ctx, what: str, source: str | None = None) -> str:
    origin = (
        f"Copied by tdx-codegen {ctx.generator_version} from {source}"
        if source
        else f"Generated by tdx-codegen {ctx.generator_version}: {what}"
    )
    return "".join(f"# {line}\n" for line in (origin, f"Do not edit: run '{ctx.regenerate}'."))


def _relative(text: str, source: str) -> str:
    """Imports of portable modules made relative; a top-level import of another is a bug."""

    lines = text.splitlines(keepends=True)
    for index, head, _ in _portable_imports(text):
        lines[index] = _HEAD.sub(head, lines[index], count=1)
    text = "".join(lines)
    left = _TOP_IMPORT.search(text)
    if left:
        raise RuntimeError(
            f"{source} imports codegen at module level "
            f"({text[left.start() : text.index(chr(10), left.start())]}): "
            "the generated readers must stand alone"
        )
    return text


def runtime_modules() -> dict[str, str]:
    """Copy name -> source path (under codegen/): runtime.py and the portable modules it needs."""
    todo, found = ["runtime.py"], {}
    while todo:
        source = todo.pop()
        name = "__init__.py" if source == "runtime.py" else Path(source).name
        if name in found:
            continue
        found[name] = source
        text = (PACKAGE_DIR / source).read_text(encoding="utf-8")
        for _, _, paths in _portable_imports(text):
            todo.extend(paths)
    return dict(sorted(found.items()))


def runtime_outputs(ctx, root: str) -> list[Output]:
    out = []
    for name, source in runtime_modules().items():
        text = (PACKAGE_DIR / source).read_text(encoding="utf-8")
        out.append(
            Output(
                f"{root}/_runtime/{name}",
                sealed_comment(ctx, "", f"codegen/{source}") + _relative(text, f"codegen/{source}"),
            )
        )
    return out
