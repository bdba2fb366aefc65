"""swapoff(2): sys_swapoff and try_to_unuse of mm/swapfile.c at 0697212a (2.6.17).

sys_swapoff finds the area on swap_list (an area is named by its swap type here, not by its
path: a type with no active area is -EINVAL, as a path that is no active swap area is), takes
it off the list and clears SWP_WRITEOK under swap_lock, so no slot is allocated from it any
more, then calls try_to_unuse. That walks the area's slots in use; for each it gets the page
(the swap-cache page, or a new one read from the slot: read_swap_cache_async), locks it, and
looks for the slot's swap ptes in every mm on init_mm's mmlist, under that mm's mmap_sem for
read (unuse_mm: a trylock, else the page lock is dropped while it waits) and the pte lock
(unuse_pte_range), putting the page back read-only (unuse_pte). unuse_pte_range compares each
pte with the plain swap pte of this slot: a migration entry (type SWP_MIGRATION_READ/WRITE,
above every real area) never matches and is left alone. Then the page leaves the swap cache,
even if a swap pte of the slot was missed (written to the slot first if dirty): the next pass
of find_next_to_unuse reads the slot again into a new page. On an error the area goes back on
swap_list with SWP_WRITEOK, as it was; on success its swap_info[] entry is cleared and its
type free for the next swapon (sys_swapon takes the lowest free type).

Not modelled: the vm_enough_memory accounting (-ENOMEM never happens: the models have no
memory limit), shmem_unuse (no shmem), writeback waits (swap_writepage is synchronous), and the
mm_users reference try_to_unuse holds on the mm it visits (the models' exit tears the address
space down in the exiting task; try_to_unuse then skips the mm, as it skips an mm whose
mm_users is already 0).
"""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.impls.core import PteHandle
from ptediff.impls.memory import mk_pte
from ptediff.impls.pte import PAGE_SIZE, SwapPte
from ptediff.impls.sched import READ, Acquire, KGen, Preempt, TryAcquire
from ptediff.impls.structs import (
    PMD_SPAN,
    SWAP_MAP_BAD,
    SWAP_MAP_MAX,
    SWP_ACTIVE,
    SWP_WRITEOK,
    Mm,
    Page,
    SwapInfo,
    Vma,
    pmd_index,
)
from ptediff.impls.swapfile import Swapfile

EINTR = 4  # try_to_unuse's error when a signal ends it
# Full passes over the area's slots in which no swap count went down, after which the model
# takes try_to_unuse as spinning for ever: it records the livelock and ends it as the signal
# an administrator would send does (-EINTR).
STUCK_PASSES = 3


class Swapoff(Swapfile):
    """swapoff(2) and the mmlist it walks."""

    def sys_swapoff(self, type_: int) -> KGen[int]:
        """sys_swapoff() in mm/swapfile.c: unlink the area, try_to_unuse, free or re-insert."""
        yield from ()
        swap = self.swap
        prev = -1
        found = swap.head
        p: SwapInfo | None = None
        while found >= 0:  # under swap_lock: nothing below yields until try_to_unuse
            p = self.swap_info_at(found)
            assert p is not None
            if p.flags & SWP_ACTIVE == SWP_ACTIVE and found == type_:
                break
            prev = found
            found = p.next
        if found < 0 or p is None:
            return -ERRNO["EINVAL"]
        if prev < 0:
            swap.head = p.next
        else:
            before = self.swap_info_at(prev)
            assert before is not None
            before.next = p.next
        if type_ == swap.next:
            swap.next = swap.head
        swap.nr_swap_pages -= p.pages
        swap.total_swap_pages -= p.pages
        p.flags &= ~SWP_WRITEOK
        err = yield from self.try_to_unuse(type_)
        if err:
            self.swap_list_insert(p)  # the same walk by priority as sys_swapon's
            swap.nr_swap_pages += p.pages
            swap.total_swap_pages += p.pages
            p.flags |= SWP_WRITEOK
            return err
        self.drain_mmlist()
        p.highest_bit = 0
        p.swap_map = []
        p.data = {}
        p.flags = 0
        return 0

    def find_next_to_unuse(self, si: SwapInfo, prev: int) -> int:
        """find_next_to_unuse() in mm/swapfile.c: the next slot in use after prev, wrapping
        round once to the start; 0 when none is left."""
        max_ = si.max
        i = prev
        while True:
            i += 1
            if i >= max_:
                if not prev:
                    return 0
                max_ = prev + 1
                prev = 0
                i = 1
            count = si.swap_map[i]
            if count and count != SWAP_MAP_BAD:
                return i

    def try_to_unuse(self, type_: int) -> KGen[int]:
        """try_to_unuse() in mm/swapfile.c: every slot of the area back in memory."""
        si = self.swap_info_at(type_)
        assert si is not None
        start_mm: Mm | None = None  # None is init_mm, the head of the mmlist
        i = 0
        stuck = Stuck(si)
        while True:
            i = self.find_next_to_unuse(si, i)
            if not i:
                return 0
            if stuck.spinning(i):
                self.report_bug(
                    "try_to_unuse",
                    f"livelock: swap type {type_} still has entries in use that no mm on "
                    "init_mm's mmlist holds; swapoff loops until a signal",
                    kind="livelock",
                )
                return -EINTR
            entry = self.enc.swp_entry(type_, i)
            page = self.read_swap_cache_async(entry)
            if page is None:
                if not si.swap_map[i]:
                    continue
                return -ERRNO["ENOMEM"]
            if start_mm is not None and (start_mm not in self.mms
                                         or start_mm.mmlist is not self.init_mmlist):
                start_mm = None  # it looks like exiting (mm_users == 1): drop it
            yield from self.lock_page(page, "try_to_unuse")  # after wait_on_page_locked
            swcount = si.swap_map[i]
            if swcount > 1 and start_mm is not None:
                yield from self.unuse_mm(start_mm, entry, page)
            if si.swap_map[i] > 1:
                start_mm = yield from self.unuse_mmlist(si, i, entry, page, start_mm, swcount)
            if si.swap_map[i] == SWAP_MAP_MAX:
                si.swap_map[i] = 1  # the overflow reset, under swap_lock
            if si.swap_map[i] > 1 and page.dirty and page.swapcache:
                self.swap_writepage(page)  # unlocks the page when the write is done
                self.unlock_page(page)
                yield from self.lock_page(page, "try_to_unuse")
            if page.swapcache:
                self.delete_from_swap_cache(page)
            page.dirty = True
            self.unlock_page(page)
            self.put_page(page, "try_to_unuse")
            yield Preempt("try_to_unuse")  # cond_resched

    def unuse_mmlist(
        self, si: SwapInfo, i: int, entry: int, page: Page, start_mm: Mm | None, swcount: int
    ) -> KGen[Mm | None]:
        """The mmlist walk of try_to_unuse() in mm/swapfile.c: from start_mm round init_mm's
        mmlist while the slot still has swap ptes; returns the next start_mm (the first mm
        whose unuse lowered the count)."""
        set_start_mm = si.swap_map[i] >= swcount
        new_start_mm = start_mm
        mm = start_mm
        while si.swap_map[i] > 1:
            ring = self.init_mmlist
            if mm not in ring:
                break  # the mm we stood on left the list (its exit): end this pass
            mm = ring[(ring.index(mm) + 1) % len(ring)]
            if mm is start_mm:
                break
            if mm is not None and mm not in self.mms:
                continue  # mm_users already 0: exiting
            yield Preempt("try_to_unuse")  # mmlist_lock dropped, cond_resched
            swcount = si.swap_map[i]
            if swcount <= 1:
                pass
            elif mm is None:
                set_start_mm = True  # init_mm: shmem_unuse, and there is no shmem here
            else:
                yield from self.unuse_mm(mm, entry, page)
            if set_start_mm and si.swap_map[i] < swcount:
                new_start_mm = mm
                set_start_mm = False
        return new_start_mm

    def unuse_mm(self, mm: Mm, entry: int, page: Page) -> KGen[None]:
        """unuse_mm() in mm/swapfile.c: mmap_sem for read (the page unlocked while waiting for
        it), then the first vma with an anon_vma that holds the entry."""
        got = yield TryAcquire("unuse_mm", mm.mmap_sem, READ)
        if not got:
            self.unlock_page(page)  # after activate_page
            yield Acquire("unuse_mm", mm.mmap_sem, READ)
            yield from self.lock_page(page, "unuse_mm")
        for vma in list(mm.vmas):
            if vma.anon_vma is not None and (yield from self.unuse_vma(vma, entry, page)):
                break
        self.unlock(mm.mmap_sem, READ)

    def unuse_vma(self, vma: Vma, entry: int, page: Page) -> KGen[bool]:
        """unuse_vma() in mm/swapfile.c: only the page's own address when page->mapping is set
        (an anon page, mapped before), else the whole vma; one page table at a time (the pgd,
        pud and pmd levels of unuse_pud_range/unuse_pmd_range skip absent tables)."""
        if page.anon:
            addr = self.page_address_in_vma(page, vma)  # type: ignore[attr-defined]
            if addr is None:
                return False
            end = addr + PAGE_SIZE
        else:
            addr, end = vma.start, vma.end
        while addr < end:
            boundary = min((pmd_index(addr) + 1) * PMD_SPAN, end)
            if pmd_index(addr) in vma.mm.page_tables and (
                yield from self.unuse_pte_range(vma, addr, boundary, entry, page)
            ):
                return True
            addr = boundary
        return False

    def unuse_pte_range(
        self, vma: Vma, start: int, end: int, entry: int, page: Page
    ) -> KGen[bool]:
        """unuse_pte_range() in mm/swapfile.c: under the pte lock, the first pte equal to the
        slot's swap pte (a migration entry never is) gets the page."""
        mapped = yield from self.pte_offset_map_lock(vma.mm, start, "unuse_pte_range")
        assert mapped is not None
        first, ptl = mapped
        found = False
        for addr in range(start, end, PAGE_SIZE):
            ptep = PteHandle(first.table, addr, "unuse_pte_range")
            pte = ptep.get()
            if isinstance(pte, SwapPte) and pte.val == entry:
                self.unuse_pte(vma, ptep, addr, entry, page)
                found = True
                break
        self.pte_unmap_unlock(first, ptl)
        return found

    def unuse_pte(self, vma: Vma, ptep: PteHandle, addr: int, entry: int, page: Page) -> None:
        """unuse_pte() in mm/swapfile.c: map the page old and with vm_page_prot (never
        writable in a private vma: a write goes through do_wp_page), drop the swap count."""
        vma.mm.anon_rss += 1
        self.get_page(page)
        ptep.set(mk_pte(page, vma).mkold())
        self.page_add_anon_rmap(page, vma, addr)  # type: ignore[attr-defined]
        self.swap_free(entry)

    def drain_mmlist(self) -> None:
        """drain_mmlist() in mm/swapfile.c: once no area has a slot in use, empty init_mm's
        mmlist (mms on a list of their own stay on it)."""
        for type_ in range(self.swap.nr_swapfiles):
            info = self.swap_info_at(type_)
            if info is not None and info.inuse_pages:
                return
        for mm in self.init_mmlist[1:]:
            assert mm is not None
            mm.mmlist = None
        self.init_mmlist[1:] = []


class Stuck:
    """How try_to_unuse's passes go: a pass that lowers no swap count of the area is stuck."""

    def __init__(self, si: SwapInfo) -> None:
        self.si = si
        self.first = 0  # the slot the current pass started at
        self.seen: list[int] = []
        self.passes = 0

    def spinning(self, i: int) -> bool:
        """Called with each slot try_to_unuse takes: True after STUCK_PASSES stuck passes."""
        snapshot = list(self.si.swap_map)
        if self.first and i <= self.first:  # wrapped round: a pass is complete
            self.passes = self.passes + 1 if snapshot == self.seen else 0
            self.first = 0
        if not self.first:
            self.first = i
            self.seen = snapshot
        return self.passes >= STUCK_PASSES
