"""mm/mremap.c and copy_vma/vma_link of mm/mmap.c, as in 2.6.17 (neither file is in the index at
0697212a; read from a 2.6.18 tree, whose mremap.c differs from 2.6.17's only in the lockdep
annotation of the nested pte lock and in the VM_ACCOUNT/accounting lines the model leaves out).

Only MREMAP_MAYMOVE|MREMAP_FIXED with an unchanged size is modelled (the DSL's mremap). sys_mremap
holds mmap_sem for write throughout. do_mremap checks in this order: OLD aligned, a non-empty
size, NEW aligned, the two ranges disjoint (-EINVAL); then do_munmap of NEW's range; only then
the vma containing OLD, which must hold the whole range (-EFAULT: a move never spans vmas).
move_vma: copy_vma makes the new vma (vma_merge is not modelled: the new vma is always a fresh
one, linked by vma_link under the anon_vma lock, at the tail of the anon_vma list), then
move_page_tables moves the ptes extent by extent (bounded by both page tables and by
LATENCY_LIMIT), then do_munmap of OLD's range drops the old piece.

move_ptes takes the old pte lock, then the new one when it is a different lock, and nothing
else for an anonymous vma: no anon_vma lock (the i_mmap_lock it takes is for file vmas only).
An rmap walk (try_to_unmap, remove_migration_ptes) holding the anon_vma lock can therefore run
in the middle of a move. It still sees every pte at its old or its new address, because the new
vma sits after the old one on the anon_vma list: the walk meets the old vma first, where a pte
not yet moved is found, and the new vma later, where a pte moved meanwhile is found (each pte
is moved under both pte locks, and the walk takes the pte lock of the address it looks at).
The mutants in impls/mutants/mremap.py break that argument.
"""

from __future__ import annotations

from dataclasses import replace

from ptediff.core.outcome import ERRNO
from ptediff.impls.core import KernelCore
from ptediff.impls.pte import PAGE_SHIFT, PAGE_SIZE
from ptediff.impls.sched import WRITE, Acquire, KGen
from ptediff.impls.structs import PMD_SPAN, Mm, PageTable, Vma, pmd_index

LATENCY_LIMIT = 64 * PAGE_SIZE  # move_page_tables moves at most this much per move_ptes call


class Mremap(KernelCore):
    """mremap(2) with MREMAP_MAYMOVE|MREMAP_FIXED, old size == new size."""

    def sys_mremap(self, mm: Mm, addr: int, npages: int, new_addr: int) -> KGen[int]:
        """sys_mremap() in mm/mremap.c: do_mremap under mmap_sem for write."""
        yield Acquire("sys_mremap", mm.mmap_sem, WRITE)
        ret = yield from self.do_mremap(mm, addr, npages, new_addr)
        self.unlock(mm.mmap_sem, WRITE)
        return ret

    def do_mremap(self, mm: Mm, addr: int, npages: int, new_addr: int) -> KGen[int]:
        """do_mremap() in mm/mremap.c (2.6.17) for MREMAP_MAYMOVE|MREMAP_FIXED, equal sizes."""
        if addr % PAGE_SIZE:
            return -ERRNO["EINVAL"]
        length = npages * PAGE_SIZE
        if length <= 0:
            return -ERRNO["EINVAL"]
        if new_addr % PAGE_SIZE:
            return -ERRNO["EINVAL"]
        if new_addr <= addr < new_addr + length or addr <= new_addr < addr + length:
            return -ERRNO["EINVAL"]
        ret = yield from self.do_munmap_locked(mm, new_addr, npages)  # type: ignore[attr-defined]
        if ret:
            return ret
        # The shrink test: do_munmap of the zero-length tail gives -EINVAL, ignored because the
        # sizes are equal; MREMAP_FIXED to another address goes on to move.
        vma = mm.find_vma(addr)
        if vma is None or vma.start > addr:
            return -ERRNO["EFAULT"]
        if length > vma.end - addr:
            return -ERRNO["EFAULT"]
        # VM_LOCKED: the caller has CAP_IPC_LOCK; may_expand_vm: the size does not grow.
        return (yield from self.move_vma(vma, addr, length, new_addr))

    def move_vma(self, vma: Vma, old_addr: int, length: int, new_addr: int) -> KGen[int]:
        """move_vma() in mm/mremap.c: copy the vma, move its ptes, unmap the old range."""
        mm = vma.mm
        new_pgoff = vma.pgoff + ((old_addr - vma.start) >> PAGE_SHIFT)
        new_vma = yield from self.copy_vma(vma, new_addr, length, new_pgoff)
        yield from self.move_page_tables(vma, old_addr, new_vma, new_addr, length)
        # VM_ACCOUNT is not modelled, so nothing to conceal before the munmap; mm->locked_vm
        # is not kept (and the size does not grow: no make_pages_present).
        yield from self.do_munmap_locked(mm, old_addr, length // PAGE_SIZE)  # type: ignore[attr-defined]
        return new_addr

    def copy_vma(self, vma: Vma, addr: int, length: int, pgoff: int) -> KGen[Vma]:
        """copy_vma() in mm/mmap.c (2.6.17), without vma_merge: a copy of vma (flags, page
        protection, anon_vma) over [addr, addr + length), linked by vma_link."""
        if vma.anon_vma is None:
            pgoff = addr >> PAGE_SHIFT  # not faulted yet: pgoff follows the new address
        new_vma = replace(vma, start=addr, end=addr + length, pgoff=pgoff)
        yield from self.vma_link(vma.mm, new_vma)
        return new_vma

    def vma_link(self, mm: Mm, vma: Vma) -> KGen[None]:
        """vma_link() in mm/mmap.c: __vma_link (the mm's vma list, then __anon_vma_link) under
        the anon_vma lock."""
        anon_vma = vma.anon_vma
        if anon_vma is not None:
            yield Acquire("vma_link", anon_vma.lock)
        mm.insert_vma(vma)
        self._anon_vma_link(vma)  # type: ignore[attr-defined]
        if anon_vma is not None:
            self.unlock(anon_vma.lock)

    def move_page_tables(
        self, vma: Vma, old_addr: int, new_vma: Vma, new_addr: int, length: int
    ) -> KGen[int]:
        """move_page_tables() in mm/mremap.c: extent by extent, skipping an old range with no
        page table, allocating the new page table wherever the old one exists."""
        mm = vma.mm
        old_end = old_addr + length
        while old_addr < old_end:
            extent = min(old_end, (old_addr + PMD_SPAN) // PMD_SPAN * PMD_SPAN) - old_addr
            if pmd_index(old_addr) in mm.page_tables:  # get_old_pmd
                self.pte_alloc(mm, new_addr)  # alloc_new_pmd
                next_new = (new_addr + PMD_SPAN) // PMD_SPAN * PMD_SPAN
                extent = min(extent, next_new - new_addr, LATENCY_LIMIT)
                yield from self.move_ptes(vma, old_addr, old_addr + extent, new_vma, new_addr)
            old_addr += extent
            new_addr += extent
        return length

    def move_ptes(
        self, vma: Vma, old_addr: int, old_end: int, new_vma: Vma, new_addr: int
    ) -> KGen[None]:
        """move_ptes() in mm/mremap.c: under the old pte lock and, when it is another lock, the
        new one (mmap_sem for write orders the pair), every pte that is not none is cleared
        and set at the new address as it is: present, swap or migration entry."""
        mm = vma.mm
        mapped = yield from self.pte_offset_map_lock(mm, old_addr, "move_ptes")
        assert mapped is not None  # move_page_tables found the old page table
        old_ptep, old_ptl = mapped
        new_table = mm.page_tables[pmd_index(new_addr)]
        new_ptep = self.map_pte(new_table, new_addr, "move_ptes")  # pte_offset_map_nested
        new_ptl = new_table.ptl
        if new_ptl is not old_ptl:
            yield Acquire("move_ptes", new_ptl)
        yield from self.move_pte_range(old_ptep.table, old_addr, old_end, new_table, new_addr)
        if new_ptl is not old_ptl:
            self.unlock(new_ptl)
        self.pte_unmap(new_ptep)  # pte_unmap_nested
        self.pte_unmap_unlock(old_ptep, old_ptl)

    def move_pte_range(
        self, old_table: PageTable, old_addr: int, old_end: int, new_table: PageTable,
        new_addr: int,
    ) -> KGen[None]:
        """The loop of move_ptes() in mm/mremap.c: ptep_clear_flush at the old address,
        move_pte (the same pte on x86), set_pte_at the new address."""
        old_ptes, new_ptes = old_table.ptes, new_table.ptes
        while old_addr < old_end:
            pte = old_ptes.pop(old_addr, None)
            if pte is not None:
                new_ptes[new_addr] = pte
            old_addr += PAGE_SIZE
            new_addr += PAGE_SIZE
        return
        yield  # a generator, so that a mutant may yield inside the loop
