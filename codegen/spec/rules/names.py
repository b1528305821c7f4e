"""Names and text: what a schema name becomes in generated code must be valid there.

The generated identifiers come from codegen.spec.names (the table the
emitters use); a name is checked as itself and as every identifier made
from it, against the reserved words of C, gcc, the kernel and Python and
against the other generated names.
"""

from __future__ import annotations

import re

from codegen.spec import names
from codegen.spec.diagnostics import Note
from codegen.spec.rules import error

RULES = (
    error(
        "BAD-NAME",
        "Field and bit names are upper-case ABI names (A-Z, 0-9, _); the Python "
        "package is a Python identifier of at most 64 characters.",
    ),
    error(
        "NAME-TOO-LONG",
        "Names are short enough for generated kernel lines to stay within 100 columns.",
    ),
    error(
        "C-IDENTIFIER",
        "Members, structs and C struct names are lower-case C identifiers not starting with '_'.",
    ),
    error(
        "RESERVED-WORD",
        "No name, or identifier made from it, is a C or Python keyword, a gcc "
        "or kernel macro, a Python builtin, or a name the generated code defines.",
    ),
    error("NAME-COLLISION", "No two schema names make the same generated identifier."),
    error("DUPLICATE-FIELD", "Each field name is declared once."),
    error(
        "UNSAFE-TEXT",
        "Descriptions are printable and cannot end a C comment or a Python docstring.",
    ),
)

# \Z, not $: "$" also matches before a trailing newline, which would leak into generated code
RE_MEMBER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)\Z")
RE_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
RE_ABI_NAME = re.compile(r"^[A-Z][A-Z0-9_]*\Z")

# Longest names whose generated lines (defines, signatures, tables) fit kernel style's
# 100 columns in every flavour; tests/test_codegen_safety.py builds names of these lengths.
MAX_NAME = {"field": 40, "bit": 32, "member": 40, "struct": 24, "c_name": 40}
KIND_TEXT = {"member": "member", "struct": "struct", "c_name": "C struct name"}


def identifier(cx, e, name: str, key: str, kind: str) -> bool:
    """A lower-case C identifier (member, struct, c_name), itself no reserved word."""
    if not RE_IDENT.match(name):
        cx.err(
            "C-IDENTIFIER",
            f"'{name}' is not a C identifier (letters, digits and _, not starting with a digit)",
            e.loc(key),
        )
        return False
    ok = True
    if name.startswith("_"):
        cx.err(
            "C-IDENTIFIER",
            f"'{name}' starts with '_': such names are reserved in C and "
            "taken by kernel macros (__init, __user)",
            e.loc(key),
        )
        ok = False
    if too_long(cx, e, name, kind, key):
        ok = False
    if name != name.lower():
        cx.err("C-IDENTIFIER", f"'{name}' must be lower case (kernel style)", e.loc(key))
        ok = False
    why = names.c_reserved(name) or (
        None if kind == "c_name" else names.python_reserved(name, module_level=False)
    )
    if why:
        cx.err(
            "RESERVED-WORD", f"'{name}' is {why} and cannot name a {KIND_TEXT[kind]}", e.loc(key)
        )
        ok = False
    return ok


def made_names(
    cx, e, keys: tuple, what: str, made: list[str], *, c: bool = False, python: bool = False
) -> bool:
    """Identifiers made from a schema name, each checked against the reserved words."""
    for name in made:
        why = (names.c_reserved(name) if c else None) or (
            names.python_reserved(name, module_level=True) if python else None
        )
        if why:
            cx.err(
                "RESERVED-WORD",
                f"{what} makes {name}, which is {why}",
                e.loc(*keys, key=keys[0] == "bits"),
            )
            return False
    return True


def abi_name(cx, e, name: str, kind: str, *keys, key: bool = False) -> bool:
    """A field or bit name: upper case, short enough."""
    if not RE_ABI_NAME.match(name):
        cx.err(
            "BAD-NAME",
            f"{kind} name '{name}' must be an upper-case "
            f"{'ABI ' if kind == 'field' else ''}name (A-Z, 0-9, _"
            f"{'; starting with a letter' if kind == 'field' else ''})",
            e.loc(*keys, key=key),
        )
        return False
    return not too_long(cx, e, name, kind, *keys, key=key)


def too_long(cx, e, name: str, kind: str, *keys, key: bool = False) -> bool:
    if len(name) <= MAX_NAME[kind]:
        return False
    cx.err(
        "NAME-TOO-LONG",
        f"{kind} name '{name[:20]}...' has {len(name)} characters; at "
        f"most {MAX_NAME[kind]} keep generated kernel lines within 100 columns",
        e.loc(*keys, key=key),
    )
    return True


def text_safe(cx, e, text: str, *keys) -> None:
    """Reject text that could break out of a C comment or a Python docstring."""
    for bad, why in (
        ("*/", "would end a C comment"),
        ("/*", "would open a nested C comment"),
        ('"""', "would end a Python docstring"),
        ("??/", "is a C trigraph for a backslash (gcc -Wtrigraphs)"),
    ):
        if bad in text:
            cx.err(
                "UNSAFE-TEXT", f"text contains '{bad}', which {why} in generated code", e.loc(*keys)
            )
            return
    if text.isprintable():  # the common case, without a Python-level loop
        return
    for ch in text:
        if ch != "\n" and not ch.isprintable():
            cx.err(
                "UNSAFE-TEXT",
                f"text contains the non-printable character U+{ord(ch):04X}",
                e.loc(*keys),
            )
            return


def check_struct_names(cx, e, spec) -> bool:
    """The identifiers a [[struct]] makes: its readers, tables, gate and record class."""
    ok = made_names(
        cx,
        e,
        ("name",),
        f"struct '{spec.name}'",
        [
            names.python_reader(spec.name),
            names.fields_table(spec.name),
            names.struct_gate(spec.name),
        ],
        python=True,
    )
    if RE_IDENT.match(spec.c_name):
        ok = (
            made_names(
                cx,
                e,
                ("c_name",),
                f"C struct name '{spec.c_name}'",
                [names.class_name(spec.c_name)],
                python=True,
            )
            and ok
        )
    return ok


def check_field_names(cx, e, s, bits) -> bool:
    """The identifiers a [[field]] makes: its id define and its bit constants."""
    ok = made_names(cx, e, ("name",), f"field {s.name}", [names.id_define(s.name)], c=True)
    for b in bits:
        ok = (
            made_names(
                cx,
                e,
                ("bits", b.name),
                f"bit {b.name} of {s.name}",
                [names.bit_define(s.name, b.name)],
                c=True,
                python=True,
            )
            and ok
        )
    return ok


def check_collisions(cx, structs: dict, fields) -> None:
    """No two schema names make one generated identifier (C defines, Python module names)."""
    # (space, made name) -> (what, entry, keys, key?): a location is looked up only for a clash
    made: dict[tuple[str, str], tuple] = {}

    def claim(space: str, name: str, what: str, e, *keys, key: bool = False) -> None:
        mine = (what, e, keys, key)
        first = made.setdefault((space, name), mine)
        if first is not mine:
            cx.err(
                "NAME-COLLISION",
                f"{what} makes {name}, which {first[0]} also makes",
                e.loc(*keys, key=key),
                Note(f"{first[0]} is defined here", first[1].loc(*first[2], key=first[3])),
            )

    for name, (e, _) in structs.items():
        spec = e.spec
        for made_name in (names.fields_table(name), names.struct_gate(name)):
            claim("python", made_name, f"struct '{name}'", e, "name")
        claim(
            "python",
            names.class_name(spec.c_name),
            f"C struct name '{spec.c_name}'",
            e,
            "c_name",
        )
    for f in fields:
        e = cx.entry_of(f)
        claim("c", names.id_define(f.name), f"field {f.name}", e, "name")
        for b in f.bits:
            made_name = names.bit_define(f.name, b.name)
            claim("c", made_name, f"bit {b.name} of {f.name}", e, "bits", b.name, key=True)
            claim("python", made_name, f"bit {b.name} of {f.name}", e, "bits", b.name, key=True)
