"""mm/rmap.c: anon_vma lists, mapcounts, and the try_to_unmap walk."""

from __future__ import annotations

from ptediff.impls.core import KernelCore
from ptediff.impls.pte import PAGE_SHIFT, PresentPte, SwapPte
from ptediff.impls.sched import Acquire, KGen
from ptediff.impls.structs import VM_LOCKED, AnonVma, Page, Vma

SWAP_SUCCESS = 0
SWAP_AGAIN = 1
SWAP_FAIL = 2


class Rmap(KernelCore):
    """Reverse mapping of anonymous pages."""

    def anon_vma_list_add(self, anon_vma: AnonVma, vma: Vma) -> None:
        """The list insertion of anon_vma_prepare/__anon_vma_link/anon_vma_link (mm/rmap.c).

        list_add_tail since fix 1: a forked child's vma always comes after its parent's, so a
        walk that passed the child before fork copied a pte reaches the parent later.
        """
        anon_vma.vmas.append(vma)

    def anon_vma_prepare(self, vma: Vma) -> KGen[None]:
        """anon_vma_prepare() in mm/rmap.c."""
        if vma.anon_vma is not None:
            return
        # find_mergeable_anon_vma() is not modelled: it never finds a neighbour's anon_vma.
        anon_vma = self.anon_vma_alloc()
        yield Acquire("anon_vma_prepare", anon_vma.lock)
        mm = vma.mm
        yield Acquire("anon_vma_prepare", mm.page_table_lock)
        if vma.anon_vma is None:
            vma.anon_vma = anon_vma
            self.anon_vma_list_add(anon_vma, vma)
        self.unlock(mm.page_table_lock)
        self.unlock(anon_vma.lock)

    def _anon_vma_link(self, vma: Vma) -> None:
        """__anon_vma_link() in mm/rmap.c: the caller holds the anon_vma lock."""
        if vma.anon_vma is not None:
            self.anon_vma_list_add(vma.anon_vma, vma)

    def anon_vma_link(self, vma: Vma) -> KGen[None]:
        """anon_vma_link() in mm/rmap.c: atomic under the anon_vma lock (used by fork)."""
        anon_vma = vma.anon_vma
        if anon_vma is None:
            return
        yield Acquire("anon_vma_link", anon_vma.lock)
        self.anon_vma_list_add(anon_vma, vma)
        self.unlock(anon_vma.lock)

    def anon_vma_unlink(self, vma: Vma) -> KGen[None]:
        """anon_vma_unlink() in mm/rmap.c: the last vma to leave frees the anon_vma, after
        dropping its lock (no RCU reader is waited for: the slab cache is type-stable)."""
        anon_vma = vma.anon_vma
        if anon_vma is None:
            return
        yield Acquire("anon_vma_unlink", anon_vma.lock)
        self.check_anon_vma(anon_vma, "anon_vma_unlink")
        anon_vma.vmas.remove(vma)
        empty = not anon_vma.vmas
        self.unlock(anon_vma.lock)
        if empty:
            self.anon_vma_free(anon_vma)

    def vma_address(self, page: Page, vma: Vma) -> int | None:
        """vma_address() in mm/rmap.c: where page would sit in vma, None (-EFAULT) if outside."""
        addr = vma.start + ((page.index - vma.pgoff) << PAGE_SHIFT)
        return addr if vma.contains(addr) else None

    def page_address_in_vma(self, page: Page, vma: Vma) -> int | None:
        """page_address_in_vma() in mm/rmap.c."""
        if page.anon and page.anon_vma is not vma.anon_vma:
            return None
        return self.vma_address(page, vma)

    def page_add_anon_rmap(self, page: Page, vma: Vma, addr: int) -> None:
        """page_add_anon_rmap() in mm/rmap.c."""
        page.mapcount += 1
        if page.mapcount == 1:
            page.anon_vma = vma.anon_vma
            page.index = vma.linear_page_index(addr)

    def page_add_new_anon_rmap(self, page: Page, vma: Vma, addr: int) -> None:
        """page_add_new_anon_rmap() in mm/rmap.c."""
        page.mapcount = 1
        page.anon_vma = vma.anon_vma
        page.index = vma.linear_page_index(addr)

    def page_add_file_rmap(self, page: Page) -> None:
        """page_add_file_rmap() in mm/rmap.c (only the ZERO_PAGE here)."""
        page.mapcount += 1

    def page_dup_rmap(self, page: Page) -> None:
        """page_dup_rmap() in include/linux/rmap.h (fork)."""
        page.mapcount += 1

    def page_remove_rmap(self, page: Page) -> None:
        """page_remove_rmap() in mm/rmap.c: page->mapping is deliberately left stale."""
        page.mapcount -= 1
        self.bug_on(
            page.mapcount < 0,
            "page_remove_rmap",
            f"negative mapcount {page.mapcount} on pfn {page.pfn}",
        )

    def page_lock_anon_vma(self, page: Page) -> KGen[AnonVma | None]:
        """page_lock_anon_vma() in mm/rmap.c: page->mapping is read, and the anon_vma's lock
        taken, inside an RCU read-side section, so a concurrently freed anon_vma is at worst
        a type-stable (perhaps reused) one; page_mapped() is checked before the lock only."""
        self.rcu_read_lock()
        anon_vma = page.anon_vma
        if anon_vma is None or page.mapcount == 0:
            self.rcu_read_unlock()
            return None
        yield Acquire("page_lock_anon_vma", anon_vma.lock)
        self.check_anon_vma(anon_vma, "page_lock_anon_vma")
        self.rcu_read_unlock()
        return anon_vma

    def try_to_unmap(
        self, page: Page, migration: bool, ignore_references: bool = False
    ) -> KGen[int]:
        """try_to_unmap() in mm/rmap.c.

        ignore_references: reclaim asked for by MADV_PAGEOUT, which does not spare recently
        referenced (young) ptes (TTU_IGNORE_ACCESS in later kernels).
        """
        self.bug_on(not page.locked, "try_to_unmap", f"page pfn {page.pfn} is not locked")
        ret = SWAP_AGAIN
        if page.anon:
            ret = yield from self.try_to_unmap_anon(page, migration, ignore_references)
        if page.mapcount == 0:
            ret = SWAP_SUCCESS
        return ret

    def try_to_unmap_anon(
        self, page: Page, migration: bool, ignore_references: bool = False
    ) -> KGen[int]:
        """try_to_unmap_anon() in mm/rmap.c: walks the anon_vma list in order, lock held."""
        ret = SWAP_AGAIN
        anon_vma = yield from self.page_lock_anon_vma(page)
        if anon_vma is None:
            return ret
        for vma in list(anon_vma.vmas):
            ret = yield from self.try_to_unmap_one(page, vma, migration, ignore_references)
            if self.try_to_unmap_anon_stops(page, ret):
                break
        self.unlock(anon_vma.lock)
        return ret

    def try_to_unmap_anon_stops(self, page: Page, ret: int) -> bool:
        """try_to_unmap_anon() in mm/rmap.c: its walk's stop test (SWAP_FAIL, or no pte maps
        the page any more: !page_mapped)."""
        return ret == SWAP_FAIL or page.mapcount == 0

    def try_to_unmap_one(
        self, page: Page, vma: Vma, migration: bool, ignore_references: bool = False
    ) -> KGen[int]:
        """try_to_unmap_one() in mm/rmap.c."""
        ret = SWAP_AGAIN
        addr = self.vma_address(page, vma)
        if addr is None:
            return ret
        mm = vma.mm
        # page_check_address(): locks the pte only if it maps this page.
        pte = mm.pte(addr)
        if not isinstance(pte, PresentPte) or pte.pfn != page.pfn:
            return ret
        mapped = yield from self.pte_offset_map_lock(mm, addr, "try_to_unmap_one")
        assert mapped is not None
        ptep, ptl = mapped
        pteval = ptep.get()
        if not isinstance(pteval, PresentPte) or pteval.pfn != page.pfn:
            self.pte_unmap_unlock(ptep, ptl)
            return ret
        # An mlocked vma refuses reclaim and migration alike; a recently referenced pte only
        # refuses reclaim (its young bit is cleared either way: ptep_clear_flush_young).
        if vma.flags & VM_LOCKED:
            self.pte_unmap_unlock(ptep, ptl)
            return SWAP_FAIL
        referenced = pteval.young and not ignore_references
        if referenced and not migration:
            ptep.set(pteval.mkold())
            self.pte_unmap_unlock(ptep, ptl)
            return SWAP_FAIL
        ptep.set(None)
        if pteval.dirty:
            page.dirty = True
        # rss per 442c9137: a swap pte gives the page up (anon_rss--), a migration entry
        # keeps it counted, since remove_migration_pte does not count it back either.
        if page.anon:
            if page.swapcache:
                entry = page.private
                self.swap_duplicate(entry)
                self.mmlist_add(mm, None)
                mm.anon_rss -= 1
            else:
                self.bug_on(
                    not migration,
                    "try_to_unmap_one",
                    f"anon page pfn {page.pfn} outside the swap cache unmapped for reclaim",
                )
                entry = self.make_migration_entry(page, pteval.write)
            ptep.set(SwapPte(entry, alloc=page.alloc_id))
        else:
            mm.file_rss -= 1
        self.page_remove_rmap(page)
        self.put_page(page, "try_to_unmap_one")
        self.pte_unmap_unlock(ptep, ptl)
        return ret
