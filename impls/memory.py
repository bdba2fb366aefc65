"""mm/memory.c: the fault handlers, fork's page-table copy and munmap/exit's zap."""

from __future__ import annotations

from ptediff.impls.core import KernelCore, PteHandle
from ptediff.impls.pte import PAGE_SIZE, PresentPte, Pte, SwapPte
from ptediff.impls.sched import Acquire, KGen, Mutex
from ptediff.impls.structs import (
    PMD_SPAN,
    VM_SHARED,
    VM_WRITE,
    Mm,
    Page,
    PageTable,
    Vma,
    is_cow_mapping,
    pmd_index,
)


def mk_pte(page: Page, vma: Vma) -> PresentPte:
    """mk_pte(page, vma->vm_page_prot)."""
    return PresentPte(page.pfn, write=vma.page_prot.writable, protnone=not vma.page_prot.readable)


def maybe_mkwrite(pte: PresentPte, vma: Vma) -> PresentPte:
    """maybe_mkwrite() in include/linux/mm.h: write only if the vma has VM_WRITE."""
    return pte.mkwrite() if vma.flags & VM_WRITE else pte


class Memory(KernelCore):
    """Page faults, copy_page_range and zap_pte_range."""

    # -- faults ------------------------------------------------------------------------------

    def handle_mm_fault(self, mm: Mm, vma: Vma, addr: int, write: bool) -> KGen[None]:
        """handle_mm_fault() in mm/memory.c."""
        self.pte_alloc(mm, addr)
        yield from self.handle_pte_fault(mm, vma, addr, write)

    def handle_pte_fault(self, mm: Mm, vma: Vma, addr: int, write: bool) -> KGen[None]:
        """handle_pte_fault() in mm/memory.c: the pte is first read without its lock."""
        entry = mm.pte(addr)
        if entry is None:
            yield from self.do_anonymous_page(mm, vma, addr, write)
            return
        if isinstance(entry, SwapPte):
            yield from self.do_swap_page(mm, vma, addr, entry, write)
            return
        mapped = yield from self.pte_offset_map_lock(mm, addr, "handle_pte_fault")
        assert mapped is not None
        ptep, ptl = mapped
        if ptep.get() != entry:
            self.pte_unmap_unlock(ptep, ptl)
            return
        if write and not entry.write:
            yield from self.do_wp_page(mm, vma, addr, ptep, ptl, entry)
            return
        updated = entry.mkyoung()
        if write:
            updated = updated.mkdirty()
        ptep.set(updated)
        self.pte_unmap_unlock(ptep, ptl)

    def do_anonymous_page(self, mm: Mm, vma: Vma, addr: int, write: bool) -> KGen[None]:
        """do_anonymous_page() in mm/memory.c."""
        if write:
            yield from self.anon_vma_prepare(vma)
            page = self.alloc_page(0)
            entry = maybe_mkwrite(mk_pte(page, vma).mkdirty(), vma)
        else:
            page = self.zero_page
            self.get_page(page)
            entry = mk_pte(page, vma)
        ptep, ptl = yield from self.pte_alloc_map_lock(mm, addr, "do_anonymous_page")
        if ptep.get() is not None:
            self.put_page(page)
            self.pte_unmap_unlock(ptep, ptl)
            return
        if write:
            mm.anon_rss += 1
            self.page_add_new_anon_rmap(page, vma, addr)
        else:
            mm.file_rss += 1
            self.page_add_file_rmap(page)
        ptep.set(entry)
        self.pte_unmap_unlock(ptep, ptl)

    def do_wp_page(
        self, mm: Mm, vma: Vma, addr: int, ptep: PteHandle, ptl: Mutex, orig: PresentPte
    ) -> KGen[None]:
        """do_wp_page() in mm/memory.c: entered with the pte locked, leaves it unlocked."""
        old_page = self.vm_normal_page(orig)
        assert old_page is not None
        if old_page.anon:
            got = yield from self.trylock_page(old_page, "do_wp_page")
            if got:
                reuse = self.can_share_swap_page(old_page)
                self.unlock_page(old_page)
                if reuse:
                    ptep.set(maybe_mkwrite(orig.mkyoung().mkdirty(), vma))
                    self.pte_unmap_unlock(ptep, ptl)
                    return
        # Copy on write.
        self.get_page(old_page)
        self.pte_unmap_unlock(ptep, ptl)
        yield from self.anon_vma_prepare(vma)
        data = 0 if old_page is self.zero_page else old_page.data
        new_page = self.alloc_page(0, data)
        ptep, ptl = yield from self.pte_alloc_map_lock(mm, addr, "do_wp_page")
        if ptep.get() == orig:
            self.page_remove_rmap(old_page)
            if not old_page.anon:
                mm.file_rss -= 1
                mm.anon_rss += 1
            ptep.set(maybe_mkwrite(mk_pte(new_page, vma).mkdirty(), vma))
            self.page_add_new_anon_rmap(new_page, vma, addr)
            new_page = old_page  # the pte's reference on the old page goes below
        self.put_page(new_page)
        self.put_page(old_page)
        self.pte_unmap_unlock(ptep, ptl)

    def do_swap_page(self, mm: Mm, vma: Vma, addr: int, orig: SwapPte, write: bool) -> KGen[None]:
        """do_swap_page() in mm/memory.c (no swapin_readahead: as with vm.page-cluster=0)."""
        entry = orig.val
        if self.enc.is_migration_entry(entry):
            yield from self.migration_entry_wait(mm, addr)
            return
        page = self.lookup_swap_cache(entry)
        if page is None:
            page = self.read_swap_cache_async(entry)
            if page is None:
                mapped = yield from self.pte_offset_map_lock(mm, addr, "do_swap_page")
                assert mapped is not None
                ptep, ptl = mapped
                still_there = ptep.get() == orig
                self.pte_unmap_unlock(ptep, ptl)
                self.bug_on(
                    still_there,
                    "do_swap_page",
                    f"swap entry {entry:#x} has no swap slot (VM_FAULT_OOM)",
                )
                return
        yield from self.lock_page(page, "do_swap_page")
        mapped = yield from self.pte_offset_map_lock(mm, addr, "do_swap_page")
        assert mapped is not None
        ptep, ptl = mapped
        if ptep.get() != orig:
            self.pte_unmap_unlock(ptep, ptl)
            self.unlock_page(page)
            self.put_page(page)
            return
        mm.anon_rss += 1
        pte = mk_pte(page, vma)
        if write and self.can_share_swap_page(page):
            pte = maybe_mkwrite(pte.mkdirty(), vma)
            write = False
        ptep.set(pte)
        self.page_add_anon_rmap(page, vma, addr)
        self.swap_free(entry)
        if self.vm_swap_full():
            self.remove_exclusive_swap_page(page)
        self.unlock_page(page)
        if write:
            yield from self.do_wp_page(mm, vma, addr, ptep, ptl, pte)
            return
        self.pte_unmap_unlock(ptep, ptl)

    # -- fork --------------------------------------------------------------------------------

    def copy_page_range(self, dst_mm: Mm, src_mm: Mm, vma: Vma) -> KGen[None]:
        """copy_page_range() in mm/memory.c: a vma without anon_vma is left to faults."""
        if vma.anon_vma is None:
            return
        addr = vma.start
        while addr < vma.end:
            boundary = min((pmd_index(addr) + 1) * PMD_SPAN, vma.end)
            src_table = src_mm.page_tables.get(pmd_index(addr))
            if src_table is not None:
                yield from self.copy_pte_range(dst_mm, src_mm, src_table, vma, addr, boundary)
            addr = boundary

    def copy_pte_range(
        self, dst_mm: Mm, src_mm: Mm, src_table: PageTable, vma: Vma, start: int, end: int
    ) -> KGen[None]:
        """copy_pte_range() in mm/memory.c.

        Both ptls are dropped and retaken after every copied pte: that is where the kernel
        may break out for a resched or lock break, and where fork can be interleaved.
        """
        addr = start
        while addr < end:
            dst_map, dst_ptl = yield from self.pte_alloc_map_lock(dst_mm, addr, "copy_pte_range")
            yield Acquire("copy_pte_range", src_table.ptl)
            src_map = self.map_pte(src_table, addr, "copy_pte_range")  # pte_offset_map_nested
            copied = False
            while addr < end and not copied:
                src_ptep = PteHandle(src_table, addr, "copy_pte_range")
                if src_ptep.get() is not None:
                    dst_ptep = PteHandle(dst_map.table, addr, "copy_pte_range")
                    self.copy_one_pte(dst_mm, src_mm, dst_ptep, src_ptep, vma, addr)
                    copied = True
                addr += PAGE_SIZE
            self.unlock(src_table.ptl)
            self.pte_unmap(src_map)
            self.pte_unmap_unlock(dst_map, dst_ptl)

    def copy_one_pte(
        self,
        dst_mm: Mm,
        src_mm: Mm,
        dst_ptep: PteHandle,
        src_ptep: PteHandle,
        vma: Vma,
        addr: int,
    ) -> None:
        """copy_one_pte() in mm/memory.c: both ptls held."""
        pte: Pte = src_ptep.get()
        if isinstance(pte, SwapPte):
            entry = pte.val
            self.swap_duplicate(entry)
            dst_mm.on_mmlist = True
            if self.enc.is_migration_entry(entry):
                pte = self.copy_migration_entry(vma, src_ptep, entry)
            dst_ptep.set(pte)
            return
        assert isinstance(pte, PresentPte)
        if is_cow_mapping(vma.flags):
            src_ptep.set(pte.wrprotect())
            pte = pte.wrprotect()
        if vma.flags & VM_SHARED:
            pte = PresentPte(pte.pfn, pte.write, False, pte.young, pte.protnone)
        pte = pte.mkold()
        page = self.vm_normal_page(pte)
        if page is not None:
            self.get_page(page)
            self.page_dup_rmap(page)
            if page.anon:
                dst_mm.anon_rss += 1
            else:
                dst_mm.file_rss += 1
        dst_ptep.set(pte)

    def copy_migration_entry(self, vma: Vma, src_ptep: PteHandle, entry: int) -> SwapPte:
        """The migration-entry branch of copy_one_pte() in mm/memory.c (fix 3).

        Only a WRITE entry in a COW mapping changes: it becomes READ in place (no page
        lookup), in the parent's pte too, so neither side comes back writable.
        """
        if self.enc.is_write_migration_entry(entry) and is_cow_mapping(vma.flags):
            entry = self.enc.make_migration_entry_read(entry)
            src_ptep.set(SwapPte(entry))
        return SwapPte(entry)

    # -- munmap / exit -----------------------------------------------------------------------

    def zap_page_range(self, vma: Vma, start: int, end: int) -> KGen[None]:
        """zap_page_range() in mm/memory.c (unmap_vmas for munmap/exit), per page table."""
        mm = vma.mm
        addr = start
        while addr < end:
            boundary = min((pmd_index(addr) + 1) * PMD_SPAN, end)
            if pmd_index(addr) in mm.page_tables:
                yield from self.zap_pte_range(mm, vma, addr, boundary)
            addr = boundary

    def zap_pte_range(self, mm: Mm, vma: Vma, start: int, end: int) -> KGen[None]:
        """zap_pte_range() in mm/memory.c."""
        mapped = yield from self.pte_offset_map_lock(mm, start, "zap_pte_range")
        assert mapped is not None
        first, ptl = mapped
        for addr in range(start, end, PAGE_SIZE):
            ptep = PteHandle(first.table, addr, "zap_pte_range")
            pte = ptep.get()
            if pte is None:
                continue
            ptep.set(None)
            if isinstance(pte, PresentPte):
                page = self.vm_normal_page(pte)
                assert page is not None
                if pte.dirty:
                    page.dirty = True
                if page.anon:
                    mm.anon_rss -= 1
                else:
                    mm.file_rss -= 1
                self.page_remove_rmap(page)
                self.put_page(page)
            else:
                yield from self.free_swap_and_cache(pte.val)
        self.pte_unmap_unlock(first, ptl)
