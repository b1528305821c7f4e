"""codegen/spec/names.py is the whole truth about the generated identifiers.

Every name the shipped generated files define is one names.py makes from a
schema name or lists as defined by the generated code itself, so the rules,
which check schema names against those lists, see every name a schema
could collide with.
"""

import ast
import re
from pathlib import Path

from codegen.spec import names
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "generated"


def test_python_module_names():
    cat = compile_or_raise(ROOT / "schema")
    module = GENERATED / names.python_module(cat.settings.python_package)
    tree = ast.parse(module.read_text())
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for t in target.elts if isinstance(target, ast.Tuple) else [target]:
                    defined.add(t.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {a.asname or a.name for a in node.names}
    made = set()
    for s in cat.output_structs("python"):
        made |= {
            names.class_name(s.c_name),
            names.fields_table(s.name),
            names.struct_gate(s.name),
            names.python_reader(s.name),
        }
        made |= {names.bit_define(f.name, b.name) for f in s.fields for b in f.bits}
    private = {n for n in defined if n.startswith("_")}
    assert defined - private - made == names.PY_GENERATED


def test_c_defines_and_types():
    cat = compile_or_raise(ROOT / "schema")
    from codegen.emitters import EmitContext, kernel_c

    # the map flavour: the shipped functions flavour is the kernel's file, with no helpers
    text = "".join(o.content for o in kernel_c.emit(EmitContext(cat, "map")))
    defined = set(re.findall(r"^#define (\w+)", text, re.M))
    defined |= set(re.findall(r"^struct (\w+) \{", text, re.M))
    defined |= set(re.findall(r"^static (?:__init )?\w+ \*?(\w+)\(", text, re.M))
    made = set()
    for s in cat.output_structs("kernel"):
        made |= {s.c_name, names.c_reader(s.name)}
        for f in cat.output_fields("kernel", s):
            made.add(names.id_define(f.name))
            made |= {names.bit_define(f.name, b.name) for b in f.bits}
    assert defined - made <= names.C_GENERATED
    # the map flavour uses every helper the emitter can define but the release one
    assert names.C_GENERATED - (defined - made) == {"tdx_module_release", "read_sys_metadata_field"}
