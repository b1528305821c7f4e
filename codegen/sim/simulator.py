"""A TDX module answering TDH.SYS.RD and TDH.SYS.RDALL for global metadata.

The behaviour is the TDX module's, as Intel's ABI specification gives it
for these two leaves; the check order below is the module's (dispatcher,
then handler).  The simulator serves a Module (the fields one release's
table has, and their element values) built from the validated Catalogue
by codegen.sim.profile; it never reads TOML and never imports the
generated readers.

Physical memory is simulated too (codegen.sim.memory): RDALL writes its
list into a sparse page store, and only into pages that pass the module's
address checks.

Over 400 lines on purpose: RD and RDALL share the id checks and the order
of their statuses, which must stay side by side to stay the module's.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from codegen.abi import fieldid, rdall_list
from codegen.abi import status as st
from codegen.abi.release import Release
from codegen.sim.memory import PhysicalMemory
from codegen.spec.model import Field

__all__ = ["Backend", "Fault", "Module", "PhysicalMemory", "Regs", "Simulator"]

NULL_ID = fieldid.NULL_ID
MASK64 = fieldid.MASK64

# RAX of a SEAMCALL: bits 15:0 leaf, 23:16 version, 31:24 and 63:32 reserved.
RAX_LEAF_MASK = 0xFFFF
RAX_VERSION_SHIFT = 16
RAX_VERSION_MASK = 0xFF << RAX_VERSION_SHIFT
RAX_RESERVED_MASK = MASK64 & ~(RAX_LEAF_MASK | RAX_VERSION_MASK)

LIST_MIN_BYTES = 32  # the module's minimum list buffer: header + header + 16
SCRATCH_PAGE = 0x100000  # the page the rd()/rdall() backend asks RDALL to fill
RD_MEMO_LIMIT = 1 << 16  # remembered TDH.SYS.RD answers (ids as callers wrote them)


class Regs(NamedTuple):
    """General-purpose registers of a SEAMCALL (inputs or outputs)."""

    rax: int
    rcx: int
    rdx: int
    r8: int


@dataclass(frozen=True)
class Module:
    """What one TDX module serves: its table's entries and their element values."""

    name: str
    release: Release | None
    fields: tuple[Field, ...]  # present entries, (class, field code) order
    values: Mapping[str, tuple[int, ...]]  # name -> num_ids element values
    # RDALL writes only element 0 of these fields past their live count (1.5.01)
    first_element_only: frozenset[str] = frozenset()


@dataclass
class Fault:
    """An injected status: for every call (key None) or calls touching one entry."""

    status: int
    count: int | None = None  # times left; None: always


def _is_null(field_id: int) -> bool:
    """The null id: every bit but the context set (the module ignores the context)."""
    return field_id | fieldid.CONTEXT_MASK == MASK64


class Backend:
    """rd()/rdall() in the shape the generated readers take, over call()."""

    scratch_page = SCRATCH_PAGE

    def call(self, rax: int, rcx: int = 0, rdx: int = 0, r8: int = 0) -> tuple[Regs, bytes | None]:
        raise NotImplementedError

    def seamcall(self, leaf: int, rcx: int = 0, rdx: int = 0, r8: int = 0) -> Regs:
        return self.call(leaf, rcx, rdx, r8)[0]

    def rd(self, field_id: int) -> tuple[int, int, int]:
        """TDH.SYS.RD: (status, next id, value)."""
        regs = self.seamcall(st.TDH_SYS_RD, 0, field_id, 0)
        return regs.rax, regs.rdx, regs.r8

    def rdall(self, field_id: int) -> tuple[int, int, bytes]:
        """TDH.SYS.RDALL into the scratch page: (status, next id, bytes written)."""
        regs, written = self.call(st.TDH_SYS_RDALL, 0, self.scratch_page, field_id)
        return regs.rax, regs.r8, written or b""

    def walk(self):
        """(id, status, value) of every element, following RDX from the null id."""
        status, nxt, _ = self.rd(NULL_ID)
        if status != st.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT:
            yield NULL_ID, status, 0
            return
        while nxt != NULL_ID:
            fid = nxt
            status, nxt, value = self.rd(fid)
            yield fid, status, value
            if status != st.TDX_SUCCESS:
                return


class Simulator(Backend):
    """A TDX module's TDH.SYS.RD / TDH.SYS.RDALL over one Module."""

    def __init__(
        self,
        module: Module,
        *,
        lp_init: bool = True,
        shutdown: bool = False,
        list_size: int = rdall_list.PAGE_SIZE,
        memory: PhysicalMemory | None = None,
        remember: bool = True,
    ):
        self.module = module
        self.lp_init, self.shutdown = lp_init, shutdown
        self.list_size = list_size  # bytes RDALL may use of the page (tests shrink it)
        self.memory = memory or PhysicalMemory()
        self.fields = module.fields
        self._keys = [f.key for f in self.fields]
        self._sizes = [f.num_ids for f in self.fields]
        self._index = {f.name: i for i, f in enumerate(self.fields)}
        self.values = {f.name: list(module.values[f.name]) for f in self.fields}
        self.faults: dict[str | None, Fault] = {}
        self.written: bytes | None = None  # what the last RDALL wrote, header included
        # TDH.SYS.RD is a pure function of (id, values) while no fault or state is set:
        # successful answers are remembered per exact id (cleared by set_value).
        self.remember = remember  # False: every answer computed afresh
        self._rd_memo: dict[int, tuple[int, int, int]] = {}
        self._plans: dict = {}  # (start, list_size) -> RDALL plan; values-free
        self._lists: dict = {}  # same key -> list bytes (cleared by set_value)

    # -- configuration -------------------------------------------------------
    def set_value(self, name: str, values) -> None:
        """Override an entry's values without validation (e.g. a count above capacity)."""
        f = self.fields[self._index[name]]
        flat = list(values) if isinstance(values, (list, tuple)) else [values]
        self.values[name] = flat + self.values[name][len(flat) :]
        del self.values[name][f.num_ids :]
        self._rd_memo.clear()
        self._lists.clear()

    def inject(self, name: str | None, status: int, count: int | None = None) -> None:
        """Answer `status` on calls touching entry `name` (None: every call)."""
        if name is not None and name not in self._index:
            raise KeyError(name)
        self.faults[name] = Fault(status, count)

    # -- the SEAMCALL interface ----------------------------------------------
    def rd(self, field_id: int) -> tuple[int, int, int]:
        """TDH.SYS.RD: (status, next id, value); remembered answers while nothing is injected."""
        plain = self.remember and not self.faults and self.lp_init and not self.shutdown
        if plain:
            hit = self._rd_memo.get(field_id)
            if hit is not None:
                self.written = None
                return hit
        return Backend.rd(self, field_id)  # call() remembers a successful answer

    def call(self, rax: int, rcx: int = 0, rdx: int = 0, r8: int = 0) -> tuple[Regs, bytes | None]:
        """One SEAMCALL: output registers and the bytes RDALL wrote (None: none)."""
        plain_rd = (
            rax == st.TDH_SYS_RD
            and self.remember
            and not self.faults
            and self.lp_init
            and not self.shutdown
        )
        if plain_rd and 0 <= rcx <= MASK64 and 0 <= r8 <= MASK64:
            hit = self._rd_memo.get(rdx)
            if hit is not None:
                self.written = None
                return Regs(hit[0], rcx, hit[1], hit[2]), None
        for reg in (rax, rcx, rdx, r8):
            if not 0 <= reg <= MASK64:
                raise ValueError(f"register value {reg:#x} is not a 64-bit value")
        self.written = None
        leaf = rax & RAX_LEAF_MASK
        # Dispatcher: on these the handler never runs and registers stay as given.
        if rax & (RAX_RESERVED_MASK | RAX_VERSION_MASK):
            return Regs(st.TDX_OPERAND_INVALID | st.OPERAND_RAX, rcx, rdx, r8), None
        if self.shutdown:
            return Regs(st.TDX_SYS_SHUTDOWN, rcx, rdx, r8), None
        if leaf == st.TDH_SYS_RD:
            field_id = rdx
            status, rdx, r8 = self._rd(field_id)
            if plain_rd and status == st.TDX_SUCCESS:
                if len(self._rd_memo) >= RD_MEMO_LIMIT:  # odd ids must not grow it unbounded
                    self._rd_memo.clear()
                self._rd_memo[field_id] = (status, rdx, r8)
        elif leaf == st.TDH_SYS_RDALL:
            status, r8 = self._rdall(rdx, r8)
        else:  # the simulator models the metadata leaves only
            return Regs(st.TDX_OPERAND_INVALID | st.OPERAND_RAX, rcx, rdx, r8), None
        return Regs(status, rcx, rdx, r8), self.written

    # -- lookups -------------------------------------------------------------
    def _locate(self, field_id: int) -> tuple[int, int] | None:
        """(entry index, element offset) of the present entry holding field_id's key."""
        return fieldid.find_entry(self._keys, self._sizes, field_id)

    def _readable_from(self, i: int) -> int | None:
        """First host-readable entry at index i or later."""
        while i < len(self.fields):
            if self.fields[i].host_readable:
                return i
            i += 1
        return None

    def _fault(self, names) -> int | None:
        """Status of a fault matching any entry in names (or every call), consumed."""
        for name in [None, *names]:
            fault = self.faults.get(name)
            if fault is None:
                continue
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    del self.faults[name]
            return fault.status
        return None

    # -- TDH.SYS.RD ----------------------------------------------------------
    def _rd(self, field_id: int) -> tuple[int, int, int]:
        if not self.lp_init:
            return st.TDX_SYS_LP_INIT_NOT_DONE, NULL_ID, 0
        field_id = fieldid.replace(field_id, CONTEXT_CODE=0)
        if _is_null(field_id):
            fault = self._fault([])
            if fault is not None:
                return fault, NULL_ID, 0
            first = self._readable_from(0)
            nxt = NULL_ID if first is None else self.fields[first].id
            return st.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT, nxt, 0
        if field_id & (fieldid.RESERVED_MASK | fieldid.LAST_MASK):
            return st.TDX_METADATA_FIELD_ID_INCORRECT, NULL_ID, 0
        found = self._locate(field_id)
        if found is None:
            return st.TDX_METADATA_FIELD_ID_INCORRECT, NULL_ID, 0
        i, offset = found
        f = self.fields[i]
        fault = self._fault([f.name])
        if fault is not None:
            return fault, NULL_ID, 0
        if not f.host_readable:
            return st.TDX_METADATA_FIELD_NOT_READABLE, NULL_ID, 0
        value = self.values[f.name][offset] & f.element_mask
        if offset + 1 < f.num_ids:  # caller's id, next element; other bits as given
            nxt = fieldid.replace(field_id, FIELD_CODE=f.field_code + offset + 1)
        else:
            j = self._readable_from(i + 1)
            nxt = NULL_ID if j is None else self.fields[j].id
        return st.TDX_SUCCESS, nxt, value

    # -- TDH.SYS.RDALL -------------------------------------------------------
    def _rdall(self, page_addr: int, field_id: int) -> tuple[int, int]:
        if not self.lp_init:
            return st.TDX_SYS_LP_INIT_NOT_DONE, NULL_ID
        if not self.memory.page_ok(page_addr):
            return st.TDX_OPERAND_INVALID | st.OPERAND_RDX, NULL_ID
        field_id = fieldid.replace(field_id, CONTEXT_CODE=0)
        if self.list_size < LIST_MIN_BYTES:
            return st.TDX_METADATA_LIST_OVERFLOW, field_id
        if _is_null(field_id):
            first = self._readable_from(0)
            if first is None:
                return st.TDX_SUCCESS, NULL_ID  # nothing to dump, nothing written
            start = (first, 0)
        else:
            found = self._locate(field_id)
            if found is None:
                return st.TDX_METADATA_FIELD_ID_INCORRECT, NULL_ID
            i, offset = found
            f = self.fields[i]
            if offset % f.num_elements or fieldid.get(field_id, "ELEMENT_SIZE_CODE") != f.size_code:
                return st.TDX_METADATA_FIELD_ID_INCORRECT, NULL_ID
            start = (i, offset // f.num_elements)
        plan_key = (start, self.list_size)
        plan = self._plans.get(plan_key)
        if plan is None:
            plan = self._plans[plan_key] = self._plan(start)
        sequences, rest = plan
        if self.faults:
            fault = self._fault(sorted({self.fields[i].name for seq in sequences for i, _ in seq}))
            if fault is not None:
                return fault, NULL_ID
        page = self.memory.page(page_addr)
        written = self._lists.get(plan_key) if self.remember else None
        if written is None:
            self._write(page, sequences)
            if not self.module.first_element_only:  # the quirk's stale slots depend on the page
                self._lists[plan_key] = self.written
        else:
            page[: len(written)] = written
            self.written = written
        if rest is None:
            return st.TDX_SUCCESS, NULL_ID
        return st.TDX_METADATA_LIST_OVERFLOW, self._field_id(rest)

    def _field_id(self, pos: tuple[int, int]) -> int:
        """Table id of field k of entry i (bit 63 and size code from the table)."""
        i, k = pos
        f = self.fields[i]
        return fieldid.replace(f.id, FIELD_CODE=f.field_code + k * f.num_elements)

    def _next_field(self, pos: tuple[int, int]) -> tuple[int, int] | None:
        i, k = pos
        if k + 1 < self.fields[i].num_fields:
            return i, k + 1
        j = self._readable_from(i + 1)
        return None if j is None else (j, 0)

    def _joins(self, prev: tuple[int, int], nxt: tuple[int, int]) -> bool:
        """Whether nxt continues prev's sequence: same class, contiguous, same shape."""
        a, b = self.fields[prev[0]], self.fields[nxt[0]]
        code_a = a.field_code + prev[1] * a.num_elements
        code_b = b.field_code + nxt[1] * b.num_elements
        return (
            a.class_code == b.class_code
            and code_a + a.num_elements == code_b
            and a.num_elements == b.num_elements
            and a.size_code == b.size_code
        )

    def _plan(self, pos):
        """Sequences (lists of field positions) that fit, and the first field left out."""
        budget = self.list_size - rdall_list.HEADER_SIZE
        per_field = lambda p: self.fields[p[0]].num_elements * rdall_list.ELEMENT_SIZE
        sequences = []
        while pos is not None and budget >= rdall_list.HEADER_SIZE + per_field(pos):
            budget -= rdall_list.HEADER_SIZE
            seq = []
            while budget >= per_field(pos):  # never split a field
                seq.append(pos)
                budget -= per_field(pos)
                nxt = self._next_field(pos)
                joins = nxt is not None and self._joins(pos, nxt)
                pos = nxt
                if not joins:
                    break
            else:
                sequences.append(seq)
                return sequences, pos  # the sequence ran out of room
            sequences.append(seq)
        return sequences, pos

    def _write(self, page: bytearray, sequences) -> None:
        if not self.module.first_element_only:
            return self._write_whole(page, sequences)
        pos = rdall_list.HEADER_SIZE
        for seq in sequences:
            f = self.fields[seq[0][0]]
            header = rdall_list.sequence_header(self._field_id(seq[0]), len(seq), f.num_elements)
            struct.pack_into("<Q", page, pos, header)
            pos += rdall_list.HEADER_SIZE
            for i, k in seq:
                f = self.fields[i]
                vals = self.values[f.name][k * f.num_elements : (k + 1) * f.num_elements]
                if f.name in self.module.first_element_only and k >= self._live_count(f):
                    vals = vals[:1]  # the 1.5.01 quirk: other slots untouched
                for n, v in enumerate(vals):
                    struct.pack_into(
                        "<Q", page, pos + n * rdall_list.ELEMENT_SIZE, v & f.element_mask
                    )
                pos += f.num_elements * rdall_list.ELEMENT_SIZE
        struct.pack_into("<Q", page, 0, rdall_list.list_header(pos, len(sequences)))
        self.written = bytes(page[:pos])

    def _write_whole(self, page: bytearray, sequences) -> None:
        """Every slot written: the list as one run of qwords, packed at once."""
        qwords = [0]
        for seq in sequences:
            f = self.fields[seq[0][0]]
            qwords.append(
                rdall_list.sequence_header(self._field_id(seq[0]), len(seq), f.num_elements)
            )
            for i, k in seq:
                f = self.fields[i]
                mask = f.element_mask
                n = f.num_elements
                qwords.extend(v & mask for v in self.values[f.name][k * n : (k + 1) * n])
        used = len(qwords) * rdall_list.ELEMENT_SIZE
        qwords[0] = rdall_list.list_header(used, len(sequences))
        struct.pack_into(f"<{len(qwords)}Q", page, 0, *qwords)
        self.written = bytes(page[:used])

    def _live_count(self, f: Field) -> int:
        if f.count is None or f.count not in self.values:
            return f.num_fields
        return self.values[f.count][0]

    # -- whole-context helpers (CLI, dumps, tests) ---------------------------
    def dump_pages(self) -> list[bytes]:
        """The whole context as RDALL writes it: one fresh zeroed 4 KB page per call."""
        pages, start = [], NULL_ID
        saved = self.memory
        try:
            while True:
                self.memory = PhysicalMemory(max_pages=1)
                regs, _ = self.call(st.TDH_SYS_RDALL, 0, self.scratch_page, start)
                if regs.rax not in (st.TDX_SUCCESS, st.TDX_METADATA_LIST_OVERFLOW):
                    raise RuntimeError(
                        f"TDH.SYS.RDALL at {fieldid.canonical(start)} answered {st.name(regs.rax)}"
                    )
                pages.append(self.memory.read(self.scratch_page))
                if regs.rax == st.TDX_SUCCESS:
                    return pages
                if regs.r8 == start:
                    at = fieldid.canonical(start)
                    raise RuntimeError(f"TDH.SYS.RDALL made no progress at {at}")
                start = regs.r8
        finally:
            self.memory = saved
