"""Mutants in swapoff's try_to_unuse and unuse_pte (mm/swapfile.c)."""

from __future__ import annotations

from ptediff.impls.core import PteHandle
from ptediff.impls.memory import maybe_mkwrite, mk_pte
from ptediff.impls.mutants.base import PREFIX, Mutant
from ptediff.impls.sched import KGen
from ptediff.impls.structs import Mm, Page, SwapInfo, Vma


class UnuseWritable(Mutant):
    """unuse_pte() maps the page back with maybe_mkwrite in a writable vma (as if swapoff were
    a write fault): a page whose slot several processes held after fork is mapped writable in
    all of them, and a write by one is seen by the others."""

    NAME = PREFIX + "unuse_writable"
    REVERTS = "unuse_pte maps the page writable in a writable vma"
    FUNCTION, FILE, AREA = "unuse_pte", "mm/swapfile.c", "swap"

    def unuse_pte(self, vma: Vma, ptep: PteHandle, addr: int, entry: int, page: Page) -> None:
        """unuse_pte() with maybe_mkwrite on the new pte."""
        vma.mm.anon_rss += 1
        self.get_page(page)
        ptep.set(maybe_mkwrite(mk_pte(page, vma).mkold(), vma))
        self.page_add_anon_rmap(page, vma, addr)
        self.swap_free(entry)


class UnuseFirstMmOnly(Mutant):
    """try_to_unuse()'s mmlist walk stops at the first mm whose unuse lowered the slot's count
    (as if a slot had one user): a forked child after its parent on the mmlist keeps its swap
    pte this pass, the page leaves the swap cache anyway, and the next pass reads the slot
    into a second page, so parent and child no longer share the page."""

    NAME = PREFIX + "unuse_first_mm_only"
    REVERTS = "try_to_unuse stops its mmlist walk at the first mm it unused"
    FUNCTION, FILE, AREA = "try_to_unuse", "mm/swapfile.c", "swap"

    def unuse_mmlist(
        self, si: SwapInfo, i: int, entry: int, page: Page, start_mm: Mm | None, swcount: int
    ) -> KGen[Mm | None]:
        """The mmlist walk of try_to_unuse() ending after one successful unuse_mm."""
        mm = start_mm
        ring = self.init_mmlist
        while si.swap_map[i] > 1 and mm in ring:
            mm = ring[(ring.index(mm) + 1) % len(ring)]
            if mm is start_mm:
                break
            if mm is None or mm not in self.mms:
                continue
            before = si.swap_map[i]
            yield from self.unuse_mm(mm, entry, page)
            if si.swap_map[i] < before:
                return mm
        return start_mm
