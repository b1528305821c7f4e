"""Differential test: every reader, one simulated module, values drawn at random.

A module is the 2.0.08 profile's field set with random values (hypothesis),
served by `tdx-codegen sim --replay DUMP serve`.  The Python RD readers and
the Python RDALL readers read it through the Python client; the generated
kernel C of both flavours, compiled with gcc, reads it through the C client
(tests/sim/fake_read.c).  Every kernel member must hold the same value in
all four, and the value the schema says it should hold.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel import cbuild
from sim.serving import Serving

import tdx_metadata as md
from codegen.sim.profile import load_profile
from codegen.sim.replay import dump_json
from codegen.sim.simulator import Simulator
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
FLAVORS = ("map", "functions")

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")

CATALOGUE = compile_or_raise(ROOT / "schema")
BASE = load_profile(ROOT / "schema" / "profiles" / "2.0.08.toml", CATALOGUE)
# a live count is at most the module capacity of every array it counts
COUNT_MAX = {}
for _f in BASE.fields:
    if _f.count:
        COUNT_MAX[_f.count] = min(COUNT_MAX.get(_f.count, _f.num_fields), _f.num_fields)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("diff")


_runs = itertools.count()


def serving(workdir: Path, *module_args: str) -> Serving:
    return Serving(*module_args, "serve", "--unix", str(workdir / f"s{next(_runs)}.sock"))


def run_kernel(server: Serving, exe: Path) -> cbuild.Dump:
    """The kernel reader, reading through the C client from server."""
    return cbuild.run(exe, env={"TDX_SIM_ADDRESS": server.address})


@st.composite
def module_values(draw):
    """name -> element values for every field of the 2.0.08 module."""
    values = {}
    for f in BASE.fields:
        if f.name in COUNT_MAX:
            values[f.name] = [draw(st.integers(0, COUNT_MAX[f.name]))]
        else:
            top = (1 << 8 * f.element_size) - 1
            values[f.name] = draw(
                st.lists(st.integers(0, top), min_size=f.num_ids, max_size=f.num_ids)
            )
    return values


def python_value(info, struct: str, member: str, indices: list[int]) -> int:
    """A member element as the Python readers hold it; 0 where they hold none."""
    value = getattr(getattr(info, struct), member, None) if getattr(info, struct) else None
    for i in indices:
        if value is None or i >= len(value):  # past the live count
            return 0
        value = value[i]
    return 0 if value is None else value


def problems(dumped: cbuild.Dump) -> list[str]:
    """What the kernel reader printed besides its info messages."""
    return [line for line in dumped.stderr.splitlines() if not line.startswith("info: ")]


def indices_of(key: str) -> tuple[str, str, list[int]]:
    name, _, rest = key.partition("[")
    struct, member = name.split(".")
    return struct, member, [int(i) for i in rest.rstrip("]").split("][")] if rest else []


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(values=module_values())
def test_all_readers_agree_on_a_random_module(harnesses, workdir, values):
    sim = Simulator(BASE)
    for name, vals in values.items():
        sim.set_value(name, vals)
    dump = workdir / f"m{next(_runs)}.json"
    dump.write_text(dump_json(sim))
    with serving(workdir, "--replay", str(dump)) as server:
        with server.client() as c:
            by_rd = md.read_all_rd(c)
            by_rdall = md.read_all_rdall(c)
        kernel = {flavor: run_kernel(server, exe) for flavor, exe in harnesses.items()}
    assert by_rd == by_rdall
    by_id = {
        f.element_id(i, j): sim.values[f.name][i * f.num_elements + j]
        for f in BASE.fields
        for i in range(f.num_fields)
        for j in range(f.num_elements)
    }
    want = cbuild.expected(CATALOGUE, by_id)
    for flavor, dumped in kernel.items():
        assert (flavor, dumped.ret, problems(dumped)) == (flavor, 0, [])
        assert dumped.members == want
    for key, c_value in want.items():
        assert python_value(by_rd, *indices_of(key)) == c_value, key


def test_the_random_values_reach_every_member_of_the_default_module(harnesses, workdir):
    """The shipped 2.0.08 values, served: a fixed point the random runs vary around."""
    with serving(workdir, "--profile", "2.0.08") as server:
        with server.client() as c:
            info = md.read_all_rdall(c)
        dumps = [run_kernel(server, exe) for exe in harnesses.values()]
    assert dumps[0].members == dumps[1].members
    m = dumps[0].members
    assert (
        m["version.major_version"],
        m["version.minor_version"],
        m["version.update_version"],
    ) == (2, 0, 8)
    assert m["td_conf.num_cpuid_config"] == 20 and m["td_conf.cpuid_config_leaves[19]"] == 0x23
    assert m["td_conf.cpuid_config_leaves[20]"] == 0  # past the live count
    assert m["features.tdx_features0"] == 0x12293F0FFF == info.features.tdx_features0


@pytest.mark.parametrize("flavor", FLAVORS)
def test_count_above_capacity_fires_the_guards(harnesses, workdir, flavor):
    with serving(workdir, "--profile", "2.0.08", "--set", "NUM_CPUID_CONFIG=200") as server:
        dumped = run_kernel(server, harnesses[flavor])
        with server.client() as c:
            with pytest.raises(
                md.CountError,
                match="NUM_CPUID_CONFIG = 200 exceeds the capacity "
                r"of CPUID_CONFIG_LEAVES \(128\)",
            ):
                md.read_all_rd(c)
            with pytest.raises(md.CountError):
                md.read_all_rdall(c)
    assert dumped.ret == -22
    assert dumped.members["td_conf.num_cpuid_config"] == 200
    assert dumped.members["td_conf.cpuid_config_leaves[0]"] == 0


@pytest.mark.parametrize("flavor", FLAVORS)
def test_an_injected_status_is_eio_in_the_kernel_and_named_in_python(harnesses, workdir, flavor):
    with serving(workdir, "--profile", "2.0.08", "--fault", "MAX_TDMRS=TDX_SYS_BUSY") as server:
        dumped = run_kernel(server, harnesses[flavor])
        with server.client() as c:
            with pytest.raises(
                md.SeamcallError,
                match=r"TDH.SYS.RD reading MAX_TDMRS "
                r"\(0x9100000100000008\) failed: TDX_SYS_BUSY",
            ):
                md.read_all_rd(c)
            with pytest.raises(md.SeamcallError, match="TDX_SYS_BUSY"):
                md.read_all_rdall(c)
    assert dumped.ret == -5
    assert problems(dumped) == ["SEAMCALL (0x0000000000000022) failed: 0x8000020200000000"]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_kernel_retries_no_entropy(harnesses, workdir, flavor):
    with serving(workdir, "--profile", "2.0.08", "--fault", "TDX_RND_NO_ENTROPY:15") as server:
        dumped = run_kernel(server, harnesses[flavor])
    assert (dumped.ret, problems(dumped)) == (0, [])
    assert dumped.members["tdmr.max_tdmrs"] == 64
