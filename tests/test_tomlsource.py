"""Source positions for TOML key paths, which every diagnostic relies on."""

from codegen.spec import toml_source

TEXT = '''\
# comment
[class]
code = 0x11   # trailing comment
name = "TDMR Info"

[[field]]
name = "A"
description = """
multi-line "quoted" text
"""
bits = { X = 1, Y = { bit = 2 } }

[field.more]
k = 'literal'

[[field]]
name = "B"
list = [
  "one",  # comment
  "two",
]
"dotted"."key" = 3
'''


def test_positions(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(TEXT)
    doc = toml_source.load(path, "s.toml")
    at = lambda *keys: (doc.loc(keys).line, doc.loc(keys).col)
    assert at("class", "code") == (3, 8)
    assert doc.loc(("class", "code")).length == 4
    assert at("class", "name") == (4, 8)
    assert at("field", 0, "name") == (7, 8)
    assert at("field", 0, "description") == (8, 15)
    assert at("field", 0, "bits", "X") == (11, 14)
    assert at("field", 0, "bits", "Y", "bit") == (11, 29)
    assert at("field", 0, "more", "k") == (14, 5)
    assert at("field", 1, "name") == (17, 8)
    assert at("field", 1, "list", 1) == (20, 3)
    assert at("field", 1, "dotted", "key") == (22, 18)
    assert doc.loc(("field", 1), key=True).line == 16
    # unknown paths fall back to the closest known parent
    assert at("field", 1, "nope") == (16, 1)


def test_syntax_error_location(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[class]\ncode = 0x11\nname = "x\n')
    try:
        toml_source.load(path, "s.toml")
    except toml_source.TomlSyntaxError as exc:
        assert (exc.loc.line, exc.loc.col, exc.loc.text) == (3, 10, 'name = "x')
    else:
        raise AssertionError("no syntax error")


def test_not_utf8(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b'name = "ok"\nname2 = "\xff"\n')
    try:
        toml_source.load(path, "s.toml")
    except toml_source.TomlSyntaxError as exc:
        assert exc.message == "not valid UTF-8 (invalid start byte 0xFF); save the file as UTF-8"
        assert (exc.loc.line, exc.loc.col, exc.loc.text) == (2, 10, 'name2 = "\ufffd"')
    else:
        raise AssertionError("no error")
