"""What CI sees: GitHub annotations of validate, build and compat; the pre-commit hook."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


def run(*args, cwd):
    p = subprocess.run([sys.executable, "-m", "codegen", *map(str, args)], capture_output=True,
                       text=True, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def test_validate_annotates_each_diagnostic(tmp_path):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    shutil.copy(DATA / "bad" / "ID-CONTEXT" / "tdmr.toml", tmp_path / "schema" / "tdmr.toml")
    text = (DATA / "bad" / "ID-CONTEXT" / "expected.txt").read_text().split("\n", 1)[1]
    code, out, err = run("validate", "--format", "github", cwd=tmp_path)
    first = text.splitlines()[0]
    where, _, rest = first.partition(": error[ID-CONTEXT]: ")
    file, line, col = where.split(":")
    assert (code, err) == (1, text)   # the text as always, on stderr
    assert out == f"::error file={file},line={line},col={col},title=ID-CONTEXT::{rest}\n"


def test_annotation_text_is_escaped():
    from codegen.annotations import command, location

    assert command("warning", "50% of a\nb", "a,b:c.toml", 3, 4, "R") == \
        "::warning file=a%2Cb%3Ac.toml,line=3,col=4,title=R::50%25 of a%0Ab\n"
    assert command("error", "no file") == "::error::no file\n"
    assert location("HEAD~1:schema/x.toml:12") == ("schema/x.toml", 12)
    assert location("schema/x.toml:7") == ("schema/x.toml", 7)


def test_build_check_annotates_each_stale_file(tmp_path):
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    assert run("build", cwd=tmp_path)[0] == 0
    path = tmp_path / "schema" / "tdmr.toml"
    path.write_text(path.read_text().replace('description = "', 'description = "Now: ', 1))
    code, out, err = run("build", "--check", "--format", "github", cwd=tmp_path)
    assert code == 1
    stale = re.findall(r"^(generated/\S+): out of date$", err, flags=re.M)
    assert stale and out == "".join(
        f"::error file={f}::out of date: run 'tdx-codegen build' and commit the result\n"
        for f in stale)


def test_compat_annotates_each_change_by_category(tmp_path):
    shutil.copytree(ROOT / "schema", tmp_path / "old")
    shutil.copytree(ROOT / "schema", tmp_path / "new")
    path = tmp_path / "new" / "10-cmr-info.toml"
    text = path.read_text()
    start = text.index('name = "CMR_SIZE"')
    path.write_text(text[:start] + text[start:].replace('id = "0x9000000300000100"',
                                                        'id = "0x9000000300000200"', 1))
    line = path.read_text().splitlines().index('id = "0x9000000300000200"') + 1
    code, out, err = run("compat", "old", "new", "--format", "github", cwd=tmp_path)
    assert code == 1 and err.startswith("compat old -> new: 1 MODULE_ABI")
    [annotation] = out.splitlines()
    assert annotation.startswith("::error file=new/10-cmr-info.toml,line=")
    assert annotation.endswith(",title=MODULE_ABI::CMR_SIZE: id 0x9000000300000100 -> "
                               "0x9000000300000200")
    assert abs(int(annotation.split("line=")[1].split(",")[0]) - line) <= 3


def test_the_pre_commit_hook_runs_build_check(tmp_path):
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "- id: tdx-codegen-check\n" in text
    entry = re.search(r"^  entry: (.+)$", text, flags=re.M).group(1)
    assert entry == "tdx-codegen build --check"
    assert "  pass_filenames: false\n" in text and "  language: python\n" in text
    shutil.copytree(DATA / "minimal", tmp_path / "schema")
    argv = entry.split()[1:]
    assert run(*argv, cwd=tmp_path)[0] == 1   # never built
    assert run("build", cwd=tmp_path)[0] == 0
    assert run(*argv, cwd=tmp_path)[0] == 0
