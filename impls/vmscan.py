"""mm/vmscan.c and mm/madvise.c: reclaiming one page to swap for `pageout`."""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.impls.core import KernelCore
from ptediff.impls.pte import PAGE_SIZE
from ptediff.impls.rmap import SWAP_SUCCESS
from ptediff.impls.sched import READ, Acquire, KGen
from ptediff.impls.structs import Mm, Page


class Vmscan(KernelCore):
    """madvise(MADV_PAGEOUT) and the part of shrink_page_list() it drives."""

    def sys_madvise_pageout(self, mm: Mm, addr: int) -> KGen[int]:
        """sys_madvise() in mm/madvise.c with MADV_PAGEOUT, for one page."""
        if addr % PAGE_SIZE:
            return -ERRNO["EINVAL"]
        yield Acquire("sys_madvise", mm.mmap_sem, READ)
        vma = mm.vma_at(addr)
        if vma is None:
            self.unlock(mm.mmap_sem, READ)
            return -ERRNO["ENOMEM"]
        page = yield from self.madvise_pageout_pte(mm, addr)
        if page is not None:
            yield from self.shrink_page_list(page)
        self.unlock(mm.mmap_sem, READ)
        return 0

    def madvise_pageout_pte(self, mm: Mm, addr: int) -> KGen[Page | None]:
        """The pte walk of madvise_pageout() in mm/madvise.c: isolate the anon page mapped at
        addr (not the ZERO_PAGE)."""
        mapped = yield from self.pte_offset_map_lock(mm, addr, "madvise_pageout")
        if mapped is None:
            return None
        ptep, ptl = mapped
        pte = ptep.get()
        page = self.vm_normal_page(pte, "madvise_pageout")
        if page is None or not page.anon or self.isolate_lru_page(page):
            self.pte_unmap_unlock(ptep, ptl)
            return None
        self.pte_unmap_unlock(ptep, ptl)
        return page

    def shrink_page_list(self, page: Page) -> KGen[None]:
        """shrink_page_list() in mm/vmscan.c for one isolated anon page, references ignored as
        MADV_PAGEOUT asks (writeback is synchronous here: the page is written and freed in one
        pass). A page it keeps goes back on the LRU (putback by shrink_inactive_list)."""
        got = yield from self.trylock_page(page, "shrink_page_list")
        if not got:
            self.move_to_lru(page)
            return
        if page.anon and not page.swapcache and not self.add_to_swap(page):
            self.unlock_page(page)
            self.move_to_lru(page)
            return
        if page.mapcount and (yield from self.try_to_unmap(page, False, True)) != SWAP_SUCCESS:
            self.unlock_page(page)
            self.move_to_lru(page)
            return
        if page.dirty:
            self.swap_writepage(page)
        if not self.remove_mapping(page):
            self.unlock_page(page)
            self.move_to_lru(page)
            return
        self.unlock_page(page)
        self.put_page(page, "shrink_page_list")

    def remove_mapping(self, page: Page) -> bool:
        """remove_mapping() in mm/vmscan.c: drop the swap cache if only we and it hold the page."""
        if not page.swapcache or page.refcount != 2:
            return False
        entry = page.private
        self._delete_from_swap_cache(page)
        self.swap_free(entry)
        self.put_page(page)
        return True
