"""The command line's convention (docs/cli.md): every subcommand's --help, and the doc.

Every subcommand has a description and an example: block whose examples parse
with the real parser.  docs/cli.md is real output: every example runs, and prints
the JSON the doc shows.

The examples run in order, in one project made by `tdx-codegen init demo`, as a
user would type them (`tdx-codegen` on PATH is this checkout's).  A ```sh block
ending in `# exit N` must exit N; the ```json block after it must match what it
printed: every key in order and every value, where "..." stands for any value and a
list ending in "..." for more items.  After a change of output:

    python tests/test_cli_convention.py --write
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from codegen.cli import COMMAND_MODULES, build_parser, verb_of

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cli.md"
BLOCK = re.compile(r"```sh\n(.*?)```\n(?:\n```json\n(.*?)```\n)?", re.S)
EXIT = re.compile(r"# exit (\d+)\s*\Z")
ENVELOPE = ["verb", "ok", "diagnostics"]
DIAGNOSTIC = ["severity", "rule", "message", "file", "line", "col", "notes"]


def examples(text: str):
    """(match, script, exit status or None, json text or None) of every ```sh block."""
    for m in BLOCK.finditer(text):
        code = EXIT.search(m.group(1))
        yield m, m.group(1), int(code.group(1)) if code else None, m.group(2)


def project(tmp: Path) -> tuple[Path, dict]:
    """The demo project, and an environment whose tdx-codegen is this interpreter's."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "tdx-codegen"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m codegen "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env["XDG_CACHE_HOME"] = str(tmp / "cache")
    subprocess.run(
        ["tdx-codegen", "init", "demo"], cwd=tmp, env=env, check=True, capture_output=True
    )
    return tmp / "demo", env


def run_all(tmp: Path):
    """(match, script, expected status, doc json, status, stdout) of every block, in order."""
    cwd, env = project(tmp)
    for m, script, code, shown in examples(DOC.read_text()):
        p = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True)
        yield m, script, code, shown, p


def elided(value, key=""):
    """What the doc shows of a value: long lists, multi-line and long strings cut to '...'."""
    if isinstance(value, dict):
        return {k: elided(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [elided(v) for v in value]
        return items if key == "diagnostics" or len(items) <= 3 else [items[0], "..."]
    if isinstance(value, str) and ("\n" in value or len(value) > 200):
        return "..."
    return value


def matches(shown, actual) -> bool:
    if shown == "...":
        return True
    if isinstance(shown, dict):
        return (
            isinstance(actual, dict)
            and list(shown) == list(actual)
            and all(matches(shown[k], actual[k]) for k in shown)
        )
    if isinstance(shown, list):
        if not isinstance(actual, list):
            return False
        if shown and shown[-1] == "...":
            head = shown[:-1]
            return len(actual) >= len(head) and all(map(matches, head, actual))
        return len(shown) == len(actual) and all(map(matches, shown, actual))
    return shown == actual and type(shown) is type(actual)


def write() -> None:
    text = DOC.read_text()
    out, last = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for m, _script, _code, shown, p in run_all(Path(tmp)):
            if shown is None:
                continue
            out.append(text[last : m.start(2)])
            out.append(json.dumps(elided(json.loads(p.stdout)), indent=2) + "\n")
            last = m.end(2)
    DOC.write_text("".join(out) + text[last:])


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return list(run_all(tmp_path_factory.mktemp("cli-doc")))


def test_every_example_prints_what_the_doc_shows(results):
    hint = "; if the new output is right, run python tests/test_cli_convention.py --write"
    assert len(results) >= 30
    for _m, script, code, shown, p in results:
        if code is not None:
            assert p.returncode == code, f"{script}: exit {p.returncode}\n{p.stderr}"
        if shown is None:
            assert p.stdout == "", script  # setup steps print nothing
            continue
        actual = json.loads(p.stdout)  # exactly one JSON value: anything else fails here
        assert matches(json.loads(shown), actual), f"{script}: the doc shows other JSON{hint}"


def test_every_envelope_has_its_keys_and_a_diagnostic_when_not_ok(results):
    verbs = {}
    for _m, script, _code, shown, p in results:
        if shown is None or "batch" in script:
            continue
        doc = json.loads(p.stdout)
        assert list(doc)[:3] == ENVELOPE, script
        assert doc["ok"] is (p.returncode == 0), script
        if not doc["ok"]:
            assert any(d["severity"] == "error" for d in doc["diagnostics"]), script
        for d in doc["diagnostics"]:
            assert list(d) == DIAGNOSTIC, script
        assert p.stderr == "", f"{script}: --format json writes nothing to stderr"
        verbs.setdefault(doc["verb"], set()).add(doc["ok"])
    # every verb with --format json is shown in success and in failure
    assert all(seen == {True, False} for seen in verbs.values()), verbs
    assert sorted(verbs) == sorted(json_verbs())


def test_the_doc_lists_every_rule_of_the_command_line():
    from codegen.cli.common import CLI_RULES

    rows = re.findall(r"^\| `([A-Z-]+)` \| (.*) \|$", DOC.read_text(), re.M)
    assert dict(rows) == CLI_RULES


def json_verbs() -> list[str]:
    """Every verb whose parser has --format json."""
    return [
        p.get_default("verb") for p in subcommands(build_parser()) if p.get_default("envelope_verb")
    ]


# -- --help ------------------------------------------------------------------------


def subcommands(parser: argparse.ArgumentParser):
    """Every subcommand's parser, sim's own subcommands included, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # an alias maps to the same parser
                yield sub
                yield from subcommands(sub)


def help_examples(help_text: str) -> list[list[str]]:
    """The argv of each command in the example: block (after 'tdx-codegen', before | < >)."""
    block = help_text.split("\nexample:\n", 1)[1]
    found = []
    for line in block.splitlines():
        if not line.startswith("  "):
            break
        words = shlex.split(line)
        argv = words[words.index("tdx-codegen") + 1 :]
        cut = [i for i, w in enumerate(argv) if w in ("|", "<", ">")]
        found.append(argv[: cut[0]] if cut else argv)
    return found


def test_every_subcommand_has_a_description_and_examples_that_parse():
    parser = build_parser()
    subs = list(subcommands(parser))
    assert sorted(sub.get_default("verb") for sub in subs) == sorted(
        ["validate", "build", "init", "explain", "list", "compat", "release-diff"]
        + ["import-json", "reconcile", "adopt", "diff", "patch", "sim"]
        + [f"sim {v}" for v in ("rd", "rdall", "walk", "dump", "serve", "batch")]
    )
    for sub in subs:
        verb = sub.get_default("verb")
        text = sub.format_help()
        assert sub.description and sub.description.strip(), sub.prog
        assert "\nexample:\n" in text, f"{sub.prog} --help has no example: block"
        argvs = help_examples(text)
        assert argvs, sub.prog
        for argv in argvs:
            try:
                args = build_parser().parse_args(argv)
            except SystemExit:
                pytest.fail(f"{sub.prog}: example 'tdx-codegen {shlex.join(argv)}' does not parse")
            # main() builds the parser of the verb run alone: it must read argv the same
            assert build_parser(verb_of(argv)).parse_args(argv) == args, argv
            # the example is of this subcommand (sim's may show one of its own)
            assert args.verb == verb or args.verb.startswith(verb + " "), (sub.prog, argv)


def test_each_module_declares_the_verbs_it_registers():
    """VERBS is how main() finds the one module whose parsers a run needs."""
    for module in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        module.register(sub)
        assert tuple(sub.choices) == module.VERBS, module.__name__
    assert verb_of(["-C", "build", "--format", "json"]) is None  # -C takes the word after it
    assert verb_of(["-C", "x", "build", "--check"]) == "build"
    assert verb_of(["--version"]) is verb_of(["frobnicate"]) is verb_of([]) is None
    assert verb_of(["-h", "build"]) is verb_of(["--hel", "build"]) is None


def test_help_before_a_verb_lists_every_verb(capsys):
    from codegen.cli import main

    outputs = []
    for argv in (["--help"], ["--help", "build"], ["-C", ".", "-h", "sim"], ["--he", "list"]):
        with pytest.raises(SystemExit):
            main(argv)
        outputs.append(capsys.readouterr().out)
    full = outputs[0]
    assert outputs[1:] == [full] * 3
    assert all(f"\n    {verb} " in full for verb in ("validate", "adopt", "patch")), full


def test_a_word_that_is_no_verb_gets_the_full_list_of_verbs(capsys):
    from codegen.cli import main

    with pytest.raises(SystemExit):
        main(["frobnicate"])
    err = capsys.readouterr().err
    every = ", ".join(repr(verb) for module in COMMAND_MODULES for verb in module.VERBS)
    assert err.endswith(
        f"tdx-codegen: error: argument COMMAND: invalid choice: 'frobnicate' (choose from {every})\n"
    ), err
    assert every.count(",") == 12  # all thirteen verbs


def test_an_example_that_does_not_parse_is_found():
    """The check above fails on a stale example: an option the parser does not have."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(help_examples("x\nexample:\n  tdx-codegen build --nope\n")[0])


def test_errors_a_verb_raises_come_out_as_the_envelope(monkeypatch, capsys):
    """A usage error, unusable input and a bug, each in one JSON object with its exit status."""
    import codegen.cli.inspect as inspect_cli
    from codegen.cli import main
    from codegen.cli.common import InputError

    def raising(exc):
        def cmd(args):
            raise exc

        return cmd

    for exc, code, rule, stderr in (
        (InputError("a clash"), 1, "INPUT", ""),
        (RuntimeError("a bug"), 3, "INTERNAL", "tdx-codegen: internal error: RuntimeError: a bug"),
    ):
        monkeypatch.setattr(inspect_cli, "cmd_list", raising(exc))
        assert main(["-C", str(ROOT), "list", "--format", "json"]) == code
        out, err = capsys.readouterr()
        message = "a clash" if code == 1 else "internal error: RuntimeError: a bug"
        assert json.loads(out) == {
            "verb": "list",
            "ok": False,
            "diagnostics": [
                {
                    "severity": "error",
                    "rule": rule,
                    "message": message,
                    "file": "",
                    "line": 0,
                    "col": 0,
                    "notes": [],
                }
            ],
        }
        assert err.startswith(stderr) and (err == "") == (stderr == "")
    assert main(["-C", str(ROOT / "nowhere"), "list", "--format", "json"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert (doc["ok"], [d["rule"] for d in doc["diagnostics"]], err) == (False, ["USAGE"], "")
    assert doc["diagnostics"][0]["message"].startswith("-C ")


# -- - is standard input -------------------------------------------------------------


def tdx(*argv, stdin=None):
    p = subprocess.run(
        [sys.executable, "-m", "codegen", *argv], input=stdin, capture_output=True, cwd=ROOT
    )
    return p.returncode, p.stdout, p.stderr.decode()


def test_dash_reads_the_simulated_module_from_stdin(tmp_path):
    profile = (ROOT / "schema" / "profiles" / "2.0.08.toml").read_bytes()
    by_name = tdx("sim", "--profile", "2.0.08", "rd", "MAX_TDMRS", "NUM_CMRS")
    assert by_name[0] == 0 and b"MAX_TDMRS" in by_name[1]
    assert tdx("sim", "--profile", "-", "rd", "MAX_TDMRS", "NUM_CMRS", stdin=profile) == by_name
    code, dump, _ = tdx("sim", "--profile", "2.0.08", "dump")
    walk = tdx("sim", "--profile", "2.0.08", "walk")
    assert code == 0 and walk[0] == 0
    assert tdx("sim", "--replay", "-", "walk", stdin=dump) == walk
    assert tdx("sim", "--replay", "-", "batch", stdin=dump) == (
        2,
        b"",
        "tdx-codegen: error: batch reads its calls on stdin: give the module as a file, not -\n",
    )
    assert tdx("release-diff", "-", "2.0.08", stdin=profile) == (
        0,
        b"release-diff - -> 2.0.08: 0 added, 0 removed, 0 changed\n",
        "",
    )


def test_readme_links_the_doc():
    assert "(docs/cli.md)" in (ROOT / "README.md").read_text()


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_cli_convention.py --write")
    write()
