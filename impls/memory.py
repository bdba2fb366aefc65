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
    return PresentPte(page.pfn, write=vma.page_prot.writable, protnone=not vma.page_prot.readable,
                      alloc=page.alloc_id)


def maybe_mkwrite(pte: PresentPte, vma: Vma) -> PresentPte:
    """maybe_mkwrite() in include/linux/mm.h: write only if the vma has VM_WRITE."""
    return pte.mkwrite() if vma.flags & VM_WRITE else pte


VM_FAULT_OOM = -1  # include/linux/mm.h: the fault could not get memory; the task is killed
COPY_PTE_BATCH = 32  # copy_pte_range's progress limit before it may break its locks


class Memory(KernelCore):
    """Page faults, copy_page_range and zap_pte_range."""

    # -- faults ------------------------------------------------------------------------------

    def handle_mm_fault(self, mm: Mm, vma: Vma, addr: int, write: bool) -> KGen[int | None]:
        """handle_mm_fault() in mm/memory.c: VM_FAULT_OOM, or None for handled."""
        self.pte_alloc(mm, addr)
        return (yield from self.handle_pte_fault(mm, vma, addr, write))

    def handle_pte_fault(self, mm: Mm, vma: Vma, addr: int, write: bool) -> KGen[int | None]:
        """handle_pte_fault() in mm/memory.c: the pte is first read without its lock."""
        entry = mm.pte(addr)
        if entry is None:
            yield from self.do_anonymous_page(mm, vma, addr, write)
            return None
        if isinstance(entry, SwapPte):
            return (yield from self.do_swap_page(mm, vma, addr, entry, write))
        mapped = yield from self.pte_offset_map_lock(mm, addr, "handle_pte_fault")
        assert mapped is not None
        ptep, ptl = mapped
        if ptep.get() != entry:
            self.pte_unmap_unlock(ptep, ptl)
            return None
        if write and not entry.write:
            yield from self.do_wp_page(mm, vma, addr, ptep, ptl, entry)
            return None
        updated = entry.mkyoung()
        if write:
            updated = updated.mkdirty()
        ptep.set(updated)
        self.pte_unmap_unlock(ptep, ptl)
        return None

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
            page.lru = True  # lru_cache_add_active()
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
        old_page = self.vm_normal_page(orig, "do_wp_page")
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
            new_page.lru = True  # lru_cache_add_active()
            self.page_add_new_anon_rmap(new_page, vma, addr)
            new_page = old_page  # the pte's reference on the old page goes below
        self.put_page(new_page, "do_wp_page")
        self.put_page(old_page, "do_wp_page")
        self.pte_unmap_unlock(ptep, ptl)

    def do_swap_page(
        self, mm: Mm, vma: Vma, addr: int, orig: SwapPte, write: bool
    ) -> KGen[int | None]:
        """do_swap_page() in mm/memory.c (no swapin_readahead: as with vm.page-cluster=0).

        A slot that cannot be read (read_swap_cache_async finds no swap count for it) is
        VM_FAULT_OOM if the pte is still the same: do_page_fault then kills the task."""
        entry = orig.val
        if self.enc.is_migration_entry(entry):
            yield from self.migration_entry_wait(mm, addr)
            return None
        page = self.lookup_swap_cache(entry)
        if page is None:
            page = self.read_swap_cache_async(entry)
            if page is None:
                mapped = yield from self.pte_offset_map_lock(mm, addr, "do_swap_page")
                assert mapped is not None
                ptep, ptl = mapped
                still_there = ptep.get() == orig
                self.pte_unmap_unlock(ptep, ptl)
                return VM_FAULT_OOM if still_there else None
        yield from self.lock_page(page, "do_swap_page")
        mapped = yield from self.pte_offset_map_lock(mm, addr, "do_swap_page")
        assert mapped is not None
        ptep, ptl = mapped
        if ptep.get() != orig:
            self.pte_unmap_unlock(ptep, ptl)
            self.unlock_page(page)
            self.put_page(page, "do_swap_page")
            return None
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
            return None
        self.pte_unmap_unlock(ptep, ptl)
        return None

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
        """copy_pte_range() in mm/memory.c: both ptls are held over a batch; a none pte costs 1
        and a copied one 8, and once the progress reaches 32 the loop breaks out if a resched
        or lock break is pending. The model takes every such chance (a resched is always
        pending), so the locks drop exactly where the kernel may drop them, and nowhere else.
        The batch's rss is added to the child when the batch ends (add_mm_rss)."""
        addr = start
        while addr < end:
            dst_map, dst_ptl = yield from self.pte_alloc_map_lock(dst_mm, addr, "copy_pte_range")
            yield Acquire("copy_pte_range", src_table.ptl)
            src_map = self.map_pte(src_table, addr, "copy_pte_range")  # pte_offset_map_nested
            rss = {"anon": 0, "file": 0}
            progress = 0
            while addr < end:
                if progress >= COPY_PTE_BATCH:
                    break  # need_resched() / need_lockbreak(): taken at every chance
                src_ptep = PteHandle(src_table, addr, "copy_pte_range")
                if src_ptep.get() is None:
                    progress += 1
                else:
                    dst_ptep = PteHandle(dst_map.table, addr, "copy_pte_range")
                    self.copy_one_pte(dst_mm, src_mm, dst_ptep, src_ptep, vma, addr, rss)
                    progress += 8
                addr += PAGE_SIZE
            self.unlock(src_table.ptl)
            self.pte_unmap(src_map)
            dst_mm.anon_rss += rss["anon"]  # add_mm_rss()
            dst_mm.file_rss += rss["file"]
            self.pte_unmap_unlock(dst_map, dst_ptl)

    def copy_one_pte(
        self,
        dst_mm: Mm,
        src_mm: Mm,
        dst_ptep: PteHandle,
        src_ptep: PteHandle,
        vma: Vma,
        addr: int,
        rss: dict[str, int] | None = None,
    ) -> None:
        """copy_one_pte() in mm/memory.c: both ptls held; rss is counted in the caller's batch.
        A copied migration entry adds no rss (the source of the child's rss drift after
        442c9137, kernel-notes §6.7)."""
        pte: Pte = src_ptep.get()
        if isinstance(pte, SwapPte):
            entry = pte.val
            self.swap_duplicate(entry)
            self.mmlist_add(dst_mm, src_mm)
            if self.enc.is_migration_entry(entry):
                pte = self.copy_migration_entry(vma, src_ptep, entry, pte.alloc)
            dst_ptep.set(pte)
            return
        assert isinstance(pte, PresentPte)
        if is_cow_mapping(vma.flags):
            src_ptep.set(pte.wrprotect())
            pte = pte.wrprotect()
        if vma.flags & VM_SHARED:
            pte = PresentPte(pte.pfn, pte.write, False, pte.young, pte.protnone, pte.alloc)
        pte = pte.mkold()
        page = self.vm_normal_page(pte, "copy_one_pte")
        if page is not None:
            self.get_page(page, "copy_one_pte")
            self.page_dup_rmap(page)
            counter = "anon" if page.anon else "file"
            if rss is not None:
                rss[counter] += 1
            elif page.anon:
                dst_mm.anon_rss += 1
            else:
                dst_mm.file_rss += 1
        dst_ptep.set(pte)

    def copy_migration_entry(
        self, vma: Vma, src_ptep: PteHandle, entry: int, alloc: int = 0
    ) -> SwapPte:
        """The migration-entry branch of copy_one_pte() in mm/memory.c (fix 3).

        Only a WRITE entry in a COW mapping changes: it becomes READ in place (no page
        lookup), in the parent's pte too, so neither side comes back writable.
        """
        if self.enc.is_write_migration_entry(entry) and is_cow_mapping(vma.flags):
            entry = self.enc.make_migration_entry_read(entry)
            src_ptep.set(SwapPte(entry, alloc))
        return SwapPte(entry, alloc)

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
                page = self.vm_normal_page(pte, "zap_pte_range")
                assert page is not None
                # Only a file page takes the pte's dirty bit (set_page_dirty); an anon page's
                # data dies with its last mapping, or lives on in its swap slot.
                if page.anon:
                    mm.anon_rss -= 1
                else:
                    if pte.dirty:
                        page.dirty = True
                    mm.file_rss -= 1
                self.page_remove_rmap(page)
                self.put_page(page, "zap_pte_range")
            else:
                yield from self.free_swap_and_cache(pte.val)
        self.pte_unmap_unlock(first, ptl)
