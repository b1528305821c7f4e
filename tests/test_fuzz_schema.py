"""Schema fuzzing: mutated schema files never crash the compiler.

Every mutation of a valid schema ends in exit 0 (still valid) or exit 1
with diagnostics; never a traceback or an internal error, and a failed
build leaves the output directory byte-for-byte as it was.  Set
FUZZ_EXAMPLES for a longer run (default 100).
"""

import os
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema"
FILES = sorted(p.name for p in SCHEMA.glob("*.toml"))

NASTY = [
    '"*/ int x; /*"',
    '"\\u0000"',
    '"line\\nbreak"',
    '"\\"\\"\\""',
    "18446744073709551616",
    "-1",
    "0x7FFFFFFFFFFFFFFF",
    "1e400",
    "true",
    "[]",
    '[1, "a"]',
    "{}",
    "{ bit = 99 }",
    '"ünïcödé ☃"',
    '"0xFFFFFFFFFFFFFFFF"',
    '"0x0"',
    '"u128"',
    '"struct"',
    '"__init"',
    "2026-11-26",
    '""',
    '"' + "A" * 300 + '"',
    "nan",
    '"TDX_FEATURES0.NOPE"',
]


def mutate(text: str, rnd: random.Random) -> str:
    lines = text.split("\n")
    kind = rnd.randrange(7)
    kv = [i for i, line in enumerate(lines) if " = " in line and not line.startswith("#")]
    if kind == 0 and kv:  # a value replaced by something hostile
        i = rnd.choice(kv)
        key = lines[i].split(" = ", 1)[0]
        lines[i] = f"{key} = {rnd.choice(NASTY)}"
    elif kind == 1 and kv:  # a key deleted
        del lines[rnd.choice(kv)]
    elif kind == 2:  # a table duplicated
        starts = [i for i, line in enumerate(lines) if line.startswith("[[")]
        if starts:
            a = rnd.choice(starts)
            b = next((j for j in range(a + 1, len(lines)) if lines[j].startswith("[")), len(lines))
            lines[b:b] = lines[a:b]
    elif kind == 3:  # raw garbage inserted
        pos = rnd.randrange(len(text) + 1)
        junk = "".join(rnd.choice("[]{}=\"'#\\\n\x00\x7fxé0") for _ in range(rnd.randrange(1, 8)))
        return text[:pos] + junk + text[pos:]
    elif kind == 4:  # a hex digit of an id flipped
        ids = [i for i, line in enumerate(lines) if line.startswith('id = "0x')]
        if ids:
            i = rnd.choice(ids)
            pos = rnd.randrange(8, 8 + 16)
            lines[i] = lines[i][:pos] + rnd.choice("0123456789ABCDEF") + lines[i][pos + 1 :]
    elif kind == 5 and kv:  # a key renamed
        i = rnd.choice(kv)
        key, value = lines[i].split(" = ", 1)
        lines[i] = f"{key}{rnd.choice(['x', '_', ''])}{rnd.choice(['s', 'Z', ''])} = {value}"
    else:  # the file cut short
        return text[: rnd.randrange(len(text) + 1)]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """Output of the valid schema: what a failed build must leave untouched."""
    out = tmp_path_factory.mktemp("out")
    assert main(["build", "--schema", str(SCHEMA), "--out", str(out)]) == 0
    return snapshot(out)


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), file=st.sampled_from(FILES), steps=st.integers(1, 3))
def test_mutated_schema_never_crashes(seed, file, steps, baseline, tmp_path_factory, capsys):
    rnd = random.Random(seed)
    work = tmp_path_factory.mktemp("fuzz")
    schema = work / "schema"
    shutil.copytree(SCHEMA, schema)
    text = (schema / file).read_text()
    for _ in range(steps):
        text = mutate(text, rnd)
    (schema / file).write_bytes(text.encode("utf-8", "surrogatepass"))
    out = work / "out"
    for rel, data in baseline.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    code = main(["build", "--schema", str(schema), "--out", str(out)])
    err = capsys.readouterr().err
    assert code in (0, 1), err
    assert "Traceback" not in err and "internal error" not in err
    if code == 1:
        assert "error[" in err
        assert snapshot(out) == baseline  # a failed build writes nothing
