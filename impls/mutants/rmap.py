"""Mutants in mm/rmap.c and the migration-entry helpers of include/linux/swapops.h."""

from __future__ import annotations

from ptediff.impls.mutants.base import PREFIX, Mutant
from ptediff.impls.rmap import SWAP_FAIL
from ptediff.impls.sched import KGen
from ptediff.impls.structs import AnonVma, Page, Vma


class UnmapStopsEarly(Mutant):
    """try_to_unmap_anon() stops its walk once the mapcount is down to one instead of zero (an
    off-by-one in the "page no longer mapped" test): one pte of a shared page stays mapped and
    migration gives up with -EAGAIN."""

    NAME = PREFIX + "unmap_stops_early"
    REVERTS = "try_to_unmap_anon stops while one pte still maps the page"
    FUNCTION, FILE, AREA = "try_to_unmap_anon", "mm/rmap.c", "rmap"

    def try_to_unmap_anon_stops(self, page: Page, ret: int) -> bool:
        """try_to_unmap_anon() in mm/rmap.c, its stop test off by one: mapcount <= 1."""
        return ret == SWAP_FAIL or page.mapcount <= 1


class UnmapDropsDirty(Mutant):
    """try_to_unmap_one() clears the pte without moving its dirty bit to the page
    (set_page_dirty dropped): reclaim of a swap-cache page written since it was read in frees
    it without writing it back, and the next swap-in reads stale data."""

    NAME = PREFIX + "unmap_drops_dirty"
    REVERTS = "try_to_unmap_one does not transfer the pte's dirty bit to the page"
    FUNCTION, FILE, AREA = "try_to_unmap_one", "mm/rmap.c", "rmap"

    def try_to_unmap_one(
        self, page: Page, vma: Vma, migration: bool, ignore_references: bool = False
    ) -> KGen[int]:
        """try_to_unmap_one() that leaves page->flags' dirty bit as it was."""
        dirty = page.dirty
        ret = yield from super().try_to_unmap_one(page, vma, migration, ignore_references)
        page.dirty = dirty
        return ret


class SplitNoAnonVmaLink(Mutant):
    """split_vma() (through vma_adjust) does not __anon_vma_link() the new vma: its pages are
    invisible to the rmap walk, so migrating one of them cannot unmap it (-EAGAIN)."""

    NAME = PREFIX + "split_no_anon_vma_link"
    REVERTS = "split_vma does not link the new vma into the anon_vma"
    FUNCTION, FILE, AREA = "__anon_vma_link", "mm/rmap.c (called by vma_adjust)", "rmap"

    def _anon_vma_link(self, vma: Vma) -> None:
        """__anon_vma_link() made a no-op."""

    def anon_vma_unlink(self, vma: Vma) -> KGen[None]:
        """anon_vma_unlink() in mm/rmap.c: list_del of a vma never linked corrupts the list
        (the new vma's list_head is a copy of the one it was split from): an oops, not a
        model crash."""
        anon_vma = vma.anon_vma
        self.bug_on(anon_vma is not None and vma not in anon_vma.vmas, "anon_vma_unlink",
                    "list_del of a vma that is not on its anon_vma list")
        yield from super().anon_vma_unlink(vma)


class PrepareAtHead(Mutant):
    """anon_vma_prepare() inserts the vma at the head of the anon_vma list (fix 1 missed in
    one of its three places)."""

    NAME = PREFIX + "prepare_at_head"
    REVERTS = "anon_vma_prepare inserts at the head of the anon_vma list"
    FUNCTION, FILE, AREA = "anon_vma_prepare", "mm/rmap.c", "rmap"
    EQUIVALENT = (
        "anon_vma_prepare only links into an anon_vma it has just allocated "
        "(find_mergeable_anon_vma is not modelled, so it never finds one): the list is empty "
        "and head = tail"
    )

    def anon_vma_prepare(self, vma: Vma) -> KGen[None]:
        """anon_vma_prepare() with list_add instead of list_add_tail."""
        had = vma.anon_vma
        yield from super().anon_vma_prepare(vma)
        anon_vma: AnonVma | None = vma.anon_vma
        if had is None and anon_vma is not None:
            anon_vma.vmas.remove(vma)
            anon_vma.vmas.insert(0, vma)


class EntryAlwaysRead(Mutant):
    """make_migration_entry() ignores its `write` argument and always builds a READ entry: a
    writable pte comes back read-only after migration (the swap-based path's behaviour, but
    not what the swapless series promises)."""

    NAME = PREFIX + "entry_always_read"
    REVERTS = "make_migration_entry always makes a READ entry"
    FUNCTION, FILE, AREA = "make_migration_entry", "include/linux/swapops.h", "rmap"

    def make_migration_entry(self, page: Page, write: int | bool) -> int:
        """make_migration_entry() with write forced to 0."""
        return super().make_migration_entry(page, False)


class EntryAlwaysWrite(Mutant):
    """make_migration_entry() tests the wrong thing and always builds a WRITE entry: a page
    shared read-only after fork comes back writable in both processes."""

    NAME = PREFIX + "entry_always_write"
    REVERTS = "make_migration_entry always makes a WRITE entry"
    FUNCTION, FILE, AREA = "make_migration_entry", "include/linux/swapops.h", "rmap"

    def make_migration_entry(self, page: Page, write: int | bool) -> int:
        """make_migration_entry() with write forced to 1."""
        return super().make_migration_entry(page, True)
