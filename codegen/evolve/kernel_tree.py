"""The kernel outputs in a Linux checkout: build, diff and patch in place.

The kernel emitter's outputs live under "linux/" in generated/; in a kernel
tree the same files sit at their in-tree paths (the prefix stripped):
arch/x86/include/asm/tdx_global_metadata.h and
arch/x86/virt/vmx/tdx/tdx_global_metadata.c.  Only those files are looked
at or written; the tree is never scanned.  A generated file whose content
hash no longer matches was edited by hand: it is reported, not overwritten,
unless forced.

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
from dataclasses import dataclass
from pathlib import Path

from codegen.abi import fieldid
from codegen.outputs import writer
from codegen.spec import names

PREFIX = names.LINUX_PREFIX
SUBJECT = "x86/virt/tdx: Regenerate the global metadata readers with tdx-codegen"
AUTHOR = "tdx-codegen <tdx-codegen@invalid>"


class TreeError(Exception):
    """The path is not a kernel tree we may write to (a usage error)."""


def kernel_outputs(catalogue, flavor: str) -> list[writer.Output]:
    """The kernel emitter's files at their in-tree paths."""
    from codegen.emitters import EmitContext, emit_all

    outs = emit_all(EmitContext(catalogue, flavor), only=("kernel",))
    return [writer.Output(o.path[len(PREFIX):], o.content) for o in outs
            if o.path.startswith(PREFIX)]


def check_tree(tree: Path) -> None:
    if not tree.is_dir():
        raise TreeError(f"kernel tree {tree} is not a directory")
    if not (tree / "arch" / "x86").is_dir():
        raise TreeError(f"{tree} does not look like a Linux tree (no arch/x86/ in it)")


def plan(tree: Path, outputs: list[writer.Output]) -> writer.Plan:
    check_tree(tree)
    return writer.plan(tree, outputs, scan_stale=False)


# -- what a file declares ------------------------------------------------------

_DEFINE = re.compile(r"^#define\s+MD_FIELD_ID_(\w+)\s+\(?(0x[0-9A-Fa-f]+)(?:ULL|UL|U)?\)?", re.M)
_RAW_ID = re.compile(r"\b0x[0-9A-Fa-f]{16}(?=(?:ULL|UL|U)?\b)")
_STRUCT = re.compile(r"^struct\s+(\w+)\s*\{(.*?)^\};", re.M | re.S)
_MEMBER = re.compile(r"^\s*(?:const\s+)?(\w+)\s+(\w+)((?:\s*\[[^\]]*\])*)\s*;", re.M)


@dataclass
class Declared:
    ids: dict[str, int]                         # field name (or raw id text) -> id
    members: dict[str, tuple[str, str]]         # "struct.member" -> (type, dims)


def declared(texts: list[str]) -> Declared:
    ids: dict[str, int] = {}
    members: dict[str, tuple[str, str]] = {}
    for text in texts:
        for name, value in _DEFINE.findall(text):
            ids[name] = int(value, 16)
        named = set(ids.values())
        for raw in _RAW_ID.findall(text):
            value = int(raw, 16)
            if value not in named:
                ids[fieldid.fmt(value)] = value
        for struct, body in _STRUCT.findall(text):
            for ctype, member, dims in _MEMBER.findall(body):
                if ctype != "struct":
                    members[f"{struct}.{member}"] = (ctype, re.sub(r"\s+", "", dims))
    return Declared(ids, members)


SECTIONS = ("Fields added", "Fields removed", "Fields changed",
            "Struct members added", "Struct members removed", "Struct members changed")


def changelog(old: Declared, new: Declared) -> dict[str, list[str]]:
    """Section -> lines, for fields (by name and id) and struct members (by type and dims)."""
    out: dict[str, list[str]] = {}
    for what, before, after, show in (("Fields", old.ids, new.ids, fieldid.fmt),
                                      ("Struct members", old.members, new.members, "".join)):
        for key in sorted(before.keys() | after.keys()):
            was, now = before.get(key), after.get(key)
            if was is None:
                section, text = "added", f"{key} ({show(now)})"
            elif now is None:
                section, text = "removed", f"{key} ({show(was)})"
            elif was != now:
                section, text = "changed", f"{key}: {show(was)} -> {show(now)}"
            else:
                continue
            out.setdefault(f"{what} {section}", []).append(text)
    return {s: out[s] for s in SECTIONS if s in out}


# -- the patch -------------------------------------------------------------------

def file_diff(path: str, old: str | None, new: str) -> str:
    """One file's diff in git's form (git am needs the 'diff --git' header for new files)."""
    head = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        head.append("new file mode 100644\n")
    lines = difflib.unified_diff((old or "").splitlines(keepends=True),
                                 new.splitlines(keepends=True),
                                 fromfile="/dev/null" if old is None else f"a/{path}",
                                 tofile=f"b/{path}")
    body = "".join(x if x.endswith("\n") else x + "\n\\ No newline at end of file\n"
                   for x in lines)
    return "".join(head) + body


def make_patch(p: writer.Plan, *, force: bool, generator_version: str, author: str = AUTHOR) -> str:
    """An mbox patch for git am: subject, changelog, diffstat-free body, the diffs."""
    changed = p.create + p.update + (p.edited if force else [])
    old_texts = [p.old.get(o.path) or "" for o in changed] + \
                [o.content for o in p.unchanged]
    new_texts = [o.content for o in changed + p.unchanged]
    sections = changelog(declared(old_texts), declared(new_texts))
    body = ["The TDX global metadata readers are generated from the tdx-codegen schema.",
            "Regenerate them from the current schema."]
    if not sections:
        body.append("No field or struct member changes (layout or comments only).")
    for title, items in sections.items():
        body += ["", f"{title}:", *(f"  - {x}" for x in items)]
    patch = ["From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n",
             f"From: {author}\n", f"Subject: [PATCH] {SUBJECT}\n", "\n",
             "\n".join(body) + "\n", "\n",
             f"Generated by tdx-codegen {generator_version} (tdx-codegen patch).\n", "---\n"]
    for out in sorted(changed, key=lambda o: o.path):
        patch.append(file_diff(out.path, p.old.get(out.path) if out not in p.create else None,
                               out.content))
    patch.append("-- \ntdx-codegen\n")
    return "".join(patch)


def tree_author(tree: Path) -> str:
    """The tree's git identity (user.name, user.email), else tdx-codegen's own."""
    import subprocess

    def config(key: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(tree), "config", key], capture_output=True,
                                  text=True)
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    name, email = config("user.name"), config("user.email")
    return f"{name} <{email}>" if name and email else AUTHOR
