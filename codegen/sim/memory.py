"""The physical memory a simulated TDX module writes TDH.SYS.RDALL lists into.

Sparse 4 KB pages, plus the module's checks on a page address.  Address
layout modelled (documented in docs/sim-protocol.md):

    bits 51:46  HKID (key id); key ids >= first_private_keyid (default 32,
                i.e. bit 51 set) are TDX private key ids and are refused
    SEAMRR      [0x80000000, 0x82000000) is the module's own memory
    >= 2^52     beyond the maximum physical address
"""

from __future__ import annotations

from collections import OrderedDict

from codegen.abi import rdall_list


class PhysicalMemory:
    """Sparse 4 KB pages plus the module's checks on a page address."""

    def __init__(
        self,
        *,
        max_pa_bits: int = 52,
        hkid_bits: int = 6,
        first_private_keyid: int = 32,
        seamrr: tuple[int, int] = (0x80000000, 0x2000000),
        max_pages: int = 1024,
    ):
        self.max_pa_bits, self.hkid_bits = max_pa_bits, hkid_bits
        self.first_private_keyid, self.seamrr = first_private_keyid, seamrr
        self.hkid_shift = max_pa_bits - hkid_bits
        self.max_pages = max_pages  # least recently used pages are dropped
        self.pages: OrderedDict[int, bytearray] = OrderedDict()

    def keyid(self, addr: int) -> int:
        return (addr >> self.hkid_shift) & ((1 << self.hkid_bits) - 1)

    def physical(self, addr: int) -> int:
        return addr & ((1 << self.hkid_shift) - 1)

    def page_ok(self, addr: int) -> bool:
        """4 KB aligned, below 2^max_pa_bits, shared key id, outside SEAMRR."""
        if addr % rdall_list.PAGE_SIZE or addr >> self.max_pa_bits:
            return False
        if self.keyid(addr) >= self.first_private_keyid:
            return False
        base, size = self.seamrr
        pa = self.physical(addr)
        return not (pa < base + size and base < pa + rdall_list.PAGE_SIZE)

    def page(self, addr: int) -> bytearray:
        """The page at addr, created zeroed on first use."""
        pa = self.physical(addr)
        page = self.pages.pop(pa, None)
        if page is None:
            page = bytearray(rdall_list.PAGE_SIZE)
            while len(self.pages) >= self.max_pages:
                self.pages.popitem(last=False)
        self.pages[pa] = page
        return page

    def read(self, addr: int, length: int = rdall_list.PAGE_SIZE) -> bytes:
        page = self.pages.get(self.physical(addr))
        return bytes(page[:length]) if page is not None else bytes(length)
