"""Fault injection: every status a reader can see, on every field of the 2.0.08 profile.

Four readers face one simulated module (codegen.sim.simulator, in this
process): the Python readers by TDH.SYS.RD and by TDH.SYS.RDALL, and the
generated kernel C of both flavours, compiled with gcc and linked with
tests/sim/fake_read.c (the kernel's seamcall wrapper over the C client),
whose requests a small socket loop here hands to the same Simulator.

The product is exhaustive: each non-success status of codegen.status,
injected on each of the 72 fields in turn, for each reader.  A reader that
touches the faulted field must fail: the Python readers with a typed
MetadataError naming the leaf, status, field and id (never a struct), the C
readers with -EIO (never 0 with a half-filled struct).  A reader that does
not touch it must read exactly what it reads without the fault.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
from pathlib import Path

import pytest
from kernel import cbuild

import tdx_metadata as md
from codegen.abi import fieldid, rdall_list
from codegen.abi import status as abi_status
from codegen.runtime import RD, RDALL, SEAMCALL_TRIES
from codegen.sim.profile import load_profile
from codegen.sim.protocol import REQUEST, pack_response
from codegen.sim.simulator import Simulator
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
FLAVORS = ("map", "functions")
EIO, EINVAL = -5, -22

CATALOGUE = compile_or_raise(ROOT / "schema")
MODULE = load_profile(ROOT / "schema" / "profiles" / "2.0.08.toml", CATALOGUE)
NAMES = [f.name for f in MODULE.fields]
# every status but success: errors, and non-error statuses that are not success
FAULTS = sorted(n for n in abi_status.STATUSES if n != "TDX_SUCCESS")
FIRST_FIELD = "the first field"  # how the RDALL reader names the null start id


class Traced:
    """A Simulator backend that records which fields each SEAMCALL touched."""

    def __init__(self, sim: Simulator):
        self.sim = sim
        self.rd_ids: dict[str, int] = {}  # field -> first element id read
        self.pages: list[tuple[int, set[str]]] = []  # RDALL: (start id, fields listed)

    def rd(self, field_id):
        found = CATALOGUE.locate(field_id)
        if found:
            self.rd_ids.setdefault(found[0].name, field_id)
        return self.sim.rd(field_id)

    def rdall(self, field_id):
        result = self.sim.rdall(field_id)
        names = set()
        if result[2]:
            for seq in rdall_list.parse(result[2]):
                for i in range(len(seq.values)):
                    code = fieldid.replace(
                        0, CLASS_CODE=seq.class_code, FIELD_CODE=seq.field_code + i
                    )
                    names.add(CATALOGUE.locate(code)[0].name)
        self.pages.append((field_id, names))
        return result


def faulted(name: str | None, status: str, count: int | None = None, **state) -> Simulator:
    sim = Simulator(MODULE, **state)
    sim.inject(name, abi_status.STATUSES[status], count)
    return sim


def without(name: str) -> Simulator:
    """The module as a release without the field would serve it."""
    module = dataclasses.replace(MODULE, fields=tuple(f for f in MODULE.fields if f.name != name))
    return Simulator(module)


def outcome(read, backend):
    """What a Python reader made of a module: the struct, or the error's identity."""
    try:
        return read(backend)
    except md.SeamcallError as exc:
        return ("SeamcallError", exc.leaf, exc.status_name, exc.field, exc.field_id)
    except md.MetadataError as exc:
        return (type(exc).__name__, str(exc))


def seamcall_error(leaf, status, field, field_id):
    return ("SeamcallError", leaf, status, field, field_id)


CLEAN_RD = Traced(Simulator(MODULE))
BASE = md.read_all_rd(CLEAN_RD)
RD_READ = CLEAN_RD.rd_ids  # fields the RD readers touch, first id of each


def test_both_python_paths_read_the_clean_module_alike():
    clean = Traced(Simulator(MODULE))
    assert md.read_all_rdall(clean) == BASE
    assert clean.pages == [(fieldid.NULL_ID, set(NAMES))]  # one page holds 2.0.08
    assert set(NAMES) <= set(RD_READ)  # every field has a reader
    # and the readers try the fields of later releases, which a 2.0.08 module lacks
    later = {f.name for f in CATALOGUE.fields if f.since and not f.since.has(MODULE.release)}
    assert {"NUM_MEM_SCAN_CONTROL_PAGES", "MAX_MEM_SCAN_RANGES", "NUM_MEM_SCAN_CONTEXTS"} <= later
    assert set(RD_READ) - set(NAMES) == later


# -- Python, TDH.SYS.RD ------------------------------------------------------


def expected_rd(name: str, status: str):
    f = CATALOGUE.field(name)
    if status == "TDX_METADATA_FIELD_ID_INCORRECT" and CATALOGUE.optional(f):
        return md.read_all_rd(without(name))  # absent, exactly as on a module without it
    return seamcall_error(RD, status, name, RD_READ[name])


@pytest.mark.parametrize("status", FAULTS)
def test_rd_reader_fails_typed_on_every_field(status):
    wrong = {}
    for name in NAMES:
        got = outcome(md.read_all_rd, faulted(name, status))
        if got != expected_rd(name, status):
            wrong[name] = got
    assert wrong == {}


def test_an_absent_optional_field_reads_as_none():
    got = md.read_all_rd(faulted("MAX_VCPUS_PER_TD", "TDX_METADATA_FIELD_ID_INCORRECT"))
    assert got.td_conf.max_vcpus_per_td is None
    assert (
        dataclasses.replace(got.td_conf, max_vcpus_per_td=BASE.td_conf.max_vcpus_per_td)
        == BASE.td_conf
    )


# -- Python, TDH.SYS.RDALL ---------------------------------------------------


def expected_rdall(status: str, start: int, first: str):
    if status == "TDX_METADATA_LIST_OVERFLOW":  # overflow with nothing written
        return (
            "ListError",
            f"{RDALL} page starting at {first} ({fieldid.canonical(start)}): "
            "page of 0 bytes has no list header",
        )
    return seamcall_error(RDALL, status, first, start)


@pytest.mark.parametrize("status", FAULTS)
def test_rdall_reader_fails_typed_on_every_field(status):
    wrong = {}
    for name in NAMES:
        got = outcome(md.read_all_rdall, faulted(name, status))
        if got != expected_rdall(status, fieldid.NULL_ID, FIRST_FIELD):
            wrong[name] = got
    assert wrong == {}


# a list buffer small enough that 2.0.08 takes several RDALL calls
SMALL_LIST = 512


def paged():
    clean = Traced(Simulator(MODULE, list_size=SMALL_LIST))
    assert md.read_all_rdall(clean) == BASE
    return clean.pages


@pytest.mark.parametrize("status", FAULTS)
def test_rdall_continuation_fails_at_the_page_holding_the_field(status):
    pages = paged()
    assert len(pages) > 5
    wrong = {}
    for name in NAMES:
        start = next(start for start, names in pages if name in names)
        first = FIRST_FIELD if start == fieldid.NULL_ID else CATALOGUE.locate(start)[0].name
        got = outcome(md.read_all_rdall, faulted(name, status, list_size=SMALL_LIST))
        if got != expected_rdall(status, start, first):
            wrong[name] = got
    assert wrong == {}


@pytest.mark.parametrize("list_size", [32, 48, 100, 1000, 4095])
def test_rdall_follows_overflow_to_the_same_structs(list_size):
    clean = Traced(Simulator(MODULE, list_size=list_size))
    assert md.read_all_rdall(clean) == BASE
    assert next(s for s, _ in clean.pages) == fieldid.NULL_ID
    assert set().union(*(names for _, names in clean.pages)) == set(NAMES)


def test_rdall_without_progress_is_a_list_error():
    got = outcome(md.read_all_rdall, Simulator(MODULE, list_size=31))
    assert got == (
        "ListError",
        f"{RDALL} page starting at {FIRST_FIELD} (0xFFFFFFFFFFFFFFFF): "
        "page of 0 bytes has no list header",
    )


# -- machine state, retries, faults that clear ---------------------------------

FIRST_RD = next(iter(RD_READ))


@pytest.mark.parametrize(
    "state, status",
    [({"lp_init": False}, "TDX_SYS_LP_INIT_NOT_DONE"), ({"shutdown": True}, "TDX_SYS_SHUTDOWN")],
)
def test_machine_state_is_a_typed_error(state, status):
    assert outcome(md.read_all_rd, Simulator(MODULE, **state)) == seamcall_error(
        RD, status, FIRST_RD, RD_READ[FIRST_RD]
    )
    assert outcome(md.read_all_rdall, Simulator(MODULE, **state)) == seamcall_error(
        RDALL, status, FIRST_FIELD, fieldid.NULL_ID
    )


@pytest.mark.parametrize("read", [md.read_all_rd, md.read_all_rdall])
@pytest.mark.parametrize("name", [None, "CPUID_CONFIG_VALUES"])
def test_no_entropy_is_retried_then_given_up(read, name):
    assert SEAMCALL_TRIES == 16  # as tests/sim/fake_read.c
    sim = faulted(name, "TDX_RND_NO_ENTROPY", SEAMCALL_TRIES - 1)
    assert read(sim) == BASE
    assert sim.faults == {}  # every injected answer was consumed
    sim = faulted(name, "TDX_RND_NO_ENTROPY", SEAMCALL_TRIES)
    got = outcome(read, sim)
    assert got[:3] == (
        "SeamcallError",
        RD if read is md.read_all_rd else RDALL,
        "TDX_RND_NO_ENTROPY",
    )
    assert sim.faults == {}  # gave up after exactly SEAMCALL_TRIES
    assert read(sim) == BASE  # the next read succeeds


@pytest.mark.parametrize("read", [md.read_all_rd, md.read_all_rdall])
@pytest.mark.parametrize("status", ["TDX_SYS_BUSY", "TDX_OPERAND_BUSY"])
def test_a_counted_fault_fails_one_read_and_clears(read, status):
    """Busy statuses are not retried (nor by the kernel): that read fails, the next succeeds."""
    sim = faulted("NUM_CPUID_CONFIG", status, 1)
    assert outcome(read, sim)[:3] == (
        "SeamcallError",
        RD if read is md.read_all_rd else RDALL,
        status,
    )
    assert read(sim) == BASE
    assert read(sim) == BASE


COUNTS = [
    ("NUM_CPUID_CONFIG", 200, "CPUID_CONFIG_LEAVES", 128),
    ("NUM_CPUID_CONFIG", 129, "CPUID_CONFIG_LEAVES", 128),
    ("NUM_CMRS", 33, "CMR_BASE", 32),
    ("NUM_PKGS", 9, "PKG_FMS", 8),
    ("NUM_ALLOWED_FMS", 0xFFFF, "ALLOWED_FMS", 64),
]


@pytest.mark.parametrize("read", [md.read_all_rd, md.read_all_rdall])
@pytest.mark.parametrize("count, value, array, capacity", COUNTS)
def test_counts_above_capacity_are_count_errors(read, count, value, array, capacity):
    """A live count above capacity: the one place for the Python readers, both paths.

    The same behaviour elsewhere, each for its own consumer: the kernel C returns -EINVAL
    (test_kernel_c.py::test_count_beyond_capacity_is_einval), the simulator serves such a
    count as any value (test_sim.py::test_count_above_capacity), and over the socket the
    kernel C and the readers side by side (test_sim_diff.py)."""
    sim = Simulator(MODULE)
    sim.set_value(count, value)
    assert outcome(read, sim) == (
        "CountError",
        f"{count} = {value} exceeds the capacity of {array} ({capacity})",
    )
    with pytest.raises(md.MetadataError):  # CountError is a MetadataError, as callers catch it
        read(sim)


def test_a_count_within_capacity_but_past_the_module_table_fails():
    """NUM_CPUID_CONFIG 33: CPUID_CONFIG_LEAVES holds 128, the module has 32 fields."""
    sim = Simulator(MODULE)
    sim.set_value("NUM_CPUID_CONFIG", 33)
    leaves = CATALOGUE.field("CPUID_CONFIG_LEAVES")
    assert outcome(md.read_all_rd, sim) == seamcall_error(
        RD, "TDX_METADATA_FIELD_ID_INCORRECT", "CPUID_CONFIG_LEAVES", leaves.id + 32
    )
    with pytest.raises(
        md.SeamcallError,
        match=r"TDH.SYS.RDALL reading CPUID_CONFIG_LEAVES "
        r"\(0x9900000300000420\) failed: TDX_METADATA_FIELD_ID_INCORRECT "
        r"\(0xc0000c0000000000\); the field is missing from the list",
    ):
        md.read_all_rdall(sim)


# -- the kernel C readers ------------------------------------------------------


class Machine:
    """Answers the C client's frames (docs/sim-protocol.md) from whatever self.sim is."""

    def __init__(self, path: Path):
        self.sim = Simulator(MODULE)
        self.rd_ids: list[int] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen()
        self.env = {"TDX_SIM_ADDRESS": f"unix:{path}"}
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed at the end of the module
            with conn, conn.makefile("rb") as frames:
                while len(frame := frames.read(REQUEST.size)) == REQUEST.size:
                    rax, rcx, rdx, r8 = REQUEST.unpack(frame)[3:]
                    if rax == abi_status.TDH_SYS_RD:
                        self.rd_ids.append(rdx)
                    conn.sendall(pack_response(*self.sim.call(rax, rcx, rdx, r8)))


needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    m = Machine(tmp_path_factory.mktemp("machine") / "sim.sock")
    yield m
    m.listener.close()


@pytest.fixture(scope="module")
def kernel(harnesses, machine):
    """flavor -> run(sim): the compiled reader's Dump against that module."""

    def run(flavor: str, sim: Simulator) -> cbuild.Dump:
        machine.sim, machine.rd_ids = sim, []
        return cbuild.run(harnesses[flavor], machine.env)

    return run


def problems(dump: cbuild.Dump) -> list[str]:
    """What the reader printed besides the module version it prints at init."""
    return [line for line in dump.stderr.splitlines() if not line.startswith("info: ")]


# field -> struct, of the kernel structs read on their own (outside get_tdx_sys_info())
APART = {f.name: s.name for s, f in cbuild.kernel_fields(CATALOGUE, apart=True)}


def failed(status: str) -> str:
    return f"SEAMCALL (0x{abi_status.TDH_SYS_RD:016x}) failed: 0x{abi_status.STATUSES[status]:016x}"


@pytest.fixture(scope="module")
def clean_kernel(kernel, machine):
    """flavor -> (dump of the clean module, names of the fields it reads)."""
    clean = {}
    for flavor in FLAVORS:
        dump = kernel(flavor, Simulator(MODULE))
        assert (dump.ret, problems(dump)) == (0, [])
        clean[flavor] = dump, {CATALOGUE.locate(i)[0].name for i in machine.rd_ids}
    return clean


@needs_gcc
@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_kernel_reads_its_struct_set_only(clean_kernel, flavor):
    _, read = clean_kernel[flavor]
    # the struct set, those read on their own too (the harness reads them as tdx.c does)
    kernel_fields = {
        f.name
        for _, f in [*cbuild.kernel_fields(CATALOGUE), *cbuild.kernel_fields(CATALOGUE, apart=True)]
    }
    assert read == kernel_fields  # all structs ungated on 2.0.08
    assert len(read) < len(NAMES)


@needs_gcc
@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("status", FAULTS)
def test_kernel_reader_returns_eio_on_every_field(kernel, clean_kernel, flavor, status):
    base, read = clean_kernel[flavor]
    wrong = {}
    for name in NAMES:
        dump = kernel(flavor, faulted(name, status))
        if name in APART:  # read on its own, as tdx.c's module update does
            ok = (dump.apart_ret[APART[name]], problems(dump)) == (EIO, [failed(status)])
        elif name in read:
            ok = (dump.ret, problems(dump)) == (EIO, [failed(status)])
        else:
            ok = (dump.ret, dump.members, problems(dump)) == (0, base.members, [])
        if not ok:
            wrong[name] = (dump.ret, problems(dump))
    assert wrong == {}


@needs_gcc
@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize(
    "state, status",
    [({"lp_init": False}, "TDX_SYS_LP_INIT_NOT_DONE"), ({"shutdown": True}, "TDX_SYS_SHUTDOWN")],
)
def test_kernel_machine_state_is_eio(kernel, flavor, state, status):
    dump = kernel(flavor, Simulator(MODULE, **state))
    assert (dump.ret, problems(dump)) == (EIO, [failed(status)])


@needs_gcc
@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("name", [None, "CPUID_CONFIG_VALUES"])
def test_kernel_retries_no_entropy_then_gives_up(kernel, clean_kernel, flavor, name):
    base, _ = clean_kernel[flavor]
    sim = faulted(name, "TDX_RND_NO_ENTROPY", SEAMCALL_TRIES - 1)
    dump = kernel(flavor, sim)
    assert (dump.ret, dump.members, problems(dump), sim.faults) == (0, base.members, [], {})
    sim = faulted(name, "TDX_RND_NO_ENTROPY", SEAMCALL_TRIES)
    dump = kernel(flavor, sim)
    assert (dump.ret, problems(dump)) == (EIO, [failed("TDX_RND_NO_ENTROPY")])
    assert kernel(flavor, sim).members == base.members  # cleared: the next boot reads it all


@needs_gcc
@pytest.mark.parametrize("flavor", FLAVORS)
def test_kernel_counted_fault_fails_once(kernel, clean_kernel, flavor):
    base, _ = clean_kernel[flavor]
    sim = faulted("NUM_CPUID_CONFIG", "TDX_SYS_BUSY", 1)
    assert kernel(flavor, sim).ret == EIO
    dump = kernel(flavor, sim)
    assert (dump.ret, dump.members) == (0, base.members)


@needs_gcc
@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize(
    "count, value, ret",
    [
        ("NUM_CPUID_CONFIG", 200, EINVAL),
        ("NUM_CPUID_CONFIG", 129, EINVAL),
        ("NUM_CPUID_CONFIG", 33, EIO),
        ("NUM_CMRS", 33, 0),
    ],
)
def test_kernel_count_guards(kernel, clean_kernel, flavor, count, value, ret):
    """Above the array: -EINVAL before any element is read; past the module's table: the
    read fails; a count of a struct the kernel does not read changes nothing."""
    base, _ = clean_kernel[flavor]
    sim = Simulator(MODULE)
    sim.set_value(count, value)
    dump = kernel(flavor, sim)
    assert dump.ret == ret
    if ret == 0:
        assert dump.members == base.members
    if ret == EINVAL:
        assert dump.members["td_conf.cpuid_config_leaves[0]"] == 0  # no element read
