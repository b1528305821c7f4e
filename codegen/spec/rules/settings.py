"""settings.toml: which structs each output carries, and the kernel's options.

Over 400 lines on purpose: the kernel options ([kernel].print, gates,
require_features, flavour) are checked against each other and against the
structs of the outputs, so their rules live together.
"""

from __future__ import annotations

import keyword
import re
import sys

from codegen.spec import elaborate
from codegen.spec import names as generated
from codegen.spec.diagnostics import Note
from codegen.spec.model import KernelPrint, KernelStructGiven
from codegen.spec.rules import error, names, warning
from codegen.spec.rules.names import RE_IDENT

RULES = (
    error("SETTINGS-UNKNOWN-STRUCT", "An output's structs list names declared structs."),
    error(
        "SETTINGS-DUPLICATE",
        "An output's structs list names each struct once, and [kernel].print each member once.",
    ),
    warning("STRUCT-UNUSED", "Every struct is in some output's structs list."),
    error("SETTINGS-UNKNOWN-FIELD", "[kernel].exclude_fields names declared fields."),
    error(
        "SETTINGS-BAD-PRINT",
        "[kernel].print names scalar members of structs the kernel output reads.",
    ),
    error(
        "SETTINGS-BAD-FEATURE",
        "[kernel].require_features names named bits of flag fields the kernel output reads.",
    ),
    error(
        "SETTINGS-BAD-STRUCT",
        "A struct read on its own ([kernel.struct.NAME] in_sysinfo = "
        "false) depends on no other struct: no count, gate or release gate from outside.",
    ),
    error(
        "SETTINGS-BAD-GATE-HELPER",
        "[kernel].gate_helpers maps named bits of flag fields to C identifiers.",
    ),
    error(
        "SETTINGS-SECTION-MISMATCH",
        "A get_tdx_sys_info() that is not __init calls no __init "
        "reader (modpost would report a section mismatch).",
    ),
    error(
        "SETTINGS-BAD-TEXT",
        "[kernel.header] guard is an upper-case identifier, includes are "
        "header paths, and banner lines fit a 100-column comment.",
    ),
)


def check_settings(cx, structs: dict, fields):
    """The Settings, or None when settings.toml is invalid (reported)."""
    e = cx.settings
    if e is None or e.spec is None:
        return None
    s = e.spec
    baseline = cx.release(e, s.schema_.baseline, "schema", "baseline")
    ok = baseline is not None
    kernel_baseline = None
    if s.kernel.baseline is not None:
        kernel_baseline = cx.release(e, s.kernel.baseline, "kernel", "baseline")
        ok = ok and kernel_baseline is not None
    lists = {}
    for output in ("kernel", "python", "docs"):
        names = getattr(s, output).structs
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in seen:
                cx.err(
                    "SETTINGS-DUPLICATE",
                    f"struct '{name}' is listed twice in [{output}].structs",
                    e.loc(output, "structs", i),
                    Note("first listed here", e.loc(output, "structs", seen[name])),
                )
                ok = False
            elif name not in structs:
                if name not in cx.known_struct_names:
                    cx.err(
                        "SETTINGS-UNKNOWN-STRUCT",
                        f"[{output}].structs names struct '{name}', which no [[struct]] declares",
                        e.loc(output, "structs", i),
                    )
                ok = False
            seen.setdefault(name, i)
        lists[output] = tuple(names)
    used = set().union(*lists.values())
    for name, (se, _) in sorted(structs.items()):
        if name not in used:
            cx.warn(
                "STRUCT-UNUSED",
                f"struct '{name}' is in no output's structs list in settings.toml",
                se.loc("name"),
            )
    package = s.python.package
    if not RE_IDENT.match(package) or keyword.iskeyword(package) or len(package) > 64:
        cx.err(
            "BAD-NAME",
            f"python package '{package[:70]}' is not a Python identifier of "
            "at most 64 characters (it names a directory)",
            e.loc("python", "package"),
        )
        ok = False
    elif package == "codegen" or package in sys.stdlib_module_names:
        cx.err(
            "RESERVED-WORD",
            f"python package '{package}' would shadow the "
            f"{'tdx-codegen runtime' if package == 'codegen' else 'standard library'} "
            "module of that name",
            e.loc("python", "package"),
        )
        ok = False
    field_names = {f.name for f in fields}
    for i, name in enumerate(s.kernel.exclude_fields):
        if name not in field_names and name not in cx.known_field_names:
            cx.err(
                "SETTINGS-UNKNOWN-FIELD",
                f"[kernel].exclude_fields names field '{name}', which is not declared",
                e.loc("kernel", "exclude_fields", i),
            )
            ok = False
    requires = []
    by_name = {f.name: f for f in fields}
    for i, text in enumerate(s.kernel.require_features):
        field_name, _, bit_name = text.partition(".")
        f = by_name.get(field_name)
        if f is None or not any(b.name == bit_name for b in f.bits):
            cx.err(
                "SETTINGS-BAD-FEATURE",
                f"[kernel].require_features entry '{text}' is not "
                "a named bit of a declared flag field (write FIELD.BIT)",
                e.loc("kernel", "require_features", i),
            )
            ok = False
        elif f.struct not in lists["kernel"] or f.name in s.kernel.exclude_fields:
            cx.err(
                "SETTINGS-BAD-FEATURE",
                f"[kernel].require_features entry '{text}' names "
                f"{field_name}, which the kernel output does not read (add struct "
                f"'{f.struct}' to [kernel].structs, or do not exclude the field)",
                e.loc("kernel", "require_features", i),
            )
            ok = False
        else:
            requires.append((field_name, bit_name))
    layout = check_kernel_layout(cx, e, s.kernel, lists["kernel"], fields)
    if not ok or layout is None:
        return None
    return elaborate.settings(s, baseline, kernel_baseline, lists, requires, layout)


# -- how the kernel C looks -------------------------------------------------------

RE_GUARD = re.compile(r"^_?[A-Z][A-Z0-9_]*\Z")
RE_INCLUDE = re.compile(r"^[a-z0-9_]+(?:/[a-z0-9_.-]+)*\.h\Z")
# the conversions a print may use: what the members' types print as
RE_CONVERSION = re.compile(r"%(?:0?[1-9])?(?:u|x|llu|llx)")
BANNER_COLUMNS = 97  # " * " and the text within 100 columns


def check_kernel_layout(cx, e, k, kernel_structs: tuple[str, ...], fields) -> dict | None:
    """How the kernel C looks ([kernel] of settings entry e): the KernelOptions it gives, or
    None after reporting what is wrong."""
    ok = True
    by_name = {f.name: f for f in fields}
    excluded = set(k.exclude_fields)

    def bad(rule, message, *keys, notes=()):
        nonlocal ok
        cx.err(rule, message, e.loc("kernel", *keys), *notes)
        ok = False

    def ident(name, what, *keys) -> None:
        if not RE_IDENT.match(name) or name.startswith("_"):
            bad(
                "C-IDENTIFIER",
                f"{what} '{name[:60]}' is not a C identifier (a letter, then "
                "letters, digits and _)",
                *keys,
            )
        elif generated.c_reserved(name):
            bad("RESERVED-WORD", f"{what} '{name}' is {generated.c_reserved(name)}", *keys)

    # -- per-struct readers --------------------------------------------------------
    structs = {}
    for name, spec in k.struct.items():
        if name not in kernel_structs:
            bad(
                "SETTINGS-UNKNOWN-STRUCT",
                f"[kernel.struct.{name}] names struct '{name}', which is not in [kernel].structs",
                "struct",
                name,
                notes=(),
            )
            continue
        structs[name] = spec
    members: dict[str, tuple] = {}
    readers: dict[str, tuple] = {}
    for name in kernel_structs:
        spec = k.struct.get(name)
        member = spec.member if spec is not None and spec.member else name
        reader = spec.reader if spec is not None and spec.reader else f"get_tdx_sys_info_{name}"
        for value, key, seen, what in (
            (member, "member", members, "member of struct tdx_sys_info"),
            (reader, "reader", readers, "reader"),
        ):
            keys: tuple[str | int, ...] = (
                ("struct", name, key)
                if spec is not None and getattr(spec, key)
                else ("structs", kernel_structs.index(name))
            )
            if spec is not None and getattr(spec, key):
                ident(value, f"[kernel.struct.{name}].{key}", *keys)
            if key == "member" and spec is not None and not spec.in_sysinfo:
                continue
            if value in seen:
                bad(
                    "SETTINGS-DUPLICATE",
                    f"{what} '{value}' is given to both struct "
                    f"'{seen[value][0]}' and struct '{name}'",
                    *keys,
                    notes=(Note("the first here", e.loc("kernel", *seen[value][1])),),
                )
            else:
                seen[value] = (name, keys)
    standalone = {n for n, spec in structs.items() if not spec.in_sysinfo}
    top_init = k.init if k.top.init is None else k.top.init
    if not top_init:
        for name in kernel_structs:
            spec = k.struct.get(name)
            init = k.init if spec is None or spec.init is None else spec.init
            if init and (spec is None or spec.in_sysinfo):
                keys = ("top", "init")
                bad(
                    "SETTINGS-SECTION-MISMATCH",
                    f"get_tdx_sys_info() is not __init ([kernel.top]"
                    f".init = false) but calls the __init reader of struct '{name}' (modpost: "
                    "section mismatch); make that reader not __init too",
                    *keys,
                )
                break

    # -- gate helpers ----------------------------------------------------------------
    helpers = []
    for text, helper in k.gate_helpers.items():
        field_name, _, bit = text.partition(".")
        f = by_name.get(field_name)
        if f is None or not any(b.name == bit for b in f.bits):
            bad(
                "SETTINGS-BAD-GATE-HELPER",
                f"[kernel].gate_helpers key '{text}' is not a named "
                'bit of a declared flag field (write "FIELD.BIT" = "helper")',
                "gate_helpers",
                text,
            )
            continue
        ident(helper, f"gate helper for {text}", "gate_helpers", text)
        helpers.append((text, helper))

    # -- print -------------------------------------------------------------------------
    printed = None
    p = k.print
    entries = p if isinstance(p, list) else p.members
    base = ("print",) if isinstance(p, list) else ("print", "members")
    pairs = []
    members_of = {(f.struct, f.member): f for f in fields}
    listed: dict[str, int] = {}  # entry -> its index
    for i, text in enumerate(entries):
        struct, _, member = text.partition(".")
        f = members_of.get((struct, member))
        if text in listed:
            bad(
                "SETTINGS-DUPLICATE",
                f"[kernel].print lists '{text}' twice",
                *base,
                i,
                notes=(Note("first listed here", e.loc("kernel", *base, listed[text])),),
            )
            continue
        listed[text] = i
        if f is None or struct not in kernel_structs or f.name in excluded:
            bad(
                "SETTINGS-BAD-PRINT",
                f"[kernel].print entry '{text}' is not a member of a struct "
                "in the kernel output (write struct.member)",
                *base,
                i,
            )
        elif not f.is_scalar:
            bad(
                "SETTINGS-BAD-PRINT",
                f"[kernel].print entry '{text}' is an array; only scalars can be printed",
                *base,
                i,
            )
        elif struct in standalone:
            bad(
                "SETTINGS-BAD-PRINT",
                f"[kernel].print entry '{text}' is in struct '{struct}', "
                "which get_tdx_sys_info() does not read (in_sysinfo = false)",
                *base,
                i,
            )
        else:
            pairs.append((struct, member))
    if pairs and not isinstance(p, list):
        for key, value in (("prefix", p.prefix), ("format", p.format)):
            if any(ch in value for ch in '"\\') or not value.isprintable():
                bad(
                    "SETTINGS-BAD-PRINT",
                    f"[kernel].print.{key} may not hold a quote, a "
                    "backslash or a non-printable character",
                    "print",
                    key,
                )
        if "%" in p.prefix:
            bad(
                "SETTINGS-BAD-PRINT",
                "[kernel].print.prefix may not hold '%' (conversions go in format)",
                "print",
                "prefix",
            )
        fmt = p.format
        if fmt and not RE_IDENT.match(fmt):
            found = RE_CONVERSION.findall(fmt)
            if "%" in RE_CONVERSION.sub("", fmt) or len(found) != len(pairs):
                bad(
                    "SETTINGS-BAD-PRINT",
                    f"[kernel].print.format '{fmt}' must hold one "
                    f"conversion (%u, %02u, %x, %llx) per member, {len(pairs)} here, or name a "
                    "macro the kernel defines (TDX_VERSION_FMT)",
                    "print",
                    "format",
                )
    if pairs:
        printed = (
            KernelPrint(tuple(pairs))
            if isinstance(p, list)
            else KernelPrint(tuple(pairs), p.prefix, p.format, p.when)
        )

    # -- the files -----------------------------------------------------------------------
    h = k.header
    if not RE_GUARD.match(h.guard):
        bad(
            "SETTINGS-BAD-TEXT",
            f"[kernel.header].guard '{h.guard[:60]}' is not an upper-case C identifier",
            "header",
            "guard",
        )
    for i, inc in enumerate(h.includes):
        if not RE_INCLUDE.match(inc):
            bad(
                "SETTINGS-BAD-TEXT",
                f"[kernel.header].includes entry '{inc[:60]}' is not a "
                "header path such as linux/types.h",
                "header",
                "includes",
                i,
            )
    for table, lines in (("header", h.banner), ("source", k.source.banner)):
        for i, line in enumerate(lines):
            before = len(cx.rep.errors)
            names.text_safe(cx, e, line, "kernel", table, "banner", i)
            if len(cx.rep.errors) > before:
                ok = False
            elif len(line.expandtabs(8)) > BANNER_COLUMNS or line != line.rstrip():
                bad(
                    "SETTINGS-BAD-TEXT",
                    f"[kernel.{table}].banner line {i + 1} is longer than "
                    f"{BANNER_COLUMNS} columns or ends in spaces (the comment must fit in 100)",
                    table,
                    "banner",
                    i,
                )
    if not ok:
        return None
    struct_settings = tuple(
        (name, KernelStructGiven(spec.init, spec.in_sysinfo, spec.member, spec.reader, spec.errors))
        for name, spec in sorted(structs.items())
    )
    return {
        "print": printed,
        "errors": k.errors,
        "bit_defines": k.bit_defines,
        "struct_comments": k.struct_comments,
        "provenance": k.provenance,
        "gate_helpers": tuple(sorted(helpers)),
        "header_banner": tuple(h.banner),
        "source_banner": tuple(k.source.banner),
        "guard": h.guard,
        "includes": tuple(h.includes),
        "top_init": k.top.init,
        "struct_settings": struct_settings,
    }


def check_apart(cx, settings, structs: dict, by_name: dict) -> None:
    """A struct read on its own gets only its own pointer: its reads may depend on nothing else."""
    k = settings.kernel
    for name in sorted(standalone(settings)):
        struct = structs.get(name)
        if struct is None:
            continue
        loc = cx.settings.loc("kernel", "struct", name, "in_sysinfo")
        for f in struct.fields:
            if f.name in k.exclude_fields:
                continue
            g = f.gate
            if g is not None and g.release is not None:
                cx.err(
                    "SETTINGS-BAD-STRUCT",
                    f"struct '{name}' is read on its own (in_sysinfo = "
                    f"false) but its field {f.name} has a release gate, which needs struct "
                    "version",
                    loc,
                )
            elif g is not None and k.gate_helper(g) is not None:
                cx.err(
                    "SETTINGS-BAD-STRUCT",
                    f"struct '{name}' is read on its own (in_sysinfo = "
                    f"false) but the gate of its field {f.name} is the kernel helper "
                    f"{k.gate_helper(g)}(), which needs struct tdx_sys_info",
                    loc,
                )
            for ref, what in ((f.count, "count"), (g.feature_field if g else None, "gate")):
                if ref is not None and ref in by_name and by_name[ref].struct != name:
                    cx.err(
                        "SETTINGS-BAD-STRUCT",
                        f"struct '{name}' is read on its own (in_sysinfo"
                        f" = false) but the {what} of its field {f.name} is {ref}, in struct "
                        f"'{by_name[ref].struct}'",
                        loc,
                    )


def standalone(settings) -> frozenset[str]:
    """Kernel structs read on their own, outside get_tdx_sys_info()."""
    k = settings.kernel
    return frozenset(n for n in k.structs if not k.struct_options(n).in_sysinfo)
