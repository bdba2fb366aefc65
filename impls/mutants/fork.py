"""Mutants in fork: kernel/fork.c dup_mmap and mm/memory.c copy_page_range/copy_one_pte."""

from __future__ import annotations

from ptediff.impls.core import PteHandle
from ptediff.impls.mutants.base import PREFIX, Mutant
from ptediff.impls.pte import PresentPte, SwapPte
from ptediff.impls.sched import KGen
from ptediff.impls.structs import Mm, Page, Vma


class ForkNoWrprotect(Mutant):
    """copy_one_pte() in mm/memory.c write-protects the child's copy of a present COW pte but
    forgets the parent's (`ptep_set_wrprotect(src_mm, addr, src_pte)` dropped): parent and
    child share the page and the parent can still write it without a fault."""

    NAME = PREFIX + "fork_no_wrprotect"
    REVERTS = "copy_one_pte leaves the parent's COW pte writable"
    FUNCTION, FILE, AREA = "copy_one_pte", "mm/memory.c", "fork"

    def copy_one_pte(
        self, dst_mm: Mm, src_mm: Mm, dst_ptep: PteHandle, src_ptep: PteHandle, vma: Vma,
        addr: int, rss: dict[str, int] | None = None,
    ) -> None:
        """copy_one_pte() in mm/memory.c without the parent's write-protect."""
        before = src_ptep.get()
        super().copy_one_pte(dst_mm, src_mm, dst_ptep, src_ptep, vma, addr, rss)
        if isinstance(before, PresentPte) and before.write:
            src_ptep.set(src_ptep.get().mkwrite())  # type: ignore[union-attr]


class ForkNoDupRmap(Mutant):
    """copy_one_pte() takes the page reference for the child's pte but not the mapcount
    (page_dup_rmap dropped): the page looks exclusive, and the next write fault on either side
    reuses it instead of copying it."""

    NAME = PREFIX + "fork_no_dup_rmap"
    REVERTS = "copy_one_pte does not raise the mapcount of a copied page"
    FUNCTION, FILE, AREA = "page_dup_rmap", "include/linux/rmap.h (called by copy_one_pte)", "fork"

    def page_dup_rmap(self, page: Page) -> None:
        """page_dup_rmap() made a no-op."""


class ForkNoSwapDuplicate(Mutant):
    """copy_one_pte() copies a swap pte into the child without swap_duplicate(): the slot's
    count stays one short, so the parent's later swap-in sees no other user and reuses the
    swap-cache page for its write, which the child's swap pte still stands for."""

    NAME = PREFIX + "fork_no_swap_duplicate"
    REVERTS = "copy_one_pte takes no swap count for a copied swap entry"
    FUNCTION, FILE, AREA = "copy_one_pte", "mm/memory.c", "fork"

    def copy_one_pte(
        self, dst_mm: Mm, src_mm: Mm, dst_ptep: PteHandle, src_ptep: PteHandle, vma: Vma,
        addr: int, rss: dict[str, int] | None = None,
    ) -> None:
        """copy_one_pte() in mm/memory.c, its swap_duplicate() undone."""
        pte = src_ptep.get()
        super().copy_one_pte(dst_mm, src_mm, dst_ptep, src_ptep, vma, addr, rss)
        if isinstance(pte, SwapPte) and not self.enc.is_migration_entry(pte.val):
            self.swap_free(pte.val)


class ForkKeepWriteEntry(Mutant):
    """The migration-entry branch of copy_one_pte() copies every entry unchanged: a WRITE
    entry of a COW vma stays WRITE in parent and child, so the restore makes both ptes
    writable to the one new page (fix 3's symptom, reached by forgetting the downgrade)."""

    NAME = PREFIX + "fork_keep_write_entry"
    REVERTS = "copy_one_pte does not downgrade a WRITE migration entry of a COW vma"
    FUNCTION, FILE, AREA = "copy_one_pte", "mm/memory.c", "fork"

    def copy_migration_entry(
        self, vma: Vma, src_ptep: PteHandle, entry: int, alloc: int = 0
    ) -> SwapPte:
        """The migration-entry branch of copy_one_pte() with no downgrade at all."""
        return SwapPte(entry, alloc)


class ForkDowngradeChildOnly(Mutant):
    """copy_one_pte() downgrades a WRITE migration entry to READ for the child only and leaves
    the parent's WRITE entry (the `*src_pte = pte` store dropped): the parent's pte comes back
    writable while the child maps the same page."""

    NAME = PREFIX + "fork_downgrade_child_only"
    REVERTS = "copy_one_pte downgrades a WRITE migration entry in the child but not the parent"
    FUNCTION, FILE, AREA = "copy_one_pte", "mm/memory.c", "fork"

    def copy_migration_entry(
        self, vma: Vma, src_ptep: PteHandle, entry: int, alloc: int = 0
    ) -> SwapPte:
        """The migration-entry branch of copy_one_pte(), the parent's store undone."""
        parent = src_ptep.get()
        child = super().copy_migration_entry(vma, src_ptep, entry, alloc)
        src_ptep.set(parent)
        return child


class ForkSkipAnonVmas(Mutant):
    """copy_page_range() in mm/memory.c tests its "nothing to copy" shortcut the wrong way
    round: it skips the vmas that have an anon_vma, so the child starts with empty page
    tables and reads zeroes where the parent had written data."""

    NAME = PREFIX + "fork_skip_anon_vmas"
    REVERTS = "copy_page_range skips the vmas that have anonymous pages"
    FUNCTION, FILE, AREA = "copy_page_range", "mm/memory.c", "fork"

    def copy_page_range(self, dst_mm: Mm, src_mm: Mm, vma: Vma) -> KGen[None]:
        """copy_page_range() with the anon_vma test inverted."""
        if vma.anon_vma is not None:
            return
        yield from super().copy_page_range(dst_mm, src_mm, vma)


class ForkNoAnonVmaLink(Mutant):
    """dup_mmap() in kernel/fork.c forgets anon_vma_link() for the child's vma: the child's
    ptes map the parent's anon pages but no rmap walk finds them, so try_to_unmap can never
    unmap a shared page and migration gives up with -EAGAIN."""

    NAME = PREFIX + "fork_no_anon_vma_link"
    REVERTS = "dup_mmap does not link the child's vma into the anon_vma"
    FUNCTION, FILE, AREA = "anon_vma_link", "mm/rmap.c (called by dup_mmap)", "fork"

    def anon_vma_link(self, vma: Vma) -> KGen[None]:
        """anon_vma_link() made a no-op."""
        yield from ()

    def anon_vma_unlink(self, vma: Vma) -> KGen[None]:
        """anon_vma_unlink() in mm/rmap.c: list_del of a vma never linked corrupts the list
        (the child's list_head is a copy of its parent's): an oops, not a model crash."""
        anon_vma = vma.anon_vma
        self.bug_on(anon_vma is not None and vma not in anon_vma.vmas, "anon_vma_unlink",
                    "list_del of a vma that is not on its anon_vma list")
        yield from super().anon_vma_unlink(vma)


class ForkLinkAtHead(Mutant):
    """anon_vma_link() (fork's link) inserts the child's vma at the head of the anon_vma list
    while anon_vma_prepare and __anon_vma_link keep the tail: fix 1 applied to only two of the
    three insertions, enough to orphan a migration entry when fork races a migration."""

    NAME = PREFIX + "fork_link_at_head"
    REVERTS = "anon_vma_link (fork) inserts at the head of the anon_vma list"
    FUNCTION, FILE, AREA = "anon_vma_link", "mm/rmap.c", "fork"

    def anon_vma_link(self, vma: Vma) -> KGen[None]:
        """anon_vma_link() with list_add instead of list_add_tail."""
        yield from super().anon_vma_link(vma)
        anon_vma = vma.anon_vma
        if anon_vma is not None:
            anon_vma.vmas.remove(vma)
            anon_vma.vmas.insert(0, vma)
