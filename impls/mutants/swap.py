"""Mutants in mm/swapfile.c and mm/swap_state.c."""

from __future__ import annotations

from ptediff.impls.mutants.base import PREFIX, Mutant
from ptediff.impls.pte import SwapPte
from ptediff.impls.sched import KGen
from ptediff.impls.structs import Mm, Page, Vma


class SwaponOffByOne(Mutant):
    """sys_swapon() bounds the new type with `type > MAX_SWAPFILES` instead of `>=` (fix 4
    written with an off-by-one): one more area than swap_info[] holds is accepted, with the
    type of a READ migration entry."""

    NAME = PREFIX + "swapon_off_by_one"
    REVERTS = "sys_swapon accepts type == MAX_SWAPFILES"
    FUNCTION, FILE, AREA = "sys_swapon", "mm/swapfile.c", "swap"

    def swap_type_out_of_range(self, type_: int) -> bool:
        """The type bound of sys_swapon() with > for >=."""
        return type_ > self.enc.max_swapfiles


class ShareIgnoresSwapCount(Mutant):
    """can_share_swap_page() counts only the mapcount and forgets the other swap ptes that
    still refer to the page's slot (page_swapcount dropped): after fork and swap-out, the
    first process to swap the page in and write it reuses the swap-cache page the other
    process will read back."""

    NAME = PREFIX + "share_ignores_swap_count"
    REVERTS = "can_share_swap_page ignores the swap count"
    FUNCTION, FILE, AREA = "can_share_swap_page", "mm/swapfile.c", "swap"

    def page_swapcount(self, page: Page) -> int:
        """page_swapcount() as seen by can_share_swap_page: always 0."""
        return 0


class ShareRawMapcount(Mutant):
    """can_share_swap_page() reads the raw, -1-based _mapcount instead of page_mapcount(): a
    page mapped twice looks exclusive and a write after fork reuses it in place."""

    NAME = PREFIX + "share_raw_mapcount"
    REVERTS = "can_share_swap_page uses the -1-based _mapcount"
    FUNCTION, FILE, AREA = "can_share_swap_page", "mm/swapfile.c", "swap"

    def can_share_swap_page(self, page: Page) -> bool:
        """can_share_swap_page() counting from the raw _mapcount."""
        self.bug_on(not page.locked, "can_share_swap_page", f"page pfn {page.pfn} not locked")
        count = page.mapcount - 1
        if count <= 1 and page.swapcache:
            count += self.page_swapcount(page)
        return count == 1


class ExclusiveIgnoresCount(Mutant):
    """remove_exclusive_swap_page() frees the swap slot without checking that the swap-cache
    page is its only user (the swap_map == 1 test dropped): another process's swap pte is
    left pointing at a freed slot, and its next fault finds nothing to read."""

    NAME = PREFIX + "exclusive_ignores_count"
    REVERTS = "remove_exclusive_swap_page does not check the slot's swap count"
    FUNCTION, FILE, AREA = "remove_exclusive_swap_page", "mm/swapfile.c", "swap"

    def remove_exclusive_swap_page(self, page: Page) -> bool:
        """remove_exclusive_swap_page() that takes any swap count for 1."""
        self.bug_on(not page.locked, "remove_exclusive_swap_page", "page not locked")
        if not page.swapcache or page.refcount != 2:
            return False
        entry = page.private
        self._delete_from_swap_cache(page)
        page.dirty = True
        self.swap_free(entry)
        self.put_page(page)
        return True


class SwapinNoSwapFree(Mutant):
    """do_swap_page() maps the page but forgets swap_free(entry): the slot keeps the pte's
    count forever, so swap fills up and later reclaim finds no slot."""

    NAME = PREFIX + "swapin_no_swap_free"
    REVERTS = "do_swap_page does not drop the swap count of the entry it replaced"
    FUNCTION, FILE, AREA = "do_swap_page", "mm/memory.c", "swap"

    _in_swapin = False

    def do_swap_page(
        self, mm: Mm, vma: Vma, addr: int, orig: SwapPte, write: bool
    ) -> KGen[None]:
        """do_swap_page() during which swap_free() does nothing."""
        self._in_swapin = True
        try:
            yield from super().do_swap_page(mm, vma, addr, orig, write)
        finally:
            self._in_swapin = False

    def swap_free(self, entry: int) -> None:
        """swap_free() in mm/swapfile.c, skipped when do_swap_page calls it."""
        if not self._in_swapin:
            super().swap_free(entry)


class DuplicateCountsMigration(Mutant):
    """swap_duplicate() has no is_migration_entry() shortcut."""

    NAME = PREFIX + "duplicate_counts_migration"
    REVERTS = "swap_duplicate does not skip migration entries"
    FUNCTION, FILE, AREA = "swap_duplicate", "mm/swapfile.c", "swap"
    EQUIVALENT = (
        "a migration entry's type is MAX_SWAPFILES or above while nr_swapfiles never exceeds "
        "MAX_SWAPFILES (fix 4), so the general path rejects it as a bad entry and changes nothing"
    )

    def swap_duplicate(self, entry: int) -> int:
        """swap_duplicate() without the migration-entry test: the general path's type check."""
        bad = self.enc.swp_type(entry) >= self.swap.nr_swapfiles
        if self.enc.is_migration_entry(entry) and bad:
            return 0  # "Bad swap file entry"
        return super().swap_duplicate(entry)


class FreeSwapCountsMigration(Mutant):
    """free_swap_and_cache() has no is_migration_entry() shortcut."""

    NAME = PREFIX + "free_swap_counts_migration"
    REVERTS = "free_swap_and_cache does not skip migration entries"
    FUNCTION, FILE, AREA = "free_swap_and_cache", "mm/swapfile.c", "swap"
    EQUIVALENT = (
        "swap_info_get() rejects a migration entry (type >= nr_swapfiles, fix 4), so the "
        "general path frees nothing: the same as the shortcut"
    )

    def free_swap_and_cache(self, entry: int) -> KGen[None]:
        """free_swap_and_cache() without the migration-entry test: swap_info_get() decides."""
        if self.enc.is_migration_entry(entry):
            si = self.swap_info_get(entry)
            if si is not None:
                self.swap_entry_free(si, self.enc.swp_offset(entry))
            return
        yield from super().free_swap_and_cache(entry)
