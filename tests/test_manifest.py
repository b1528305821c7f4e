"""The build's manifest: what tdx-codegen wrote, so hand edits are found without a mark in the files."""

import json

import pytest

from codegen.outputs import writer
from codegen.outputs.writer import MANIFEST_NAME, Output


def build(root, outputs, force=False):
    p = writer.plan(root, outputs)
    return p, writer.apply(p, force=force)


def test_the_manifest_records_every_file_and_is_written_last(tmp_path):
    _p, written = build(tmp_path, [Output("b.txt", "two\n"), Output("a/c.txt", "one\n")])
    assert written == ["a/c.txt", "b.txt", MANIFEST_NAME]
    assert json.loads((tmp_path / MANIFEST_NAME).read_text()) == {
        "generator": "tdx-codegen",
        "files": {"a/c.txt": writer.digest("one\n"), "b.txt": writer.digest("two\n")},
    }
    assert (tmp_path / "b.txt").read_text() == "two\n"  # the file itself carries no mark
    assert not writer.plan(tmp_path, [Output("b.txt", "two\n"), Output("a/c.txt", "one\n")]).dirty


def test_an_edit_is_found_by_its_hash_and_kept_unless_forced(tmp_path):
    build(tmp_path, [Output("f.c", "old\n")])
    (tmp_path / "f.c").write_text("old, edited\n")
    p = writer.plan(tmp_path, [Output("f.c", "new\n")])
    assert [o.path for o in p.edited] == ["f.c"]
    assert [o.path for o in p.update] == [MANIFEST_NAME]
    assert writer.apply(p) == [MANIFEST_NAME]
    assert (tmp_path / "f.c").read_text() == "old, edited\n"
    # a file the last build wrote, the schema changed since: replaced, not an edit
    build(tmp_path, [Output("f.c", "old\n")], force=True)
    p = writer.plan(tmp_path, [Output("f.c", "new\n")])
    assert [o.path for o in p.update] == ["f.c", MANIFEST_NAME] and p.edited == []


def test_a_file_the_manifest_does_not_record_is_replaced_and_never_removed(tmp_path):
    (tmp_path / "mine.txt").write_text("the user's\n")
    (tmp_path / "f.c").write_text("from an older tdx-codegen\n")
    p = writer.plan(tmp_path, [Output("f.c", "new\n")])
    assert [o.path for o in p.update] == ["f.c"] and p.stale == []
    writer.apply(p)
    assert (tmp_path / "mine.txt").read_text() == "the user's\n"


def test_files_no_longer_produced_are_removed_unless_edited(tmp_path):
    build(tmp_path, [Output("keep.c", "k\n"), Output("gone.c", "g\n"), Output("edited.c", "e\n")])
    (tmp_path / "edited.c").write_text("e, edited\n")
    p, written = build(tmp_path, [Output("keep.c", "k\n")])
    assert p.stale == ["gone.c"]
    assert written == [MANIFEST_NAME, "gone.c"]
    assert not (tmp_path / "gone.c").exists()
    assert (tmp_path / "edited.c").read_text() == "e, edited\n"


def test_a_manifest_kept_elsewhere_is_no_change_of_the_tree(tmp_path):
    tree, record = tmp_path / "tree", tmp_path / "git" / "manifest.json"
    (tree).mkdir()
    (record.parent).mkdir()
    (tree / "f.c").write_text("the kernel's\n")
    p = writer.plan(tree, [Output("f.c", "the kernel's\n")], manifest=record, scan_stale=False)
    assert not p.dirty  # nothing to change though no record exists yet
    assert writer.apply(p) == [] and json.loads(record.read_text())["files"] == {
        "f.c": writer.digest("the kernel's\n")
    }
    (tree / "f.c").write_text("edited\n")
    p = writer.plan(tree, [Output("f.c", "the kernel's\n")], manifest=record, scan_stale=False)
    assert [o.path for o in p.edited] == ["f.c"]
    assert sorted(q.name for q in tree.iterdir()) == ["f.c"]


@pytest.mark.parametrize(
    "text",
    [b"{not json", b"[" * 100_000, b'["files"]', b'{"files": [1]}', b"\xff{}"],
    ids=["not-json", "nested-deep", "a-list", "files-a-list", "not-utf8"],
)
def test_an_unreadable_manifest_records_nothing(tmp_path, text):
    (tmp_path / MANIFEST_NAME).write_bytes(text)
    (tmp_path / "f.c").write_text("x\n")
    p = writer.plan(tmp_path, [Output("f.c", "y\n")])
    assert [o.path for o in p.update] == ["f.c", MANIFEST_NAME]
