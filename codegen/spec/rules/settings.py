"""settings.toml: which structs each output carries, and the kernel's options."""

from __future__ import annotations

import keyword
import sys

from codegen.spec import elaborate
from codegen.spec.diagnostics import Note
from codegen.spec.rules import error, warning
from codegen.spec.rules.names import RE_IDENT

RULES = (
    error("SETTINGS-UNKNOWN-STRUCT", "An output's structs list names declared structs."),
    error("SETTINGS-DUPLICATE", "An output's structs list names each struct once, and "
          "[kernel].print each member once."),
    warning("STRUCT-UNUSED", "Every struct is in some output's structs list."),
    error("SETTINGS-UNKNOWN-FIELD", "[kernel].exclude_fields names declared fields."),
    error("SETTINGS-BAD-PRINT", "[kernel].print names scalar members of structs the kernel "
          "output reads."),
    error("SETTINGS-BAD-FEATURE", "[kernel].require_features names named bits of flag fields "
          "the kernel output reads."),
)


def check_settings(cx, structs: dict, fields):
    """The Settings, or None when settings.toml is invalid (reported)."""
    e = cx.settings
    if e is None or e.spec is None:
        return None
    s = e.spec
    baseline = cx.release(e, s.schema_.baseline, "schema", "baseline")
    ok = baseline is not None
    lists = {}
    for output in ("kernel", "python", "docs"):
        names = getattr(s, output).structs
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in seen:
                cx.err("SETTINGS-DUPLICATE", f"struct '{name}' is listed twice in "
                       f"[{output}].structs", e.loc(output, "structs", i),
                       Note("first listed here", e.loc(output, "structs", seen[name])))
                ok = False
            elif name not in structs:
                if name not in cx.known_struct_names:
                    cx.err("SETTINGS-UNKNOWN-STRUCT", f"[{output}].structs names struct "
                           f"'{name}', which no [[struct]] declares", e.loc(output, "structs", i))
                ok = False
            seen.setdefault(name, i)
        lists[output] = tuple(names)
    used = set().union(*lists.values())
    for name, (se, _) in sorted(structs.items()):
        if name not in used:
            cx.warn("STRUCT-UNUSED", f"struct '{name}' is in no output's structs "
                    "list in settings.toml", se.loc("name"))
    package = s.python.package
    if not RE_IDENT.match(package) or keyword.iskeyword(package) or len(package) > 64:
        cx.err("BAD-NAME", f"python package '{package[:70]}' is not a Python identifier of "
               "at most 64 characters (it names a directory)", e.loc("python", "package"))
        ok = False
    elif package == "codegen" or package in sys.stdlib_module_names:
        cx.err("RESERVED-WORD", f"python package '{package}' would shadow the "
               f"{'tdx-codegen runtime' if package == 'codegen' else 'standard library'} "
               "module of that name", e.loc("python", "package"))
        ok = False
    field_names = {f.name for f in fields}
    for i, name in enumerate(s.kernel.exclude_fields):
        if name not in field_names and name not in cx.known_field_names:
            cx.err("SETTINGS-UNKNOWN-FIELD", f"[kernel].exclude_fields names field '{name}', "
                   "which is not declared", e.loc("kernel", "exclude_fields", i))
            ok = False
    prints = []
    members = {(f.struct, f.member): f for f in fields}
    printed: dict[str, int] = {}
    for i, text in enumerate(s.kernel.print):
        struct, _, member = text.partition(".")
        f = members.get((struct, member))
        if text in printed:
            cx.err("SETTINGS-DUPLICATE", f"[kernel].print lists '{text}' twice",
                   e.loc("kernel", "print", i),
                   Note("first listed here", e.loc("kernel", "print", printed[text])))
            ok = False
            continue
        printed[text] = i
        if f is None or struct not in lists["kernel"] or f.name in s.kernel.exclude_fields:
            cx.err("SETTINGS-BAD-PRINT", f"[kernel].print entry '{text}' is not a member of "
                   "a struct in the kernel output (write struct.member)",
                   e.loc("kernel", "print", i))
            ok = False
        elif not f.is_scalar:
            cx.err("SETTINGS-BAD-PRINT", f"[kernel].print entry '{text}' is an array; only "
                   "scalars can be printed", e.loc("kernel", "print", i))
            ok = False
        else:
            prints.append((struct, member))
    requires = []
    by_name = {f.name: f for f in fields}
    for i, text in enumerate(s.kernel.require_features):
        field_name, _, bit_name = text.partition(".")
        f = by_name.get(field_name)
        if f is None or not any(b.name == bit_name for b in f.bits):
            cx.err("SETTINGS-BAD-FEATURE", f"[kernel].require_features entry '{text}' is not "
                   "a named bit of a declared flag field (write FIELD.BIT)",
                   e.loc("kernel", "require_features", i))
            ok = False
        elif f.struct not in lists["kernel"] or f.name in s.kernel.exclude_fields:
            cx.err("SETTINGS-BAD-FEATURE", f"[kernel].require_features entry '{text}' names "
                   f"{field_name}, which the kernel output does not read (add struct "
                   f"'{f.struct}' to [kernel].structs, or do not exclude the field)",
                   e.loc("kernel", "require_features", i))
            ok = False
        else:
            requires.append((field_name, bit_name))
    if not ok:
        return None
    return elaborate.settings(s, baseline, lists, prints, requires)
