"""The TOML position reader against tomli: same key paths, right places, every TOML form."""

from pathlib import Path

import pytest
import tomli
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.spec import toml_source

EVERY_FORM = '''\
# every TOML 1.0 form the reader must place
top = 1                     # a comment after a value
"quoted key" = 'literal'
'literal key' = "basic \\" with escapes \\u00e9"
dotted . key = 2
a.b.c = 1979-05-27 07:32:00
multi = """
[[field]]
not = "a header"
""\"
lit = \'\'\'
[["field"]]
\'\'\'
arr = [
  1,   # one
  [2, 3],
  { x = 0xff_ff, y = +inf },
]
inline = { name = "A", "q k" = { deep = true }, dot.ted = 'v' }
fields = [ { name = "F0" }, { name = "F1", gate = { feature = "X.Y" } } ]

[["field"]]
name = "A"

[ field . sub ]
k = 1

[[field]]
name = "B"

[[field.bits]]
bit = 1

[[field.bits]]
bit = 2

[[ "field" ]]
name = "C"

[[field.bits]]
bit = 3
'''

PLACES = {
    ("top",): (2, 7),
    ("quoted key",): (3, 16),
    ("literal key",): (4, 17),
    ("dotted", "key"): (5, 16),
    ("a", "b", "c"): (6, 9),
    ("multi",): (7, 9),
    ("lit",): (11, 7),
    ("arr", 0): (15, 3),
    ("arr", 1, 1): (16, 7),
    ("arr", 2, "x"): (17, 9),
    ("arr", 2, "y"): (17, 22),
    ("inline", "q k", "deep"): (19, 41),
    ("inline", "dot", "ted"): (19, 59),
    ("fields", 1): (20, 29),
    ("fields", 1, "gate", "feature"): (20, 63),
    ("field", 0): (22, 1),
    ("field", 0, "name"): (23, 8),
    ("field", 0, "sub", "k"): (26, 5),
    ("field", 1, "name"): (29, 8),
    ("field", 1, "bits", 1, "bit"): (35, 7),
    ("field", 2): (37, 1),
    ("field", 2, "bits", 0, "bit"): (41, 7),
}


def read(text, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(text)
    return toml_source.load(path, "s.toml")


def test_every_form_is_placed(tmp_path):
    doc = read(EVERY_FORM, tmp_path)
    found = {k: (doc.loc(k).line, doc.loc(k).col) for k in PLACES}
    assert found == PLACES
    assert doc.data["field"][2]["bits"] == [{"bit": 3}]  # nested arrays of tables count per parent
    assert set(doc.positions) == set(toml_source.key_paths(doc.data))
    # a key is underlined as far as the part named; a table's key is its header
    assert doc.loc(("dotted", "key"), key=True).length == len("dotted . key")
    assert doc.loc(("dotted",), key=True).length == len("dotted")
    assert doc.loc(("field", 2), key=True).length == len('[[ "field" ]]')
    # an element of an inline array of tables stands in for its key: MISSING-KEY points at it
    assert (doc.loc(("fields", 0), key=True).line, doc.loc(("fields", 0), key=True).col) == (20, 12)


def test_crlf_and_line_separators_inside_strings(tmp_path):
    text = 'a = "x\u2028y"\r\n[[field]]\r\nname = "B"\r\n'
    doc = read(text, tmp_path)
    loc = doc.loc(("field", 0, "name"))
    assert (loc.line, loc.col, loc.length, loc.text) == (3, 8, 3, 'name = "B"')


def test_disagreement_is_an_internal_error():
    with pytest.raises(toml_source.PositionReaderError) as info:
        toml_source.check_agreement({"a": {"b": 1}}, {("a",): (1, 1, 1)}, "s.toml")
    assert str(info.value) == (
        "s.toml: the TOML position reader disagrees with tomli on key "
        "paths (not placed: [\"('a', 'b')\"]; not in the data: [])"
    )


# -- random documents in random spellings ------------------------------------------------------
NAMES = st.sampled_from(
    ["a", "b", "field", "x-y", "1", "true", "k k", "é", "[[field]]", 'q"', "", "a.b"]
)
SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.lists(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
        | st.sampled_from(["\n", '"', "'", "\\", "\t", "[[field]]\n", '"""', "'''", "#"]),
        max_size=8,
    ).map("".join),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=12,
)


def key(name, draw):
    if (
        name
        and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
        and draw(st.booleans())
    ):
        return name
    if "'" not in name and '"' not in name and draw(st.booleans()):
        return f"'{name}'"
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def scalar(value, draw):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return draw(
            st.sampled_from(
                [str(value), f"{value:+d}"]
                + ([hex(value), f"0o{value:o}", f"0b{value:b}"] if value >= 0 else [])
            )
        )
    choices = [
        '"'
        + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        + '"'
    ]
    if "'" not in value and "\n" not in value:
        choices.append(f"'{value}'")
    if "'''" not in value and not value.endswith("'") and not value.startswith("\n"):
        choices.append(f"'''{value}'''")
    if not value.startswith("\n"):
        choices.append('"""' + value.replace("\\", "\\\\").replace('"', '\\"') + '"""')
    return draw(st.sampled_from(choices))


def inline(value, draw):
    if isinstance(value, dict):
        sep = draw(st.sampled_from([", ", ",", " , "]))
        return "{" + sep.join(f"{key(k, draw)} = {inline(v, draw)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        sep = draw(st.sampled_from([", ", ",\n  ", ", # c\n"]))
        end = draw(st.sampled_from(["", ",", "\n"])) if value else ""
        return "[" + sep.join(inline(v, draw) for v in value) + end + "]"
    return scalar(value, draw)


def table_body(table, path, draw, out):
    """Scalars and inline values first, then sub-tables as headers."""
    later = []
    for k, v in table.items():
        header_ok = isinstance(v, dict) or (
            isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
        )
        if header_ok and draw(st.booleans()):
            later.append((k, v))
        else:
            out.append(f"{key(k, draw)} = {inline(v, draw)}")
    for k, v in later:
        sub = [*path, key(k, draw)]
        name = draw(st.sampled_from([".", " . "])).join(sub)
        if isinstance(v, dict):
            out.append(f"[{name}]")
            table_body(v, sub, draw, out)
        else:
            for element in v:
                out.append(f"[[{name}]]  # table")
                table_body(element, sub, draw, out)


@st.composite
def documents(draw):
    data = draw(st.dictionaries(NAMES, DATA, max_size=5))
    lines: list[str] = []
    table_body(data, [], draw, lines)
    return data, "\n".join(lines) + "\n"


def _top_level_tables(data):
    for name, value in data.items():
        if isinstance(value, dict):
            yield (name,)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            yield from ((name, i) for i in range(len(value)))


@settings(max_examples=300, deadline=None)
@given(documents())
def test_reader_agrees_with_tomli(doc):
    data, text = doc
    assert tomli.loads(text) == data
    values, keys = toml_source._Reader(text).run()
    toml_source.check_agreement(data, values)
    # the header lines found without the reader are the reader's
    document = toml_source.Document(Path("s.toml"), "s.toml", text, data)
    for path in _top_level_tables(data):
        if path in keys:  # a table made by a dotted key or inline has no header
            assert document.header_line(path) == keys[path][0], (path, text)
    lines = text.split("\n")
    for path, (line, col, length) in values.items():
        value = data
        for part in path:
            value = value[part]
        excerpt = lines[line - 1][col - 1 : col - 1 + length]
        if isinstance(value, (dict, list)) or excerpt.startswith(('"""', "'''")):
            continue  # tables and arrays may span lines; the start is what matters
        assert tomli.loads(f"v = {excerpt}")["v"] == value, (path, excerpt)


def test_header_lines_without_the_reader(tmp_path):
    text = (
        "[class]  # one\r\ncode = 1\r\n"
        "x = [\n  [1],\n  [true]\n]\n"
        '[[field]]\nname = "A"\n[[field]]\nname = "B"\n'
    )
    doc = read(text, tmp_path)
    lines = [doc.header_line(p) for p in (("class",), ("field", 0), ("field", 1))]
    assert lines == [1, 7, 9]
    assert doc._read is None  # the position reader never ran


def test_header_lines_in_a_file_with_a_multi_line_string(tmp_path):
    text = '[[field]]\nd = """\n[[field]]\n"""\n[[field]]\nd = ""\n'
    doc = read(text, tmp_path)
    assert [doc.header_line(("field", i)) for i in (0, 1)] == [1, 5]
