"""The shipped schema in other TOML spellings: the same model, the same bytes, errors in place.

Each schema file is parsed, then written back in another spelling: inline
tables, dotted keys, quoted keys and headers, inline arrays of tables,
literal and multi-line strings, hex or decimal numbers.  The writer records
where it put every value and key, so a seeded error is expected at a
line:col that does not come from the reader under test.
"""

import re
import shutil
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.emitters import EmitContext, emit_all
from codegen.spec.compiler import compile_schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema"
BARE = re.compile(r"[A-Za-z0-9_-]+\Z")


class Writer:
    """Text being written, with the (line, col) of each key path's key and value."""

    def __init__(self, pick):
        self.pick = pick  # pick(kind, options) -> one of options
        self.parts: list[str] = []
        self.line, self.col = 1, 1
        self.values: dict = {}
        self.keys: dict = {}

    def write(self, text: str) -> None:
        self.parts.append(text)
        if "\n" in text:
            self.line += text.count("\n")
            self.col = len(text) - text.rindex("\n")
        else:
            self.col += len(text)

    def here(self) -> tuple[int, int]:
        return self.line, self.col

    # -- pieces ------------------------------------------------------------------------
    def key(self, name: str) -> None:
        options = ["bare", "basic", "literal"] if BARE.match(name) else ["basic"]
        kind = self.pick("key", options)
        self.write(name if kind == "bare" else f"'{name}'" if kind == "literal" else basic(name))

    def dotted(self, path: tuple, names: tuple) -> None:
        """A dotted key of names; each prefix's key is where the whole key starts."""
        start = self.here()
        for n, name in enumerate(names):
            if n:
                self.write(self.pick("dot", [".", " . "]))
            self.key(name)
            self.keys.setdefault(path + names[: n + 1], start)

    def value(self, path: tuple, value) -> None:
        self.values[path] = self.here()
        if isinstance(value, bool):
            self.write("true" if value else "false")
        elif isinstance(value, int):
            kind = self.pick("int", ["dec", "hex", "under"] if value >= 0 else ["dec"])
            self.write(
                hex(value) if kind == "hex" else f"{value:_}" if kind == "under" else str(value)
            )
        elif isinstance(value, str):
            self.write(self.string(value))
        elif isinstance(value, list):
            self.array(path, value)
        else:
            self.inline_table(path, value)

    def string(self, value: str) -> str:
        options = ["basic"]
        if "'" not in value and "\n" not in value:
            options.append("literal")
        if "'''" not in value and not value.endswith("'"):
            options.append("ml-literal")
        options.append("ml-basic")
        kind = self.pick("str", options)
        if kind == "literal":
            return f"'{value}'"
        if kind == "ml-literal":  # the newline after the opening quotes is not part of the value
            return f"'''\n{value}'''"
        if kind == "ml-basic":
            return '"""\n' + value.replace("\\", "\\\\").replace('"', '\\"') + '"""'
        return basic(value)

    def array(self, path: tuple, items: list) -> None:
        multi = self.pick("array", ["one-line", "lines"]) == "lines"
        self.write("[")
        for i, item in enumerate(items):
            self.write("\n    " if multi else (" " if i else ""))
            self.value((*path, i), item)
            self.keys[(*path, i)] = self.values[(*path, i)]
            self.write("," + ("  # item" if multi and self.pick("comment", [0, 1]) else ""))
        self.write("\n]" if multi else " ]")

    def inline_table(self, path: tuple, table: dict) -> None:
        self.write("{")
        for n, (k, v) in enumerate(table.items()):
            self.write(", " if n else " ")
            self.keyval(path, (k,), v, inline=True)
        self.write(" }")

    def keyval(self, path: tuple, names: tuple, value, inline: bool) -> None:
        """names = value; a table value as an inline table or as dotted keys."""
        if isinstance(value, dict) and value and self.pick("sub", ["inline", "dotted"]) == "dotted":
            for n, (k, v) in enumerate(value.items()):
                if n:
                    self.write(", " if inline else "\n")
                self.keyval(path, (*names, k), v, inline)
            return
        self.dotted(path, names)
        self.write(self.pick("eq", [" = ", "=", "  =  "]))
        self.value(path + names, value)

    def header(self, path: tuple, names: tuple, aot: bool) -> None:
        start = self.here()
        self.write("[[" if aot else "[")
        self.write(self.pick("pad", ["", " "]))
        for n, name in enumerate(names):
            if n:
                self.write(self.pick("dot", [".", " . "]))
            self.key(name)
        self.write(self.pick("pad", ["", " "]))
        self.write("]]" if aot else "]")
        self.write(self.pick("comment", ["", "  # table"]) + "\n")
        self.keys[path] = self.values[path] = start
        if aot:
            self.keys.setdefault(path[:-1], start)

    def body(self, path: tuple, names: tuple, table: dict) -> None:
        """The keys of a table after its header; sub-tables as [a.b] headers or inline."""
        later = []
        for k, v in table.items():
            if isinstance(v, dict) and v and self.pick("subtable", ["header", "here"]) == "header":
                later.append((k, v))
                continue
            self.keyval(path, (k,), v, inline=False)
            self.write("\n")
        for k, v in later:
            self.write("\n")
            self.header((*path, k), (*names, k), aot=False)
            self.body((*path, k), (*names, k), v)

    def document(self, data: dict) -> str:
        self.write("# rewritten\n")
        late = []
        for k, v in data.items():  # root keys must come before the first header
            is_aot = isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
            if (isinstance(v, dict) or is_aot) and self.pick(
                "top", ["header", "inline"]
            ) == "header":
                late.append((k, v, is_aot))
                continue
            self.keyval((), (k,), v, inline=False)
            self.write("\n")
        for k, v, is_aot in late:
            for i, table in enumerate(v if is_aot else [v]):
                path = (k, i) if is_aot else (k,)
                self.write("\n")
                self.header(path, (k,), aot=is_aot)
                self.body(path, (k,), table)
        return "".join(self.parts)


def basic(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def rewrite(pick) -> tuple[dict, dict]:
    """Every schema file in a new spelling: {name: text}, {name: Writer}."""
    texts, writers = {}, {}
    for path in sorted(SCHEMA.glob("*.toml")):
        data = tomllib.loads(path.read_text())
        w = Writer(pick)
        texts[path.name] = w.document(data)
        assert tomllib.loads(texts[path.name]) == data, path.name
        writers[path.name] = w
    return texts, writers


def write_schema(root: Path, texts: dict) -> Path:
    schema = root / "schema"
    if schema.exists():
        shutil.rmtree(schema)
    shutil.copytree(SCHEMA, schema)  # profiles and all, then the rewritten files
    for name, text in texts.items():
        (schema / name).write_text(text)
    return schema


def model_without_lines(catalogue) -> str:
    """The catalogue with source lines blanked (spellings move lines) and files by name."""
    return re.sub(r"file='[^']*/", "file='", re.sub(r"line=\d+", "line=_", repr(catalogue)))


def outputs(catalogue) -> dict:
    return {
        o.path: o.content
        for o in emit_all(EmitContext(catalogue, catalogue.settings.kernel.flavor))
    }


SHIPPED = compile_schema(SCHEMA)[0]
SHIPPED_MODEL = model_without_lines(SHIPPED)
SHIPPED_OUTPUTS = outputs(SHIPPED)


def fixed(**choice):
    """A fixed spelling: choice[kind] wherever a place allows it, else the place's first option."""
    return lambda kind, options: choice[kind] if choice.get(kind) in options else options[0]


FIXED = {
    "inline arrays of tables, inline tables": fixed(top="inline", sub="inline", array="one-line"),
    "dotted keys, sub-table headers": fixed(
        top="header", subtable="here", sub="dotted", dot=" . ", int="hex", array="lines", comment=1
    ),
    "quoted keys and headers": fixed(
        top="header",
        subtable="header",
        key="basic",
        pad=" ",
        eq="=",
        int="under",
        comment="  # table",
    ),
    "literal strings": fixed(
        top="header", subtable="here", sub="inline", key="literal", str="literal"
    ),
    "multi-line strings": fixed(top="header", str="ml-literal", eq="  =  ", pad=" "),
    "multi-line basic strings": fixed(top="inline", str="ml-basic", sub="dotted"),
}


def test_fixed_spellings_give_the_same_model_and_bytes(tmp_path):
    for label, pick in FIXED.items():
        texts, _ = rewrite(pick)
        catalogue, rep = compile_schema(write_schema(tmp_path, texts))
        assert [str(d.message) for d in rep.items] == [], label
        assert model_without_lines(catalogue) == SHIPPED_MODEL, label
        assert outputs(catalogue) == SHIPPED_OUTPUTS, label


def test_fixed_spellings_really_differ():
    """Each fixed spelling uses the forms it is named for."""
    texts = {label: "".join(rewrite(pick)[0].values()) for label, pick in FIXED.items()}
    assert "field = [" in texts["inline arrays of tables, inline tables"]
    assert "[[" not in texts["inline arrays of tables, inline tables"]
    assert "bits . " in texts["dotted keys, sub-table headers"]
    assert '[[ "field" ]]' in texts["quoted keys and headers"]
    assert '"name"=' in texts["quoted keys and headers"]
    assert "'name' = 'CMR Info'" in texts["literal strings"]
    assert "description  =  '''\n" in texts["multi-line strings"]
    assert 'description = """\n' in texts["multi-line basic strings"]


@st.composite
def spellings(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    import random

    rng = random.Random(seed)
    return lambda kind, options: rng.choice(options)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spellings())
def test_random_spellings_give_the_same_model_and_bytes(tmp_path, pick):
    texts, _ = rewrite(pick)
    catalogue, rep = compile_schema(write_schema(tmp_path, texts))
    assert [d.message for d in rep.items] == []
    assert model_without_lines(catalogue) == SHIPPED_MODEL
    assert outputs(catalogue) == SHIPPED_OUTPUTS


# -- errors seeded into a rewritten schema ----------------------------------------------------
FILES = sorted(p.name for p in SCHEMA.glob("*.toml") if p.name != "settings.toml")
SEEDS = {
    # rule, key to change, new value, where the error points (value or key)
    "member": ("C-IDENTIFIER", "member", "bad member", "value"),
    "type": ("BAD-VALUE", "type", "u128", "value"),
    "element_size": ("BAD-VALUE", "element_size", True, "value"),
    "unknown key": ("UNKNOWN-KEY", "colour", 1, "key"),
    "description": ("UNSAFE-TEXT", "description", "ends a */ comment", "value"),
    "id": ("ID-FORMAT", "id", "0х9100000100000008", "value"),
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spellings(), st.sampled_from(FILES), st.sampled_from(sorted(SEEDS)), st.integers(0, 1000))
def test_seeded_error_is_reported_where_it_was_written(tmp_path, pick, file, seed, which):
    rule, key, value, at = SEEDS[seed]
    data = tomllib.loads((SCHEMA / file).read_text())
    if not data.get("field"):
        return
    i = which % len(data["field"])
    data["field"][i][key] = value
    w = Writer(pick)
    text = w.document(data)
    assert tomllib.loads(text) == data
    texts = {p.name: p.read_text() for p in SCHEMA.glob("*.toml")}
    texts[file] = text
    _, rep = compile_schema(write_schema(tmp_path, texts))
    line, col = (w.values if at == "value" else w.keys)[("field", i, key)]
    found = [(Path(d.loc.file).name, d.loc.line, d.loc.col) for d in rep.errors if d.rule == rule]
    assert found == [(file, line, col)], text.split("\n")[line - 1]
