"""Test-wide settings and the fixtures several modules share.

No test reads or writes the user's result cache: the cache
(codegen/outputs/cache.py) is keyed by input bytes, but tests also
monkeypatch emitters; they run uncached unless a test turns it on with
its own cache directory (tests/test_cache.py).  Shared helpers that are
not fixtures live in tests/helpers/.
"""

import os

os.environ["TDX_CODEGEN_NO_CACHE"] = "1"

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def harnesses(tmp_path_factory):
    """The generated kernel reader of each flavour, linked with tests/sim/fake_read.c over the
    C client (tests/sim/simclient.c): flavour -> executable."""
    from kernel import cbuild

    from codegen.spec.compiler import compile_or_raise

    catalogue = compile_or_raise(TESTS.parent / "schema")
    exes = {}
    for flavor in ("map", "functions"):
        root = tmp_path_factory.mktemp(f"kernel-{flavor}")
        out, build = root / "out", root / "build"
        build.mkdir()
        cbuild.generate(catalogue, out, flavor)
        (build / "tdx_dump.h").write_text(cbuild.dump_header(catalogue))
        exes[flavor] = cbuild.compile_reader(
            build, out, TESTS / "sim" / "fake_read.c", (TESTS / "sim" / "simclient.c",)
        )
    return exes
