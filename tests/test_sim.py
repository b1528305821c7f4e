"""The simulated TDX module against the TDH.SYS.RD and TDH.SYS.RDALL ABI, register by register."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from codegen.abi import fieldid, rdall_list
from codegen.abi import status as abi_status
from codegen.sim.profile import load_profile
from codegen.sim.simulator import PhysicalMemory, Regs, Simulator
from codegen.spec.compiler import compile_or_raise

ROOT = Path(__file__).resolve().parent.parent
NULL = fieldid.NULL_ID
RD, RDALL = abi_status.TDH_SYS_RD, abi_status.TDH_SYS_RDALL
PAGE = 0x200000
FIELD_ID_INCORRECT = 0xC0000C0000000000
OPERAND_INVALID_RAX = 0xC000010000000000
OPERAND_INVALID_RDX = 0xC000010000000002
LIST_OVERFLOW = 0xC0000C0400000000


@pytest.fixture(scope="module")
def catalogue():
    return compile_or_raise(ROOT / "schema")


@pytest.fixture(scope="module")
def modules(catalogue):
    return {
        name: load_profile(ROOT / "schema" / "profiles" / f"{name}.toml", catalogue)
        for name in ("1.5.01", "1.5.34", "2.0.08")
    }


@pytest.fixture
def sim(modules):
    return Simulator(modules["1.5.01"])


def fill(sim, addr, byte=0xAA):
    sim.memory.page(addr)[:] = bytes([byte]) * rdall_list.PAGE_SIZE


# -- dispatcher -----------------------------------------------------------------


@pytest.mark.parametrize(
    "rax",
    [
        RD | 1 << 16,  # version 1
        RDALL | 1 << 16,
        RD | 1 << 24,  # reserved bits 31:24
        RD | 1 << 32,  # reserved bits 63:32
        RDALL | 1 << 63,
        35,  # a leaf the simulator does not model
    ],
)
def test_dispatcher_rejects_rax_and_leaves_registers(sim, rax):
    assert sim.seamcall(rax, 0x11, 0x22, 0x33) == Regs(OPERAND_INVALID_RAX, 0x11, 0x22, 0x33)


def test_shutdown_answers_before_the_handler_with_registers_unchanged(modules):
    sim = Simulator(modules["1.5.01"], shutdown=True)
    assert sim.seamcall(RD, 1, 0x9900000100000004, 5) == Regs(
        0xC000050600000000, 1, 0x9900000100000004, 5
    )
    assert sim.seamcall(RDALL, 1, PAGE, NULL) == Regs(0xC000050600000000, 1, PAGE, NULL)
    assert sim.written is None and not sim.memory.pages
    # the RAX checks come first
    assert sim.seamcall(RD | 1 << 16, 1, 2, 3) == Regs(OPERAND_INVALID_RAX, 1, 2, 3)


# -- TDH.SYS.RD -------------------------------------------------------------------


def test_rd_lp_init_not_done(modules):
    sim = Simulator(modules["1.5.01"], lp_init=False)
    for rdx in (0x9900000100000004, NULL, 0x123):
        assert sim.seamcall(RD, 7, rdx, 9) == Regs(0xC000050200000000, 7, NULL, 0)


@pytest.mark.parametrize("rdx", [NULL, NULL & ~fieldid.CONTEXT_MASK, NULL & ~(1 << 53)])
def test_rd_null_id_gives_first_field(sim, rdx):
    assert sim.seamcall(RD, 0, rdx, 0x55) == Regs(0x00000C0B00000000, 0, 0x0000000200000000, 0)


@pytest.mark.parametrize("bit", [24, 31, 34, 37, 38, 46, 47, 49, 55, 62])
def test_rd_reserved_and_last_bits_are_incorrect(sim, bit):
    rdx = 0x9900000100000004 | 1 << bit
    assert sim.seamcall(RD, 0, rdx, 0x55) == Regs(FIELD_ID_INCORRECT, 0, NULL, 0)


@pytest.mark.parametrize(
    "rdx",
    [
        0x9900000100000005,  # a gap between NUM_CPUID_CONFIG and CONFIG_FLAGS_FIXED0
        0x9000000300000120,  # past CMR_SIZE[31]
        0x0100000000000000,  # class 1: no such class
        0x9900000100000008,  # MAX_VCPUS_PER_TD: first in 1.5.05
        0x3000000300000000,  # TDX_CONNECT_FEATURES: 2.0.08
        0x3100000000000001,  # EXT_REQUIRED: in no release
    ],
)
def test_rd_unknown_or_absent_field_is_incorrect(sim, rdx):
    assert sim.seamcall(RD, 0, rdx, 0) == Regs(FIELD_ID_INCORRECT, 0, NULL, 0)


def test_rd_id_zero_is_num_pkgs(sim):
    assert sim.seamcall(RD, 0, 0, 0) == Regs(0, 0, 0x0000000200000001, 2)


@pytest.mark.parametrize(
    "rdx,nxt",
    [
        (0x9900000300000004, 0x9900000300000006),  # wrong size code: still read, not truncated
        (0x1900000100000004, 0x9900000300000006),  # bit 63 clear
        (0x9904000100000004, 0x9900000300000006),  # INC_SIZE
        (0x9908000100000004, 0x9900000300000006),  # WRITE_MASK_VALID
        (0x9910000100000004, 0x9900000300000006),  # context 1: forced to 0
    ],
)
def test_rd_ignores_size_code_inc_size_wmv_bit63_and_context(sim, rdx, nxt):
    sim.set_value("NUM_CPUID_CONFIG", 0x12345)  # masked to the table's 2 bytes
    assert sim.seamcall(RD, 0, rdx, 0) == Regs(0, 0, nxt, 0x2345)


def test_rd_next_id_inside_an_entry_keeps_the_callers_bits(sim):
    # CMR_BASE[3] asked with bit 63 clear, size code 1, INC_SIZE and WRITE_MASK_VALID set
    rdx = 0x100C000100000083
    assert sim.seamcall(RD, 0, rdx, 0) == Regs(0, 0, 0x100C000100000084, 0)
    # CPUID_CONFIG_VALUES[1] element 1 -> field 2 element 0
    assert sim.seamcall(RD, 0, 0x9900000300000503, 0) == Regs(
        0, 0, 0x9900000300000504, 0xBC00C0100040175E
    )


@pytest.mark.parametrize(
    "rdx,nxt",
    [
        (0x100000030000009F, 0x9000000300000100),  # CMR_BASE[31] -> CMR_SIZE, table bits
        (0x0A00000000000001, 0x0A00000300000008),  # gap 2..7 skipped
        (0x0800000100000006, 0x8900000100000000),  # next class
        (0x9900000100000801, 0x9900000300000810),  # NUM_DISALLOWED_FMS -> ALLOWED_FMS
        (0x9900000300000007, 0x9900000300000400),  # 1.5.01 has no MAX_VCPUS_PER_TD..EVENT_FILTERS
    ],
)
def test_rd_next_id_at_the_end_of_an_entry_is_the_next_entrys_table_id(sim, rdx, nxt):
    assert sim.seamcall(RD, 0, rdx, 0)[:3] == (0, 0, nxt)


def test_rd_after_the_last_entry_is_minus_one_with_success(sim):
    assert sim.seamcall(RD, 0, 0xA200000300000006, 0) == Regs(0, 0, NULL, 0)


def test_rd_fillers_of_unused_cpuid_config(sim):
    assert sim.rd(0x9900000300000400 + 12) == (0, 0x9900000300000400 + 13, fieldid.MASK64)
    assert sim.rd(0x9900000300000500 + 12 * 2 + 1) == (0, 0x9900000300000500 + 26, 0)


def test_rd_a_field_of_a_later_release(modules):
    sim = Simulator(modules["1.5.34"])
    assert sim.seamcall(RD, 0, 0x9900000100000008, 0) == Regs(0, 0, 0x9900000000000009, 576)


@pytest.mark.parametrize("name", ["1.5.01", "1.5.34", "2.0.08"])
def test_walk_visits_every_element_once_in_order_and_ends_with_minus_one(modules, name):
    module = modules[name]
    sim = Simulator(module)
    visited, rdx = [], NULL
    regs = sim.seamcall(RD, 0, rdx, 0)
    assert regs.rax == 0x00000C0B00000000
    while regs.rdx != NULL:
        rdx = regs.rdx
        regs = sim.seamcall(RD, 0, rdx, 0)
        assert regs.rax == 0
        visited.append((fieldid.key(rdx), regs.r8))
    expected = [
        ((f.class_code, f.field_code + k), module.values[f.name][k] & (1 << 8 * f.element_size) - 1)
        for f in module.fields
        for k in range(f.num_ids)
    ]
    assert visited == expected
    assert len(visited) == {"1.5.01": 354, "1.5.34": 362, "2.0.08": 361}[name]
    assert sorted(visited) == visited


# -- TDH.SYS.RDALL ------------------------------------------------------------------


def test_rdall_lp_init_not_done(modules):
    sim = Simulator(modules["1.5.01"], lp_init=False)
    assert sim.seamcall(RDALL, 3, PAGE, 0) == Regs(0xC000050200000000, 3, PAGE, NULL)
    assert sim.written is None and not sim.memory.pages


@pytest.mark.parametrize(
    "addr",
    [
        0x200001,  # not 4 KB aligned
        0x200800,
        1 << 52,  # beyond the maximum physical address
        1 << 51 | PAGE,  # a private key id (HKID bits 51:46 >= 32)
        63 << 46 | PAGE,
        0x80000000,  # SEAMRR [0x80000000, 0x82000000)
        0x81FFF000,
        1 << 46 | 0x80000000,  # SEAMRR behind a shared key id
    ],
)
def test_rdall_page_checks(sim, addr):
    assert sim.seamcall(RDALL, 0, addr, NULL) == Regs(OPERAND_INVALID_RDX, 0, addr, NULL)
    assert sim.written is None and not sim.memory.pages


@pytest.mark.parametrize(
    "addr", [0, 0x7FFFF000, 0x82000000, 1 << 46 | PAGE, (1 << 52) - 4096 & ~(1 << 51)]
)
def test_rdall_accepted_pages(sim, addr):
    assert sim.seamcall(RDALL, 0, addr, NULL) == Regs(0, 0, addr, NULL)
    assert sim.memory.read(addr, 8) == struct.pack("<Q", 0x240C38)


@pytest.mark.parametrize(
    "r8",
    [
        0x9900000300000501,  # CPUID_CONFIG_VALUES[0] element 1: not a field's first element
        0x9900000200000004,  # NUM_CPUID_CONFIG with size code 2 (table: 1)
        0x9100000100000013,  # PAMT_PAGE_BITMAP_ENTRY_BITS as the kernel names it: absent anyway
        0x9900000100000005,  # a gap
        0x9900000100000008,  # absent in 1.5.01
    ],
)
def test_rdall_bad_start_id_writes_nothing(sim, r8):
    fill(sim, PAGE)
    assert sim.seamcall(RDALL, 0, PAGE, r8) == Regs(FIELD_ID_INCORRECT, 0, PAGE, NULL)
    assert sim.written is None
    assert sim.memory.read(PAGE) == b"\xaa" * 4096


def test_rdall_size_code_must_match_the_table(modules):
    sim = Simulator(modules["1.5.34"])
    # the kernel's proposed id for PAMT_PAGE_BITMAP_ENTRY_BITS: RD tolerates it, RDALL does not
    assert sim.rd(0x9100000100000013)[0] == 0
    assert sim.seamcall(RDALL, 0, PAGE, 0x9100000100000013) == Regs(
        FIELD_ID_INCORRECT, 0, PAGE, NULL
    )
    assert sim.seamcall(RDALL, 0, PAGE, 0x9100000000000013).rax == 0


def test_rdall_ignores_reserved_last_inc_wmv_and_bit63_of_the_start_id(sim):
    r8 = 0x1900000100000004 | 1 << 24 | 3 << 34 | 5 << 38 | 1 << 50 | 1 << 51 | 1 << 53
    assert sim.seamcall(RDALL, 0, PAGE, r8) == Regs(0, 0, PAGE, NULL)
    (first,) = struct.unpack_from("<Q", sim.written, 8)
    assert first == 0x9900000100000004  # the table's id: bit 63 set, no stray bits


def test_rdall_whole_1_5_01_context(sim):
    assert sim.seamcall(RDALL, 0, PAGE, NULL) == Regs(0, 0, PAGE, NULL)
    page = sim.written
    assert len(page) == 3128
    assert struct.unpack_from("<Q", page, 0) == (0x0000000000240C38,)
    # NUM_PKGS and PKG_FMS[8] share one sequence: 9 fields of 1 element
    assert struct.unpack_from("<10Q", page, 8) == (
        0x0000020200000000,
        2,
        0x806F8,
        0x806F8,
        0,
        0,
        0,
        0,
        0,
        0,
    )
    seqs = rdall_list.parse(page)
    assert len(seqs) == 36
    headers = [s.header for s in seqs]
    assert 0x0800004200000000 in headers  # VENDOR_ID + BUILD_DATE across bit 63
    assert 0x99001FC300000810 in headers  # ALLOWED_FMS[64] + DISALLOWED_FMS[64]
    assert 0x900007C300000080 in headers  # CMR_BASE[32]
    assert 0x990007C700000500 in headers  # CPUID_CONFIG_VALUES[32] x 2 elements
    # the page holds what a walk reads, element by element
    walked = {fieldid.key(fid): value for fid, _, value in sim.walk()}
    listed = {fieldid.key(eid): v for s in seqs for eid, v in s.element_ids()}
    assert listed == walked


def test_rdall_2_0_08_context(modules):
    sim = Simulator(modules["2.0.08"])
    assert sim.seamcall(RDALL, 0, PAGE, NULL) == Regs(0, 0, PAGE, NULL)
    assert len(sim.written) == 3232
    assert len(rdall_list.parse(sim.written)) == 42
    assert struct.unpack_from("<Q", sim.written, 0) == (0x00000000002A0CA0,)


def test_rdall_overflow_stops_inside_a_sequence_and_continues(modules):
    sim = Simulator(modules["1.5.01"], list_size=64)
    fill(sim, PAGE)
    assert sim.seamcall(RDALL, 0, PAGE, NULL) == Regs(LIST_OVERFLOW, 0, PAGE, 0x0000000200000006)
    page = sim.memory.read(PAGE)
    # 8 list header + 8 sequence header + 6 fields: NUM_PKGS, PKG_FMS[0..4]
    assert struct.unpack_from("<8Q", page, 0) == (
        0x0000000000010040,
        0x0000014200000000,
        2,
        0x806F8,
        0x806F8,
        0,
        0,
        0,
    )
    assert page[64:] == b"\xaa" * (4096 - 64)  # past the used size: not written
    assert sim.written == page[:64]
    # continuation: PKG_FMS[5..7], then VENDOR_ID + BUILD_DATE; BUILD_NUM does not fit
    assert sim.seamcall(RDALL, 0, PAGE, 0x0000000200000006) == Regs(
        LIST_OVERFLOW, 0, PAGE, 0x8800000100000002
    )
    assert struct.unpack_from("<8Q", sim.written) == (
        0x0000000000020040,
        0x0000008200000006,
        0,
        0,
        0,
        0x0800004200000000,
        0x8086,
        20230323,
    )


def test_rdall_never_splits_a_field(modules):
    # 8 + 8 + 16 * 2 + 8: a third CPUID_CONFIG_VALUES field (16 bytes) does not fit in 8
    sim = Simulator(modules["2.0.08"], list_size=56)
    assert sim.seamcall(RDALL, 0, PAGE, 0x9900000300000500) == Regs(
        LIST_OVERFLOW, 0, PAGE, 0x9900000300000504
    )
    assert len(sim.written) == 48
    assert struct.unpack_from("<Q", sim.written, 8) == (0x9900004700000500,)


def test_rdall_overflow_when_no_new_sequence_fits(modules):
    # NUM_PKGS..PKG_FMS (80 bytes with header) + 8 list header = 88; 8 bytes left: no header+field
    sim = Simulator(modules["1.5.01"], list_size=96)
    assert sim.seamcall(RDALL, 0, PAGE, NULL) == Regs(LIST_OVERFLOW, 0, PAGE, 0x0800000200000000)
    assert len(sim.written) == 88


def test_rdall_tiny_list_buffer_overflows_at_once(modules):
    sim = Simulator(modules["1.5.01"], list_size=24)
    assert sim.seamcall(RDALL, 0, PAGE, 0x9910000100000004) == Regs(
        LIST_OVERFLOW, 0, PAGE, 0x9900000100000004
    )
    assert sim.written is None


@pytest.mark.parametrize("name", ["1.5.01", "2.0.08"])
@pytest.mark.parametrize("size", [40, 120, 1000])
def test_rdall_continuation_reassembles_the_context(modules, name, size):
    whole = Simulator(modules[name])
    whole.seamcall(RDALL, 0, PAGE, NULL)
    want = [(eid, v) for s in rdall_list.parse(whole.written) for eid, v in s.element_ids()]
    sim = Simulator(modules[name], list_size=size)
    got, r8, calls = [], NULL, 0
    while True:
        fill(sim, PAGE, 0)  # 1.5.01 leaves slots of unused CPUID_CONFIG_VALUES stale
        regs = sim.seamcall(RDALL, 0, PAGE, r8)
        calls += 1
        got += [(eid, v) for s in rdall_list.parse(sim.written) for eid, v in s.element_ids()]
        if regs.rax == 0:
            break
        assert regs.rax == LIST_OVERFLOW and regs.r8 != r8
        r8 = regs.r8
    assert [(fieldid.key(e), v) for e, v in got] == [(fieldid.key(e), v) for e, v in want]
    assert calls > 1


def test_rdall_1_5_01_quirk_writes_only_element_0_of_unused_cpuid_values(modules):
    sim = Simulator(modules["1.5.01"])
    fill(sim, PAGE)
    sim.seamcall(RDALL, 0, PAGE, 0x9900000300000500)
    values = rdall_list.parse(sim.written)[0].values
    assert values[:2] == (0x00FF000000000FFF, 0xBFEBFBFF7FFEFBFF)
    assert values[22:26] == (0x000000000000FFFF, 0, 0, 0xAAAAAAAAAAAAAAAA)  # fields 11, 12
    assert values[-2:] == (0, 0xAAAAAAAAAAAAAAAA)


@pytest.mark.parametrize("name", ["1.5.34", "2.0.08"])
def test_rdall_later_releases_write_both_elements(modules, name):
    sim = Simulator(modules[name])
    fill(sim, PAGE)
    sim.seamcall(RDALL, 0, PAGE, 0x9900000300000500)
    assert rdall_list.parse(sim.written)[0].values[-2:] == (0, 0)


# -- machine state and fault injection ------------------------------------------------


def test_injected_status_for_one_field_then_success(sim):
    sim.inject("NUM_CPUID_CONFIG", abi_status.TDX_SYS_BUSY, count=1)
    assert sim.seamcall(RD, 0, 0x9900000100000004, 0) == Regs(0x8000020200000000, 0, NULL, 0)
    assert sim.seamcall(RD, 0, 0x9900000100000004, 0) == Regs(0, 0, 0x9900000300000006, 12)
    assert sim.seamcall(RD, 0, 0x0800000200000000, 0).rax == 0


def test_injected_status_for_every_call(sim):
    sim.inject(None, abi_status.TDX_RND_NO_ENTROPY)
    for rdx in (0, NULL, 0x9900000100000004):
        assert sim.seamcall(RD, 0, rdx, 0) == Regs(0x8000020300000000, 0, NULL, 0)
    assert sim.seamcall(RD, 0, 1 << 62, 0) == Regs(
        FIELD_ID_INCORRECT, 0, NULL, 0
    )  # id checks first
    assert sim.seamcall(RDALL, 0, PAGE, NULL) == Regs(0x8000020300000000, 0, PAGE, NULL)
    assert sim.written is None


def test_injected_status_on_rdall_only_when_the_list_covers_the_field(sim):
    sim.inject("CMR_BASE", abi_status.TDX_SYS_BUSY)
    assert sim.seamcall(RDALL, 0, PAGE, NULL) == Regs(0x8000020200000000, 0, PAGE, NULL)
    assert sim.written is None
    assert sim.seamcall(RDALL, 0, PAGE, 0x9100000100000008) == Regs(0, 0, PAGE, NULL)


def test_count_above_capacity(sim):
    sim.set_value("NUM_CPUID_CONFIG", 200)
    assert sim.rd(0x9900000100000004) == (0, 0x9900000300000006, 200)


def test_memory_is_bounded():
    mem = PhysicalMemory(max_pages=2)
    for addr in (0x1000, 0x2000, 0x3000):
        mem.page(addr)[0] = 1
    assert sorted(mem.pages) == [0x2000, 0x3000]
    assert mem.read(0x1000, 1) == b"\0"


def test_seamcall_rejects_values_wider_than_64_bits(sim):
    with pytest.raises(ValueError, match="not a 64-bit value"):
        sim.seamcall(RD, 0, 1 << 64, 0)


def test_a_field_the_host_may_not_read(modules):
    import dataclasses

    base = modules["1.5.01"]
    fields = tuple(
        dataclasses.replace(f, host_readable=False) if f.name == "NUM_CPUID_CONFIG" else f
        for f in base.fields
    )
    sim = Simulator(dataclasses.replace(base, fields=fields))
    assert sim.seamcall(RD, 0, 0x9900000100000004, 0) == Regs(0xC0000C0200000000, 0, NULL, 0)
    # walks and lists step over it
    assert sim.seamcall(RD, 0, 0x1900000300000003, 0) == Regs(0, 0, 0x9900000300000006, 3)
    sim.seamcall(RDALL, 0, PAGE, 0x1900000300000000)
    headers = [s.header for s in rdall_list.parse(sim.written)]
    assert headers[:2] == [0x190000C300000000, 0x9900004300000006]


def test_remembered_answers_follow_state_changes(catalogue, modules):
    """The RD memo and RDALL list cache never serve an answer the state no longer gives."""
    sim = Simulator(modules["2.0.08"])
    fid = catalogue.field("MAX_TDMRS").id
    assert sim.rd(fid) == (abi_status.TDX_SUCCESS, catalogue.field("MAX_RESERVED_PER_TDMR").id, 64)
    _, _, page = sim.rdall(NULL)
    sim.set_value("MAX_TDMRS", 7)
    assert sim.rd(fid)[2] == 7
    assert sim.rdall(NULL)[2] != page
    sim.inject("MAX_TDMRS", abi_status.TDX_SYS_BUSY, count=1)
    assert sim.rd(fid) == (abi_status.TDX_SYS_BUSY, NULL, 0)
    assert sim.rd(fid)[2] == 7
    sim.lp_init = False
    assert sim.rd(fid) == (abi_status.TDX_SYS_LP_INIT_NOT_DONE, NULL, 0)
    sim.lp_init, sim.shutdown = True, True
    assert sim.seamcall(abi_status.TDH_SYS_RD, 0, fid, 0).rax == abi_status.TDX_SYS_SHUTDOWN
    assert sim.rd(fid)[0] == abi_status.TDX_SYS_SHUTDOWN
