"""mm/swapfile.c and mm/swap_state.c: swap areas, swap counts and the swap cache."""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.impls.core import KernelCore
from ptediff.impls.sched import KGen
from ptediff.impls.structs import (
    SWAP_MAP_BAD,
    SWAP_MAP_MAX,
    SWP_ACTIVE,
    SWP_USED,
    SWP_WRITEOK,
    Page,
    SwapInfo,
)

SWAPFILE_CLUSTER = 256


class Swapfile(KernelCore):
    """Swap areas and the swap cache."""

    # -- swapon ------------------------------------------------------------------------------

    def swap_type_out_of_range(self, type_: int) -> bool:
        """The bound sys_swapon() in mm/swapfile.c puts on the new area's type (fix 4).

        Since fix 4: type >= MAX_SWAPFILES, so the types reserved for migration entries
        (and the slots past swap_info[]'s end) can never be used.
        """
        return type_ >= self.enc.max_swapfiles

    def sys_swapon(self, nslots: int, prio: int | None) -> KGen[int]:
        """sys_swapon() in mm/swapfile.c: a fresh area with `nslots` usable slots (1..nslots)."""
        yield from ()
        swap = self.swap
        type_ = 0
        while type_ < swap.nr_swapfiles:
            info = self.swap_info_at(type_)
            if info is None or not info.flags & SWP_USED:
                break
            type_ += 1
        if self.swap_type_out_of_range(type_):
            return -ERRNO["EPERM"]
        if type_ >= swap.nr_swapfiles:
            swap.nr_swapfiles = type_ + 1
        info = SwapInfo(type_, flags=SWP_USED)
        self.install_swap_info(info)
        if prio is not None:
            info.prio = prio
        else:
            swap.least_priority -= 1
            info.prio = swap.least_priority
        if nslots < 1:
            info.flags = 0
            if prio is None:
                swap.least_priority += 1
            return -ERRNO["EINVAL"]
        info.swap_map = [SWAP_MAP_BAD] + [0] * nslots
        info.lowest_bit = 1
        info.highest_bit = nslots
        info.cluster_next = 1
        info.pages = nslots
        info.flags = SWP_ACTIVE
        swap.nr_swap_pages += nslots
        swap.total_swap_pages += nslots
        self.swap_list_insert(info)
        return 0

    def install_swap_info(self, info: SwapInfo) -> None:
        """The writes of sys_swapon() to swap_info[type]: past the array's end they corrupt
        memory."""
        if info.type < len(self.swap.slots):
            self.swap.slots[info.type] = info
            return
        self.report_bug(
            "sys_swapon",
            f"memory corruption: swap_info[{info.type}] written past the end of the "
            f"{len(self.swap.slots)}-entry swap_info[] array",
        )
        self.swap.overflow[info.type] = info

    def swap_list_insert(self, info: SwapInfo) -> None:
        """The swap_list insertion at the end of sys_swapon(): by priority, newest first."""
        swap = self.swap
        prev = -1
        i = swap.head
        while i >= 0:
            other = self.swap_info_at(i)
            assert other is not None
            if info.prio >= other.prio:
                break
            prev = i
            i = other.next
        info.next = i
        if prev < 0:
            swap.head = swap.next = info.type
        else:
            before = self.swap_info_at(prev)
            assert before is not None
            before.next = info.type

    # -- slots -------------------------------------------------------------------------------

    def scan_swap_map(self, si: SwapInfo) -> int:
        """scan_swap_map() in mm/swapfile.c: sequential from cluster_next, else lowest free."""
        if si.cluster_nr == 0:
            si.cluster_nr = SWAPFILE_CLUSTER - 1
            offset = si.lowest_bit  # areas in ptediff are smaller than one cluster
        else:
            si.cluster_nr -= 1
            offset = si.cluster_next
            if offset > si.highest_bit:
                offset = si.lowest_bit
        while True:
            if not si.flags & SWP_WRITEOK or not si.highest_bit:
                return 0
            if not si.swap_map[offset]:
                break
            free = next(
                (o for o in range(offset + 1, si.highest_bit + 1) if not si.swap_map[o]), None
            )
            offset = si.lowest_bit if free is None else free
        if offset == si.lowest_bit:
            si.lowest_bit += 1
        if offset == si.highest_bit:
            si.highest_bit -= 1
        si.inuse_pages += 1
        if si.inuse_pages == si.pages:
            si.lowest_bit = si.max
            si.highest_bit = 0
        si.swap_map[offset] = 1
        si.cluster_next = offset + 1
        return offset

    def get_swap_page(self) -> int:
        """get_swap_page() in mm/swapfile.c: round robin among areas of equal priority."""
        swap = self.swap
        if swap.nr_swap_pages <= 0:
            return 0
        swap.nr_swap_pages -= 1
        wrapped = 0
        type_ = swap.next
        while type_ >= 0 and wrapped < 2:
            si = self.swap_info_at(type_)
            assert si is not None
            nxt = si.next
            nxt_info = self.swap_info_at(nxt) if nxt >= 0 else None
            if nxt < 0 or (not wrapped and nxt_info is not None and si.prio != nxt_info.prio):
                nxt = swap.head
                wrapped += 1
            if si.highest_bit and si.flags & SWP_WRITEOK:
                swap.next = nxt
                offset = self.scan_swap_map(si)
                if offset:
                    return self.enc.swp_entry(type_, offset)
                nxt = swap.next
            type_ = nxt
        swap.nr_swap_pages += 1
        return 0

    def swap_info_get(self, entry: int) -> SwapInfo | None:
        """swap_info_get() in mm/swapfile.c: None for a bad or unused entry."""
        if not entry:
            return None
        type_ = self.enc.swp_type(entry)
        if type_ >= self.swap.nr_swapfiles:
            return None
        si = self.swap_info_at(type_)
        if si is None or not si.flags & SWP_USED:
            return None
        offset = self.enc.swp_offset(entry)
        if offset >= si.max or not si.swap_map[offset]:
            return None
        return si

    def swap_entry_free(self, si: SwapInfo, offset: int) -> int:
        """swap_entry_free() in mm/swapfile.c."""
        count = si.swap_map[offset]
        if count < SWAP_MAP_MAX:
            count -= 1
            si.swap_map[offset] = count
            if not count:
                si.lowest_bit = min(si.lowest_bit, offset)
                si.highest_bit = max(si.highest_bit, offset)
                nxt = self.swap.next
                current_next = self.swap_info_at(nxt) if nxt >= 0 else None
                if current_next is not None and si.prio > current_next.prio:
                    self.swap.next = si.type
                self.swap.nr_swap_pages += 1
                si.inuse_pages -= 1
        return count

    def swap_free(self, entry: int) -> None:
        """swap_free() in mm/swapfile.c."""
        si = self.swap_info_get(entry)
        if si is not None:
            self.swap_entry_free(si, self.enc.swp_offset(entry))

    def swap_duplicate(self, entry: int) -> int:
        """swap_duplicate() in mm/swapfile.c: migration entries are not counted."""
        if self.enc.is_migration_entry(entry):
            return 1
        type_ = self.enc.swp_type(entry)
        if type_ >= self.swap.nr_swapfiles:
            return 0  # "Bad swap file entry"
        si = self.swap_info_at(type_)
        offset = self.enc.swp_offset(entry)
        if si is None or offset >= si.max or not si.swap_map[offset]:
            return 0
        if si.swap_map[offset] < SWAP_MAP_MAX - 1:
            si.swap_map[offset] += 1
        else:
            si.swap_map[offset] = SWAP_MAP_MAX
        return 1

    def page_swapcount(self, page: Page) -> int:
        """page_swapcount() in mm/swapfile.c: swap references besides the swap cache's own."""
        si = self.swap_info_get(page.private)
        if si is None:
            return 0
        return si.swap_map[self.enc.swp_offset(page.private)] - 1

    def can_share_swap_page(self, page: Page) -> bool:
        """can_share_swap_page() in mm/swapfile.c."""
        self.bug_on(not page.locked, "can_share_swap_page", f"page pfn {page.pfn} not locked")
        count = page.mapcount
        if count <= 1 and page.swapcache:
            count += self.page_swapcount(page)
        return count == 1

    def vm_swap_full(self) -> bool:
        """vm_swap_full() in include/linux/swap.h: more than half of swap in use."""
        return self.swap.nr_swap_pages * 2 < self.swap.total_swap_pages

    def remove_exclusive_swap_page(self, page: Page) -> bool:
        """remove_exclusive_swap_page() in mm/swapfile.c."""
        self.bug_on(not page.locked, "remove_exclusive_swap_page", "page not locked")
        if not page.swapcache or page.refcount != 2:
            return False
        entry = page.private
        si = self.swap_info_get(entry)
        if si is None or si.swap_map[self.enc.swp_offset(entry)] != 1:
            return False
        self._delete_from_swap_cache(page)
        page.dirty = True
        self.swap_free(entry)
        self.put_page(page)
        return True

    def free_swap_and_cache(self, entry: int) -> KGen[None]:
        """free_swap_and_cache() in mm/swapfile.c: migration entries are skipped."""
        if self.enc.is_migration_entry(entry):
            return
        page = None
        si = self.swap_info_get(entry)
        if si is not None and self.swap_entry_free(si, self.enc.swp_offset(entry)) == 1:
            page = self.swap.cache.get(entry)
            if page is not None:
                self.get_page(page)
                got = yield from self.trylock_page(page, "free_swap_and_cache")
                if not got:
                    self.put_page(page)
                    page = None
        if page is None:
            return
        one_user = page.refcount == 2
        if page.swapcache and (one_user or self.vm_swap_full()):
            self.delete_from_swap_cache(page)
            page.dirty = True
        self.unlock_page(page)
        self.put_page(page)

    # -- swap cache (mm/swap_state.c) --------------------------------------------------------

    def add_to_swap_cache(self, page: Page, entry: int) -> None:
        """add_to_swap_cache() in mm/swap_state.c (with __add_to_swap_cache())."""
        self.get_page(page)
        page.swapcache = True
        page.private = entry
        self.swap.cache[entry] = page

    def _delete_from_swap_cache(self, page: Page) -> None:
        """__delete_from_swap_cache() in mm/swap_state.c."""
        del self.swap.cache[page.private]
        page.private = 0
        page.swapcache = False

    def delete_from_swap_cache(self, page: Page) -> None:
        """delete_from_swap_cache() in mm/swap_state.c."""
        entry = page.private
        self._delete_from_swap_cache(page)
        self.swap_free(entry)
        self.put_page(page)

    def add_to_swap(self, page: Page) -> bool:
        """add_to_swap() in mm/swap_state.c."""
        self.bug_on(not page.locked, "add_to_swap", f"page pfn {page.pfn} not locked")
        entry = self.get_swap_page()
        if not entry:
            return False
        self.add_to_swap_cache(page, entry)
        page.dirty = True
        return True

    def lookup_swap_cache(self, entry: int) -> Page | None:
        """lookup_swap_cache() in mm/swap_state.c: a referenced page, or None."""
        page = self.swap.cache.get(entry)
        if page is not None:
            self.get_page(page)
        return page

    def read_swap_cache_async(self, entry: int) -> Page | None:
        """read_swap_cache_async() in mm/swap_state.c: the swap-cache page (find_get_page), or
        the slot read into a new cached page."""
        cached = self.lookup_swap_cache(entry)
        if cached is not None:
            return cached
        if not self.swap_duplicate(entry):
            return None
        si = self.swap_info_at(self.enc.swp_type(entry))
        assert si is not None
        page = self.alloc_page(0, si.data.get(self.enc.swp_offset(entry), 0))
        self.get_page(page)
        page.lru = True  # lru_cache_add_active()
        page.swapcache = True
        page.private = entry
        self.swap.cache[entry] = page
        return page

    def swap_writepage(self, page: Page) -> None:
        """swap_writepage() in mm/page_io.c: written synchronously in this model."""
        si = self.swap_info_at(self.enc.swp_type(page.private))
        assert si is not None
        si.data[self.enc.swp_offset(page.private)] = page.data
        page.dirty = False
