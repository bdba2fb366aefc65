"""mm/mremap.c and copy_vma/vma_merge/vma_adjust/vma_link of mm/mmap.c for the 2006 kernel
(neither file is in the index at 0697212a, nor a 2.6.17 copy; read from a 2.6.18 tree and taken
to match 2.6.17, leaving out the VM_ACCOUNT charging and the accounting lines).

Only MREMAP_MAYMOVE|MREMAP_FIXED with an unchanged size is modelled (the DSL's mremap). sys_mremap
holds mmap_sem for write throughout. do_mremap checks in this order: OLD aligned, a non-empty
size, NEW aligned, the two ranges disjoint (-EINVAL); then do_munmap of NEW's range; only then
the vma containing OLD, which must hold the whole range (-EFAULT: a move never spans vmas).
move_vma: copy_vma first tries vma_merge with NEW's neighbours (the only vma merge the models
do: mmap, mprotect and mlock never merge here); failing that it makes a fresh vma, linked by
vma_link under the anon_vma lock at the tail of the anon_vma list. Then move_page_tables moves
the ptes extent by extent (bounded by both page tables and by LATENCY_LIMIT), and do_munmap of
OLD's range drops the old piece.

move_ptes takes the old pte lock, then the new one when it is a different lock, and nothing
else for an anonymous vma: no anon_vma lock (the i_mmap_lock it takes is for file vmas only).
An rmap walk (try_to_unmap, remove_migration_ptes) holding the anon_vma lock can therefore run
in the middle of a move. It still sees every pte at its old or its new address, because the new
vma sits after the old one on the anon_vma list: the walk meets the old vma first, where a pte
not yet moved is found, and the new vma later, where a pte moved meanwhile is found (each pte
is moved under both pte locks, and the walk takes the pte lock of the address it looks at).
A vma_merge into an existing vma keeps that vma's place on the list, which may be before the
source: then the argument fails (a latent 2006 bug, docs/semantics.md), as it does in the
mutants of impls/mutants/mremap.py.
"""

from __future__ import annotations

from dataclasses import replace

from ptediff.core.outcome import ERRNO
from ptediff.impls.core import KernelCore
from ptediff.impls.pte import PAGE_SHIFT, PAGE_SIZE
from ptediff.impls.sched import WRITE, Acquire, KGen
from ptediff.impls.structs import PMD_SPAN, AnonVma, Mm, PageTable, Vma, pmd_index

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
        new_vma, vma = yield from self.copy_vma(vma, new_addr, length, new_pgoff)
        yield from self.move_page_tables(vma, old_addr, new_vma, new_addr, length)
        # VM_ACCOUNT is not modelled, so nothing to conceal before the munmap; mm->locked_vm
        # is not kept (and the size does not grow: no make_pages_present).
        yield from self.do_munmap_locked(mm, old_addr, length // PAGE_SIZE)  # type: ignore[attr-defined]
        return new_addr

    def copy_vma(self, vma: Vma, addr: int, length: int, pgoff: int) -> KGen[tuple[Vma, Vma]]:
        """copy_vma() in mm/mmap.c (2.6.17): vma_merge with the neighbours of the new range,
        else a copy of vma linked by vma_link. Returns (new vma, source vma): the source is the
        merged vma when it took the source in (the *vmap update)."""
        mm = vma.mm
        vma_start = vma.start
        if vma.anon_vma is None:
            pgoff = addr >> PAGE_SHIFT  # not faulted yet: pgoff follows the new address
        prev = self.find_vma_prev(mm, addr)  # find_vma_prepare's prev
        merged = yield from self.vma_merge(mm, prev, addr, addr + length, vma.flags,
                                           vma.anon_vma, pgoff)
        if merged is not None:
            if merged.start <= vma_start < merged.end:
                vma = merged
            return merged, vma
        new_vma = replace(vma, start=addr, end=addr + length, pgoff=pgoff)
        yield from self.vma_link(mm, new_vma)
        return new_vma, vma

    @staticmethod
    def find_vma_prev(mm: Mm, addr: int) -> Vma | None:
        """find_vma_prev() in mm/mmap.c: the last vma ending at or below addr (the *pprev of
        copy_vma's find_vma_prepare)."""
        before = [v for v in mm.vmas if v.end <= addr]
        return before[-1] if before else None

    @staticmethod
    def is_mergeable_anon_vma(a: object, b: object) -> bool:
        """is_mergeable_anon_vma() in mm/mmap.c: either is NULL, or they are the same."""
        return a is None or b is None or a is b

    def can_vma_merge_before(self, vma: Vma, flags: int, anon_vma: object, pgoff: int) -> bool:
        """can_vma_merge_before() in mm/mmap.c: same flags, compatible anon_vma, and vma's
        pgoff right after the range's (no file, no ->close here)."""
        return (vma.flags == flags and self.is_mergeable_anon_vma(anon_vma, vma.anon_vma)
                and vma.pgoff == pgoff)

    def can_vma_merge_after(self, vma: Vma, flags: int, anon_vma: object, pgoff: int) -> bool:
        """can_vma_merge_after() in mm/mmap.c: as before, with the range's pgoff right after
        vma's."""
        pglen = (vma.end - vma.start) >> PAGE_SHIFT
        return (vma.flags == flags and self.is_mergeable_anon_vma(anon_vma, vma.anon_vma)
                and vma.pgoff + pglen == pgoff)

    def vma_merge(
        self, mm: Mm, prev: Vma | None, addr: int, end: int, flags: int,
        anon_vma: AnonVma | None, pgoff: int,
    ) -> KGen[Vma | None]:
        """vma_merge() in mm/mmap.c for an unmapped range (mmap, brk, mremap: cases 1 to 3):
        extend prev over it (and over next too when both fit), or next down over it."""
        pglen = (end - addr) >> PAGE_SHIFT
        nxt = mm.find_vma(prev.end if prev is not None else 0)  # prev->vm_next or mm->mmap
        if (prev is not None and prev.end == addr
                and self.can_vma_merge_after(prev, flags, anon_vma, pgoff)):
            if (nxt is not None and end == nxt.start
                    and self.can_vma_merge_before(nxt, flags, anon_vma, pgoff + pglen)
                    and self.is_mergeable_anon_vma(prev.anon_vma, nxt.anon_vma)):
                yield from self.vma_adjust(prev, prev.start, nxt.end, prev.pgoff)  # case 1
            else:
                yield from self.vma_adjust(prev, prev.start, end, prev.pgoff)  # case 2
            return prev
        if (nxt is not None and end == nxt.start
                and self.can_vma_merge_before(nxt, flags, anon_vma, pgoff + pglen)):
            yield from self.vma_adjust(nxt, addr, nxt.end, nxt.pgoff - pglen)  # case 3
            return nxt
        return None

    def vma_adjust(self, vma: Vma, start: int, end: int, pgoff: int) -> KGen[None]:
        """vma_adjust() in mm/mmap.c with no insert, as vma_merge calls it for an unmapped
        range: under the anon_vma lock, set the bounds; when vma swallows all of next, vma
        takes next's anon_vma if it has none (the importer) and next leaves the mm and the
        anon_vma list (__anon_vma_merge). Nothing gives vma the anon_vma of the range being
        merged in: that is the caller's."""
        mm = vma.mm
        nxt = mm.find_vma(vma.end)
        remove_next = nxt is not None and end >= nxt.end
        anon_vma = nxt.anon_vma if remove_next and nxt is not None else None
        if vma.anon_vma is not None:
            anon_vma = vma.anon_vma
        if anon_vma is not None:
            yield Acquire("vma_adjust", anon_vma.lock)
            if remove_next and vma.anon_vma is None:
                vma.anon_vma = anon_vma  # importer
                self._anon_vma_link(vma)  # type: ignore[attr-defined]
        vma.start, vma.end, vma.pgoff = start, end, pgoff
        if remove_next and nxt is not None:
            mm.vmas.remove(nxt)  # __vma_unlink
            if nxt.anon_vma is not None:
                nxt.anon_vma.vmas.remove(nxt)  # __anon_vma_merge
        if anon_vma is not None:
            self.unlock(anon_vma.lock)

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
