"""The house rules of codegen/, as README's "Layout" states them.

Read from the sources with ast (of codegen, only the list of command
modules is imported): the ABI layer uses the standard library only, the
command modules share codegen.cli.common and never import each other,
module-level imports form no cycle, a module over 400 lines says at its
top why, and README's layout table names every module where it is.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from codegen.cli import COMMAND_MODULES

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "codegen"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def imported(node: ast.AST, here: str) -> list[str]:
    """The modules an import statement names (absolute; `from a import b` gives a.b when
    a.b is a module of codegen, else a)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = here if MODULES[here].name == "__init__.py" else here.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}".rstrip(".")
    found = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return found or [base]


def top_level_imports(name: str) -> set[str]:
    """What a module imports when it is imported: not in a function, nor for type checkers."""
    out: set[str] = set()
    todo = list(TREES[name].body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        out.update(imported(node, name))
        todo.extend(ast.iter_child_nodes(node))
    return out


def all_imports(name: str) -> set[str]:
    return {m for node in ast.walk(TREES[name]) for m in imported(node, name)}


def test_the_abi_layer_uses_the_standard_library_only():
    allowed = {"codegen.abi", "codegen.chars"}  # chars is stdlib-only too, copied with it
    for name in [m for m in MODULES if m.startswith("codegen.abi")] + ["codegen.chars"]:
        for m in all_imports(name):
            top = m.split(".")[0]
            assert top in sys.stdlib_module_names or m in allowed or m.startswith("codegen.abi."), (
                f"{name} imports {m}"
            )


def test_command_modules_share_common_and_never_import_each_other():
    for module in COMMAND_MODULES:
        name = module.__name__
        others = {m for m in all_imports(name) if m.startswith("codegen.cli")}
        assert others <= {"codegen.cli.common"}, f"{name} imports {others}"


def test_module_level_imports_form_no_cycle():
    graph = {
        name: sorted(m for m in top_level_imports(name) if m in MODULES and m != name)
        for name in MODULES
    }
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:  # depth first: a module met again on the
        for m in graph[name]:  # path closes a cycle
            assert m not in path, " -> ".join([*path[path.index(m) :], m])
            if m not in done:
                visit(m, [*path, m])
        done.add(name)

    for name in MODULES:
        visit(name, [name])
    assert "codegen.cli.build" in graph["codegen.cli"]  # the graph is the imports: not empty


def test_a_module_over_400_lines_says_why_at_its_top():
    for name, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > 400:
            doc = ast.get_docstring(TREES[name]) or ""
            assert re.search(r"(Over|About) 400 lines", doc), f"{name}: {lines} lines, no reason"


def test_the_readme_layout_table_names_every_module_where_it_is():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = line.split(" | ")
        if line.startswith("| `codegen/"):
            for path in re.findall(r"`(codegen/[^`]*)`", cells[0]):
                rows[path] = set(re.findall(r"`(\w+)`", cells[1]))
    for path in MODULES.values():
        rel = path.relative_to(ROOT).as_posix()
        if rel in rows or (path.parent == PACKAGE and path.name in ("__init__.py", "__main__.py")):
            continue  # a top-level module with a row of its own, or the package itself
        folder = path.parent.relative_to(ROOT).as_posix() + "/"
        assert folder in rows, f"README's layout table has no row for {folder}"
        if path.name == "__init__.py" and folder != "codegen/spec/rules/":
            continue  # a package's __init__ is the package
        assert path.stem in rows[folder], f"README's row for {folder} does not name {path.stem}"
    for folder, names in rows.items():
        if folder.endswith("/"):
            assert (ROOT / folder).is_dir(), folder
            for word in names:
                assert (ROOT / folder / f"{word}.py").is_file() or (
                    ROOT / folder / word
                ).is_dir(), f"README's row for {folder} names {word}, which is not there"
        else:
            assert (ROOT / folder).is_file(), folder
