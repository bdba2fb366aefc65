"""Mutants in mm/migrate.c (the completed swapless flow)."""

from __future__ import annotations

from ptediff.impls.memory import mk_pte
from ptediff.impls.mutants.base import PREFIX, Mutant
from ptediff.impls.pte import PresentPte
from ptediff.impls.sched import Acquire, KGen
from ptediff.impls.structs import VM_WRITE, Mm, Page, Vma


class FollowPageNoGet(Mutant):
    """do_move_pages() drops the reference follow_page(FOLL_GET) took before isolating the
    page: unmap_and_move then sees a page count of one, takes the page for freed under it and
    reports success without migrating anything; the reference it then drops is one too many
    (a bad page state when the page is freed while still mapped)."""

    NAME = PREFIX + "follow_page_no_get"
    REVERTS = "do_move_pages does not hold a reference on the page it migrates"
    FUNCTION, FILE, AREA = "do_move_pages", "mm/migrate.c", "migration"

    def follow_page_for_migration(self, mm: Mm, addr: int, node: int) -> KGen[Page | int]:
        """The lookup of do_move_pages() without the FOLL_GET reference."""
        found = yield from super().follow_page_for_migration(mm, addr, node)
        if isinstance(found, Page):
            self.put_page(found)
        return found


class CopyLosesData(Mutant):
    """migrate_page_copy() copies the page flags but not the contents (copy_highpage
    dropped): the process reads zeroes from a migrated page."""

    NAME = PREFIX + "copy_loses_data"
    REVERTS = "migrate_page_copy does not copy the page contents"
    FUNCTION, FILE, AREA = "migrate_page_copy", "mm/migrate.c", "migration"

    def migrate_page_copy(self, newpage: Page, page: Page) -> None:
        """migrate_page_copy() without copy_highpage()."""
        super().migrate_page_copy(newpage, page)
        newpage.data = 0


class CopyLosesDirty(Mutant):
    """migrate_page_copy() does not carry PG_dirty over to the new page: a swap-cache page
    written since it was read in becomes clean, reclaim drops it without writing it back, and
    the next swap-in reads the old contents."""

    NAME = PREFIX + "copy_loses_dirty"
    REVERTS = "migrate_page_copy does not move the dirty bit to the new page"
    FUNCTION, FILE, AREA = "migrate_page_copy", "mm/migrate.c", "migration"

    def migrate_page_copy(self, newpage: Page, page: Page) -> None:
        """migrate_page_copy() without the set_page_dirty(newpage)."""
        super().migrate_page_copy(newpage, page)
        newpage.dirty = False


class RestoreWalkReversed(Mutant):
    """remove_anon_migration_ptes() walks the anon_vma list from the tail (Christoph Lameter's
    alternative to fix 1, rejected): with tail insertion a forked child now comes *before* its
    parent in the walk, and fork racing the walk leaves an orphan entry in the child."""

    NAME = PREFIX + "restore_walk_reversed"
    REVERTS = "remove_anon_migration_ptes walks the anon_vma list in reverse"
    FUNCTION, FILE, AREA = "remove_anon_migration_ptes", "mm/migrate.c", "migration"

    def remove_anon_migration_ptes(self, old: Page, new: Page) -> KGen[None]:
        """remove_anon_migration_ptes() with list_for_each_entry_reverse."""
        anon_vma = new.anon_vma
        assert anon_vma is not None
        yield Acquire("remove_anon_migration_ptes", anon_vma.lock)
        for vma in reversed(list(anon_vma.vmas)):
            yield from self.remove_migration_pte(vma, old, new)
        self.unlock(anon_vma.lock)


class RestoreDropsWrite(Mutant):
    """remove_migration_pte() ignores is_write_migration_entry(): every restored pte is
    read-only, so a page that was writable before migration is not afterwards."""

    NAME = PREFIX + "restore_drops_write"
    REVERTS = "remove_migration_pte never restores the write bit"
    FUNCTION, FILE, AREA = "remove_migration_pte", "mm/migrate.c", "migration"

    def remove_migration_pte(self, vma: Vma, old: Page, new: Page) -> KGen[None]:
        """remove_migration_pte() followed by a write-protect of what it restored."""
        addr = self.page_address_in_vma(new, vma)
        yield from super().remove_migration_pte(vma, old, new)
        if addr is None:
            return
        pte = vma.mm.pte(addr)
        if isinstance(pte, PresentPte) and pte.pfn == new.pfn and pte.write:
            self.pte_alloc(vma.mm, addr).ptes[addr] = pte.wrprotect()


class RestoreMaybeMkwrite(Mutant):
    """remove_migration_pte() uses maybe_mkwrite (VM_WRITE checked) instead of pte_mkwrite."""

    NAME = PREFIX + "restore_maybe_mkwrite"
    REVERTS = "remove_migration_pte restores write only where the vma has VM_WRITE"
    FUNCTION, FILE, AREA = "remove_migration_pte", "mm/migrate.c", "migration"
    EQUIVALENT = (
        "a WRITE entry exists only in a vma that had VM_WRITE when it was made, and mprotect "
        "(the only way to drop VM_WRITE) downgrades WRITE entries to READ: the check never fails"
    )

    def remove_migration_pte(self, vma: Vma, old: Page, new: Page) -> KGen[None]:
        """remove_migration_pte() whose write restore checks VM_WRITE."""
        addr = self.page_address_in_vma(new, vma)
        yield from super().remove_migration_pte(vma, old, new)
        if addr is None or vma.flags & VM_WRITE:
            return
        pte = vma.mm.pte(addr)
        if isinstance(pte, PresentPte) and pte.pfn == new.pfn and pte.write:
            self.pte_alloc(vma.mm, addr).ptes[addr] = mk_pte(new, vma).mkold()


class NoRestoreOnFailure(Mutant):
    """unmap_and_move() skips remove_migration_ptes(page, page) when the move fails: the
    migration entries stay behind after the page is unlocked (the invariant the whole design
    depends on), and the next touch BUGs in migration_entry_to_page."""

    NAME = PREFIX + "no_restore_on_failure"
    REVERTS = "unmap_and_move leaves the migration entries in place when the move fails"
    FUNCTION, FILE, AREA = "unmap_and_move", "mm/migrate.c", "migration"

    def remove_migration_ptes(self, old: Page, new: Page) -> KGen[None]:
        """remove_migration_ptes(), a no-op for the failure path's (page, page) call."""
        if old is not new:
            yield from super().remove_migration_ptes(old, new)


class NewPageWrongNode(Mutant):
    """The new page of a migration is allocated on the local node (alloc_page instead of
    alloc_pages_node(node, ...)): move_pages reports success, but the page never moves."""

    NAME = PREFIX + "new_page_wrong_node"
    REVERTS = "unmap_and_move allocates the new page on node 0, not the target node"
    FUNCTION, FILE, AREA = "unmap_and_move", "mm/migrate.c (new_page_node)", "migration"

    def unmap_and_move(self, page: Page, node: int, force: bool) -> KGen[int]:
        """unmap_and_move() whose new page comes from node 0."""
        self._local_alloc = True
        try:
            return (yield from super().unmap_and_move(page, node, force))
        finally:
            self._local_alloc = False

    _local_alloc = False

    def alloc_page(self, node: int = 0, data: int = 0) -> Page:
        """alloc_page(): node 0 while unmap_and_move allocates."""
        return super().alloc_page(0 if self._local_alloc else node, data)
