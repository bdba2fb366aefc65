"""Mutants in the fault path: mm/memory.c do_anonymous_page, do_wp_page, do_swap_page."""

from __future__ import annotations

from ptediff.impls.core import PteHandle
from ptediff.impls.memory import maybe_mkwrite
from ptediff.impls.mutants.base import PREFIX, Mutant
from ptediff.impls.pte import PresentPte, SwapPte
from ptediff.impls.sched import KGen, Mutex
from ptediff.impls.structs import VM_WRITE, Mm, Page, Vma


class ZeroPageWritable(Mutant):
    """do_anonymous_page() builds the read fault's ZERO_PAGE pte with maybe_mkwrite (as the
    write path does): the shared zero page becomes writable, and a write through it shows up
    in every other read-faulted page."""

    NAME = PREFIX + "zero_page_writable"
    REVERTS = "do_anonymous_page maps the ZERO_PAGE writable in a writable vma"
    FUNCTION, FILE, AREA = "do_anonymous_page", "mm/memory.c", "fault"

    def do_anonymous_page(self, mm: Mm, vma: Vma, addr: int, write: bool) -> KGen[None]:
        """do_anonymous_page() whose read-fault pte gets maybe_mkwrite."""
        yield from super().do_anonymous_page(mm, vma, addr, write)
        pte = mm.pte(addr)
        if not write and isinstance(pte, PresentPte) and pte.pfn == self.zero_page.pfn:
            self.pte_alloc(mm, addr).ptes[addr] = maybe_mkwrite(pte, vma)


class WpAlwaysReuse(Mutant):
    """do_wp_page() drops its reuse test (PageAnon, the page lock, can_share_swap_page) and
    always makes the faulting pte writable in place: a write after fork lands in the page the
    other process still maps."""

    NAME = PREFIX + "wp_always_reuse"
    REVERTS = "do_wp_page reuses the old page without checking it is exclusive"
    FUNCTION, FILE, AREA = "do_wp_page", "mm/memory.c", "fault"

    def do_wp_page(
        self, mm: Mm, vma: Vma, addr: int, ptep: PteHandle, ptl: Mutex, orig: PresentPte
    ) -> KGen[None]:
        """do_wp_page() reduced to its reuse branch."""
        yield from ()
        ptep.set(maybe_mkwrite(orig.mkyoung().mkdirty(), vma))
        self.pte_unmap_unlock(ptep, ptl)


class WpCopyKeepsRmap(Mutant):
    """do_wp_page()'s copy path forgets page_remove_rmap() on the old page: its mapcount stays
    one too high, so a later migration's try_to_unmap never sees it unmapped and gives up."""

    NAME = PREFIX + "wp_copy_keeps_rmap"
    REVERTS = "do_wp_page's COW copy does not drop the old page's mapcount"
    FUNCTION, FILE, AREA = "do_wp_page", "mm/memory.c", "fault"

    _in_wp = False

    def do_wp_page(
        self, mm: Mm, vma: Vma, addr: int, ptep: PteHandle, ptl: Mutex, orig: PresentPte
    ) -> KGen[None]:
        """do_wp_page() during which page_remove_rmap() does nothing."""
        self._in_wp = True
        try:
            yield from super().do_wp_page(mm, vma, addr, ptep, ptl, orig)
        finally:
            self._in_wp = False

    def page_remove_rmap(self, page: Page) -> None:
        """page_remove_rmap() in mm/rmap.c, skipped when do_wp_page calls it."""
        if not self._in_wp:
            super().page_remove_rmap(page)


class SwapinAlwaysWritable(Mutant):
    """do_swap_page() makes the swapped-in pte writable whenever the vma allows writes, even on
    a read fault of a page other ptes still share through the swap cache: the next write does
    not copy and shows in the other process."""

    NAME = PREFIX + "swapin_always_writable"
    REVERTS = "do_swap_page maps a swapped-in page writable without can_share_swap_page"
    FUNCTION, FILE, AREA = "do_swap_page", "mm/memory.c", "fault"

    def do_swap_page(
        self, mm: Mm, vma: Vma, addr: int, orig: SwapPte, write: bool
    ) -> KGen[None]:
        """do_swap_page() with maybe_mkwrite on every swap-in."""
        yield from super().do_swap_page(mm, vma, addr, orig, write)
        pte = mm.pte(addr)
        if isinstance(pte, PresentPte) and vma.flags & VM_WRITE and not pte.write:
            self.pte_alloc(mm, addr).ptes[addr] = pte.mkwrite()


class AnonPageIgnoresVmWrite(Mutant):
    """do_anonymous_page() uses pte_mkwrite instead of maybe_mkwrite for the new page."""

    NAME = PREFIX + "anon_page_ignores_vm_write"
    REVERTS = "do_anonymous_page makes the new page's pte writable regardless of VM_WRITE"
    FUNCTION, FILE, AREA = "do_anonymous_page", "mm/memory.c", "fault"
    EQUIVALENT = (
        "a write fault reaches do_anonymous_page only in a vma with VM_WRITE: do_page_fault "
        "refuses the others, and ptediff has no get_user_pages(force) path"
    )

    def do_anonymous_page(self, mm: Mm, vma: Vma, addr: int, write: bool) -> KGen[None]:
        """do_anonymous_page() whose write-fault pte is always writable."""
        yield from super().do_anonymous_page(mm, vma, addr, write)
        pte = mm.pte(addr)
        if write and isinstance(pte, PresentPte) and pte.pfn != self.zero_page.pfn:
            self.pte_alloc(mm, addr).ptes[addr] = pte.mkwrite()
