"""The kernel outputs in a Linux checkout: build, diff and patch in place.

The kernel emitter's outputs live under "linux/" in generated/; in a kernel
tree the same files sit at their in-tree paths (the prefix stripped):
arch/x86/include/asm/tdx_global_metadata.h and
arch/x86/virt/vmx/tdx/tdx_global_metadata.c.  Only those files are
written.  What tdx-codegen wrote there is recorded in a manifest inside the
tree's git directory (never in the work tree, so `git status` shows only the
two files); a file that differs from its record was edited by hand: it is
reported, not overwritten, unless forced.  A tree without git has no
manifest, and its files are the kernel's to be replaced.

The patch changelog compares what the tree's current files declare with
what the schema generates, both read the same way: field ids from the
`#define MD_FIELD_ID_<NAME> <id>` lines (a raw hex id that no define names
stands for itself), members from the `struct tdx_sys_info_* { ... };`
declarations of the header.  Comparing two generated files, not two
schemas, keeps the patch honest about what the tree really had, hand
edits and older generators included.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TypeVar

from codegen.abi import fieldid
from codegen.outputs import writer
from codegen.spec import names

PREFIX = names.LINUX_PREFIX
SUBJECT = "x86/virt/tdx: Regenerate the global metadata readers with tdx-codegen"
AUTHOR = "tdx-codegen <tdx-codegen@invalid>"


class TreeError(Exception):
    """The path is not a kernel tree we may write to (a usage error)."""


class TreeConflict(Exception):
    """The tree defines a name the generated code would define differently (bad input)."""


# The tree's TDX files whose names the generated ones must not redefine.
SCANNED = ("arch/x86/virt/vmx/tdx/*.h", "arch/x86/virt/vmx/tdx/*.c", "arch/x86/include/asm/tdx*.h")
_DEFINE_ANY = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)(\([^)]*\))?[ \t]*(.*?)\\?$", re.M)
_INCLUDES_SOURCE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"tdx_global_metadata\.c"', re.M)
_TYPE_ANY = re.compile(r"^[ \t]*(?:typedef[ \t]+)?(?:struct|union|enum)[ \t]+(\w+)[ \t]*\{", re.M)


def tree_names(tree: Path, skip: Set[str] = frozenset()) -> dict[str, tuple[str, str]]:
    """Macros and struct/union/enum tags the tree's TDX files define where the generated files
    meet them: name -> (value, file:line).  Headers count whole; a .c file only up to its
    #include "tdx_global_metadata.c".

    skip: paths (relative to the tree) not to read, the generated files themselves.
    """
    found: dict[str, tuple[str, str]] = {}
    for pattern in SCANNED:
        for path in sorted(Path(tree).glob(pattern)):
            rel = path.relative_to(tree).as_posix()
            if rel in skip or not path.is_file():
                continue
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if path.suffix == ".c":
                # a .c file's names meet the generated ones only in the file that includes
                # tdx_global_metadata.c (tdx.c), and only those defined before the include
                at = _INCLUDES_SOURCE.search(text)
                if at is None:
                    continue
                text = text[: at.start()]
            for regex, kind in ((_DEFINE_ANY, "define"), (_TYPE_ANY, "type")):
                for m in regex.finditer(text):
                    line = text.count("\n", 0, m.start()) + 1
                    value = m.group(3).strip() if kind == "define" else "a type"
                    found.setdefault(m.group(1), (value, f"{rel}:{line}"))
    return found


def kernel_outputs(catalogue, flavor: str, tree: Path | None = None) -> list[writer.Output]:
    """The kernel emitter's files at their in-tree paths, avoiding what the tree defines."""
    from codegen.emitters import EmitContext, emit_all
    from codegen.emitters.kernel_c import HEADER_PATH, SOURCE_PATH, NameClash

    names: tuple[tuple[str, tuple[str, str]], ...] = ()
    if tree is not None:
        own = {HEADER_PATH[len(PREFIX) :], SOURCE_PATH[len(PREFIX) :]}
        names = tuple(sorted(tree_names(tree, own).items()))
    try:
        outs = emit_all(EmitContext(catalogue, flavor, kernel_names=names), only=("kernel",))
    except NameClash as exc:
        raise TreeConflict(f"{tree}: {exc}") from None
    return [
        writer.Output(o.path[len(PREFIX) :], o.content) for o in outs if o.path.startswith(PREFIX)
    ]


def check_tree(tree: Path) -> None:
    if not tree.is_dir():
        raise TreeError(f"kernel tree {tree} is not a directory")
    if not (tree / "arch" / "x86").is_dir():
        raise TreeError(f"{tree} does not look like a Linux tree (no arch/x86/ in it)")


def manifest_path(tree: Path) -> Path | None:
    """Where the tree keeps tdx-codegen's manifest: in its git directory (None: no git)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--git-path", "tdx-codegen-manifest.json"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    if done.returncode:
        return None
    path = Path(done.stdout.strip())
    return path if path.is_absolute() else Path(tree) / path


def plan(tree: Path, outputs: list[writer.Output]) -> writer.Plan:
    check_tree(tree)
    manifest = manifest_path(tree)
    return writer.plan(
        tree, outputs, scan_stale=False, manifest=manifest, record=manifest is not None
    )


# -- what a file declares ------------------------------------------------------

_DEFINE = re.compile(r"^#define\s+MD_FIELD_ID_(\w+)\s+\(?(0x[0-9A-Fa-f]+)(?:ULL|UL|U)?\)?", re.M)
_RAW_ID = re.compile(r"\b0x[0-9A-Fa-f]{16}(?=(?:ULL|UL|U)?\b)")
_STRUCT = re.compile(r"^struct\s+(tdx_sys_info\w*)\s*\{(.*?)^\};", re.M | re.S)
_MEMBER = re.compile(r"^\s*(?:const\s+)?(struct\s+\w+|\w+)\s+(\w+)((?:\s*\[[^\]]*\])*)\s*;", re.M)
_READER = re.compile(r"^static\s+(__init\s+)?int\s+(get_tdx_sys_info\w*)\(", re.M)
_GATED_CALL = re.compile(r"^\tif \((.+?)\)(?: \{)?\n\t\t(?:ret = (?:ret \?: )?)(\w+)\(", re.M)


@dataclass
class Declared:
    ids: dict[str, int]  # field name (or raw id text) -> id
    members: dict[str, tuple[str, str]]  # "struct.member" -> (type, dims)
    readers: dict[str, str] = dc_field(default_factory=dict)  # reader -> "__init" or ""
    gates: dict[str, str] = dc_field(default_factory=dict)  # reader -> its call's condition


def declared(texts: list[str], catalogue=None) -> Declared:
    """What generated (or hand-written) kernel files declare; raw ids are named by the catalogue."""
    ids: dict[str, int] = {}
    members: dict[str, tuple[str, str]] = {}
    readers: dict[str, str] = {}
    gates: dict[str, str] = {}
    for text in texts:
        for name, value in _DEFINE.findall(text):
            ids[name] = int(value, 16)
        named = set(ids.values())
        for raw in _RAW_ID.findall(text):
            value = int(raw, 16)
            if value not in named:
                ids[_field_name(value, catalogue)] = value
        for struct, body in _STRUCT.findall(text):
            for ctype, member, dims in _MEMBER.findall(body):
                members[f"{struct}.{member}"] = (
                    re.sub(r"\s+", " ", ctype),
                    re.sub(r"\s+", "", dims),
                )
        for init, reader in _READER.findall(text):
            readers[reader] = "__init" if init else ""
        for cond, reader in _GATED_CALL.findall(text):
            if reader.startswith("get_tdx_sys_info"):
                gates[reader] = cond
    return Declared(ids, members, readers, gates)


def _field_name(value: int, catalogue) -> str:
    """The catalogue's name of the field whose base id this is, else the id in hex."""
    found = catalogue.locate(value) if catalogue is not None else None
    if found is not None and found[1:] == (0, 0) and found[0].id == value:
        return found[0].name
    return fieldid.canonical(value)


SECTIONS = (
    "Fields added",
    "Fields removed",
    "Fields changed",
    "Struct members added",
    "Struct members removed",
    "Struct members changed",
    "Readers added",
    "Readers removed",
    "Readers changed",
    "Gates added",
    "Gates removed",
    "Gates changed",
)


def changelog(old: Declared, new: Declared) -> dict[str, list[str]]:
    """Section -> lines: fields (by name and id), struct members (type and dims), readers
    (__init or not) and the conditions get_tdx_sys_info() reads a struct under."""
    out: dict[str, list[str]] = {}
    _changes(out, "Fields", old.ids, new.ids, fieldid.canonical)
    _changes(out, "Struct members", old.members, new.members, "".join)
    _changes(out, "Readers", old.readers, new.readers, lambda v: v or "not __init")
    _changes(out, "Gates", old.gates, new.gates, str)
    return {s: out[s] for s in SECTIONS if s in out}


_V = TypeVar("_V")


def _changes(
    out: dict[str, list[str]],
    what: str,
    before: Mapping[str, _V],
    after: Mapping[str, _V],
    show: Callable[[_V], str],
) -> None:
    """Lines of what was added, removed and changed in one kind of declaration, into out."""
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was is None and now is not None:
            section, text = "added", f"{key} ({show(now)})"
        elif now is None and was is not None:
            section, text = "removed", f"{key} ({show(was)})"
        elif was is not None and now is not None and was != now:
            section, text = "changed", f"{key}: {show(was)} -> {show(now)}"
        else:
            continue
        out.setdefault(f"{what} {section}", []).append(text)


# -- the patch -------------------------------------------------------------------


def file_diff(path: str, old: str | None, new: str) -> str:
    """One file's diff in git's form (git am needs the 'diff --git' header for new files)."""
    head = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        head.append("new file mode 100644\n")
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile="/dev/null" if old is None else f"a/{path}",
        tofile=f"b/{path}",
    )
    body = "".join(x if x.endswith("\n") else x + "\n\\ No newline at end of file\n" for x in lines)
    return "".join(head) + body


def subject(sections: dict[str, list[str]]) -> str:
    """x86/virt/tdx: what the patch does, from its changelog."""
    added = sections.get("Fields added", [])
    only_added = set(sections) <= {"Fields added", "Struct members added"}
    if added and only_added:
        if len(added) == 1:
            return f"x86/virt/tdx: Read the {added[0].split()[0]} global metadata field"
        return f"x86/virt/tdx: Read {len(added)} more global metadata fields"
    return SUBJECT


# One identity on one line: a newline would add a trailer (a second Signed-off-by:) of its own.
_IDENTITY = re.compile(r"[^<>\x00-\x1f\x7f]+ <[^<>\s]+>\Z")


def identity_problem(text: str) -> str | None:
    """Why text cannot stand in a Signed-off-by: line, or None."""
    if _IDENTITY.match(text):
        return None
    return "give one identity as 'NAME <EMAIL>', on one line, without control characters"


def make_patch(
    p: writer.Plan,
    *,
    force: bool,
    generator_version: str,
    author: str = AUTHOR,
    catalogue=None,
    signoff: str | None = None,
) -> str:
    """An mbox patch for git am: subject, changelog, sign-off, the diffs.

    signoff: who signs the patch off (the Signed-off-by: line checkpatch requires);
    by default its author, unless that is tdx-codegen's own placeholder.
    """
    changed = p.create + p.update + (p.edited if force else [])
    old_texts = [p.old.get(o.path) or "" for o in changed] + [o.content for o in p.unchanged]
    new_texts = [o.content for o in changed + p.unchanged]
    sections = changelog(declared(old_texts, catalogue), declared(new_texts, catalogue))
    body = [
        "The TDX global metadata readers are generated from the tdx-codegen schema.",
        "Regenerate them from the current schema.",
    ]
    if not sections:
        body.append("No field, struct member, reader or gate changes (layout only).")
    for title, items in sections.items():
        body += ["", f"{title}:", *(f"  - {x}" for x in items)]
    signer = signoff or (author if author != AUTHOR else None)
    patch = [
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n",
        f"From: {author}\n",
        f"Subject: [PATCH] {subject(sections)}\n",
        "\n",
        "\n".join(body) + "\n",
        "\n",
        f"Generated by tdx-codegen {generator_version} (tdx-codegen patch).\n",
        *([f"\nSigned-off-by: {signer}\n"] if signer else []),
        "---\n",
    ]
    for out in sorted(changed, key=lambda o: o.path):
        patch.append(
            file_diff(out.path, p.old.get(out.path) if out not in p.create else None, out.content)
        )
    patch.append("-- \ntdx-codegen\n")
    return "".join(patch)


def tree_author(tree: Path) -> str:
    """The tree's git identity (user.name, user.email), else tdx-codegen's own."""
    import subprocess

    def config(key: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(tree), "config", key], capture_output=True, text=True
            )
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    name, email = config("user.name"), config("user.email")
    return f"{name} <{email}>" if name and email else AUTHOR
