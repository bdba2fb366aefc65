"""Mutants in mm/mremap.c and the copy_vma/vma_link it calls in mm/mmap.c: each breaks what
lets an rmap walk find a pte that mremap moves while the walk runs (the new vma after the old
one on the anon_vma list, linked under the anon_vma lock), or what the move carries along."""

from __future__ import annotations

from ptediff.impls.mutants.base import PREFIX, Mutant
from ptediff.impls.pte import PAGE_SIZE, PresentPte
from ptediff.impls.sched import KGen
from ptediff.impls.structs import Mm, PageTable, Vma, pmd_index


class MremapLinkAtHead(Mutant):
    """vma_link() called from copy_vma() puts the new vma at the head of the anon_vma list
    (list_add for list_add_tail): a remove_migration_ptes walk that starts after copy_vma meets
    the new vma first, before move_ptes has moved the migration entry there, and the old vma
    after it has gone: the entry is left behind at the new address, its page unlocked."""

    NAME = PREFIX + "mremap_link_at_head"
    REVERTS = "copy_vma links the new vma at the head of the anon_vma list"
    FUNCTION, FILE, AREA = "vma_link", "mm/mmap.c", "mremap"

    def vma_link(self, mm: Mm, vma: Vma) -> KGen[None]:
        """vma_link() whose __anon_vma_link inserts at the list's head."""
        yield from super().vma_link(mm, vma)
        anon_vma = vma.anon_vma
        if anon_vma is not None:
            anon_vma.vmas.remove(vma)
            anon_vma.vmas.insert(0, vma)


class MremapLinkUnlocked(Mutant):
    """vma_link() links copy_vma's new vma without taking the anon_vma lock: a walk already
    under way (its list read under that lock) never sees the new vma, and a pte move_ptes
    carries there from an old vma the walk has not reached yet escapes it."""

    NAME = PREFIX + "mremap_link_unlocked"
    REVERTS = "vma_link links copy_vma's new vma without the anon_vma lock"
    FUNCTION, FILE, AREA = "vma_link", "mm/mmap.c", "mremap"

    def vma_link(self, mm: Mm, vma: Vma) -> KGen[None]:
        """vma_link() with no anon_vma lock around __vma_link."""
        mm.insert_vma(vma)
        self._anon_vma_link(vma)
        return
        yield


class MovePtesPresentOnly(Mutant):
    """move_ptes() moves only present ptes (a pte_present test where pte_none belongs): a swap
    pte or a migration entry stays at the old address, and the munmap of the old range that
    ends move_vma zaps it, so the moved page reads back as a fresh zero page."""

    NAME = PREFIX + "move_ptes_present_only"
    REVERTS = "move_ptes leaves swap ptes and migration entries behind"
    FUNCTION, FILE, AREA = "move_ptes", "mm/mremap.c", "mremap"

    def move_pte_range(
        self, old_table: PageTable, old_addr: int, old_end: int, new_table: PageTable,
        new_addr: int,
    ) -> KGen[None]:
        """move_ptes()'s loop skipping every pte that is not present."""
        while old_addr < old_end:
            pte = old_table.ptes.get(old_addr)
            if isinstance(pte, PresentPte):
                new_table.ptes[new_addr] = old_table.ptes.pop(old_addr)
            old_addr += PAGE_SIZE
            new_addr += PAGE_SIZE
        return
        yield


class MovePtesNoNewLock(Mutant):
    """move_ptes() takes only the old pte lock, not the new one when it differs."""

    NAME = PREFIX + "move_ptes_no_new_lock"
    REVERTS = "move_ptes does not take the new pte lock"
    FUNCTION, FILE, AREA = "move_ptes", "mm/mremap.c", "mremap"
    EQUIVALENT = (
        "mmap_sem for write keeps the process's own faults, mprotects and munmaps out, so the "
        "only others to take its pte locks are the rmap walks of other processes "
        "(try_to_unmap_one, remove_migration_pte), and in the models they check and rewrite a "
        "pte with no scheduling point while they hold its lock: the new lock never excludes "
        "anything move_ptes races with here. In the kernel it keeps the page valid until the "
        "old pte's TLB entry is flushed, which the models do not model."
    )

    def move_ptes(
        self, vma: Vma, old_addr: int, old_end: int, new_vma: Vma, new_addr: int
    ) -> KGen[None]:
        """move_ptes() under the old pte lock alone."""
        mapped = yield from self.pte_offset_map_lock(vma.mm, old_addr, "move_ptes")
        assert mapped is not None
        old_ptep, old_ptl = mapped
        new_table = vma.mm.page_tables[pmd_index(new_addr)]
        yield from self.move_pte_range(old_ptep.table, old_addr, old_end, new_table, new_addr)
        self.pte_unmap_unlock(old_ptep, old_ptl)
