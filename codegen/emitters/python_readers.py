"""Python readers: the importable package of dataclasses, field tables and readers.

One module, python/<package>/__init__.py, rendered from
templates/python/__init__.py.j2.  The reading itself lives in
codegen.runtime; the generated file holds only what the schema decides
(members, ids, shapes, counts, gates, named bits), as Python literals.
"""

from __future__ import annotations

from codegen.abi import fieldid
from codegen.emitters.render import banner_lines, render
from codegen.spec import names
from codegen.spec.model import Catalogue, Field, Gate, Struct
from codegen.outputs.writer import Output


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
    return (f'_Field("{f.name}", {fieldid.fmt(f.id)}, "{f.member}",\n'
            f"{' ' * 11}{f.element_size}, {f.num_fields}, {f.num_elements}, {f.capacity}, "
            f"{count}, {gate_literal(f.gate)}, {f.optional}, "
            f"{f.member_bytes})")


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
        "members": [{"member": f.member, "annotation": annotation(f),
                     "comment": member_comment(f)} for f in fields],
        "rows": [field_row(f) for f in fields],
    }


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
        structs=[struct_view(s, catalogue) for s in structs],
        flags=[{"name": f.name, "bits": [(b.name, b.bit, names.bit_define(f.name, b.name))
                                         for b in f.bits]}
               for f in flag_fields(structs)],
    )
    return [Output(names.python_module(package), content)]
