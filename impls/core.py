"""The machine state a kernel model runs on, and the primitives every kernel file uses:
page allocation and reference counts, lock helpers, pte mapping handles, bug reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from ptediff.core.outcome import BugReport
from ptediff.core.program import Config
from ptediff.impls.bugs import KernelBug
from ptediff.impls.lifetime import Lifetime
from ptediff.impls.pte import PresentPte, Pte, SwapEncoding
from ptediff.impls.sched import (
    EXCLUSIVE,
    Acquire,
    KGen,
    Lock,
    Mutex,
    RwSemaphore,
    Task,
    TryAcquire,
)
from ptediff.impls.structs import Mm, Page, PageTable, Spinlock, SwapInfo, pmd_index

ZERO_PFN = 0


@dataclass(eq=False)
class PteHandle:
    """What pte_offset_map() returns: a pointer to one pte, kmapped with CONFIG_HIGHPTE."""

    table: PageTable
    addr: int
    mapper: str  # kernel function that mapped it, for leak reports

    def get(self) -> Pte:
        return self.table.ptes.get(self.addr)

    def set(self, pte: Pte) -> None:
        if pte is None:
            self.table.ptes.pop(self.addr, None)
        else:
            self.table.ptes[self.addr] = pte


@dataclass
class SwapState:
    """swapfile.c's globals: swap_info[] (fixed size), nr_swapfiles, swap_list, counters."""

    slots: list[SwapInfo | None]
    overflow: dict[int, SwapInfo] = field(default_factory=dict)  # written past swap_info[]
    nr_swapfiles: int = 0
    head: int = -1
    next: int = -1
    nr_swap_pages: int = 0
    total_swap_pages: int = 0
    least_priority: int = 0
    cache: dict[int, Page] = field(default_factory=dict)  # swapper_space: entry -> page


class KernelCore(Lifetime):
    """State and primitives shared by every kernel file's functions."""

    NAME: ClassVar[str] = "postfix"
    REVERTS: ClassVar[str] = ""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.enc = SwapEncoding(config.swap_bits)
        self.zero_page = Page(ZERO_PFN, 0, Mutex(f"PG_locked of pfn {ZERO_PFN}"), reserved=True)
        self.pages: dict[int, Page] = {ZERO_PFN: self.zero_page}
        self._next_pfn = ZERO_PFN + 1
        self._next_anon_vma = 1
        self.procs: dict[str, Mm] = {}  # live processes by name
        self.mms: list[Mm] = []  # every mm not yet torn down (a BUG can leave one half-built)
        self.swap = SwapState(slots=[None] * self.enc.max_swapfiles)
        # init_mm.mmlist: None stands for init_mm, the head; the mms after it in list order
        self.init_mmlist: list[Mm | None] = [None]
        self._current: Task | None = None
        self.bugs: list[BugReport] = []
        self.page_unlock_hook: Callable[[Page], None] | None = None
        self.init_lifetime()

    @property
    def current(self) -> Task | None:
        """The task running now (set by the scheduler around every step)."""
        return self._current

    @current.setter
    def current(self, task: Task | None) -> None:
        if task is not None:
            self.note_task(task)
        self._current = task

    # -- processes ---------------------------------------------------------------------------

    def new_mm(self, name: str) -> Mm:
        mm = Mm(name, RwSemaphore(f"mmap_sem of {name}"), Spinlock(f"page_table_lock of {name}"))
        self.mms.append(mm)
        return mm

    def mmlist_add(self, mm: Mm, head: Mm | None) -> None:
        """The mmlist insertion of try_to_unmap_one() in mm/rmap.c (head: init_mm, None) and
        copy_one_pte() in mm/memory.c (head: the parent), under mmlist_lock: list_add(&mm->mmlist,
        &head->mmlist) if mm's list is empty. A head whose own list is empty (a parent that
        never had a swap entry on the list) is linked with mm into a ring of their own, which
        swapoff's walk from init_mm never reaches."""
        if mm.mmlist is not None:
            return
        ring = self.init_mmlist if head is None else head.mmlist
        if ring is None:
            assert head is not None
            ring = head.mmlist = [head]
        ring.insert(ring.index(head) + 1, mm)
        mm.mmlist = ring

    def mmlist_del(self, mm: Mm) -> None:
        """The list_del(&mm->mmlist) of mmput() in kernel/fork.c: a ring left with one mm (not
        init_mm) is that mm's own empty list again."""
        ring = mm.mmlist
        if ring is None:
            return
        ring.remove(mm)
        mm.mmlist = None
        if len(ring) == 1 and ring[0] is not None:
            ring[0].mmlist = None

    # -- bugs --------------------------------------------------------------------------------

    def report_bug(self, function: str, reason: str, kind: str = "corruption") -> None:
        """Corruption the kernel would not stop at: recorded, the operation goes on."""
        op = self.current.op_id if self.current is not None else None
        self.bugs.append(BugReport(function, reason, op, kind=kind))

    @staticmethod
    def bug_on(condition: bool, function: str, reason: str) -> None:
        if condition:
            raise KernelBug(function, reason)

    # -- locks -------------------------------------------------------------------------------

    def unlock(self, lock: Lock, mode: str = EXCLUSIVE) -> None:
        assert self.current is not None
        self.current.release(lock, mode)
        self.maybe_quiescent(self.current)

    def lock_page(self, page: Page, function: str) -> KGen[None]:
        """lock_page() in mm/filemap.c: sleeps until PG_locked is ours."""
        yield Acquire(function, page.lock)

    def trylock_page(self, page: Page, function: str) -> KGen[bool]:
        """TestSetPageLocked() in include/linux/page-flags.h: take PG_locked if free, never wait."""
        got = yield TryAcquire(function, page.lock)
        return bool(got)

    def unlock_page(self, page: Page) -> None:
        """unlock_page() in mm/filemap.c."""
        self.unlock(page.lock)
        if self.page_unlock_hook is not None:
            self.page_unlock_hook(page)

    # -- pages -------------------------------------------------------------------------------

    def pfn_to_page(self, pfn: int) -> Page:
        """pfn_to_page() in include/asm-generic/memory_model.h: a never-allocated pfn is a free,
        unlocked frame."""
        page = self.pages.get(pfn)
        if page is None:
            page = Page(pfn, 0, Mutex(f"PG_locked of pfn {pfn}"), refcount=0, freed=True)
            self.pages[pfn] = page
        return page

    def vm_normal_page(self, pte: Pte, function: str | None = None) -> Page | None:
        """vm_normal_page() in mm/memory.c: every present pte maps a struct page here. A pte
        whose frame was freed (or reallocated) since it was made is reported."""
        if not isinstance(pte, PresentPte):
            return None
        page = self.pfn_to_page(pte.pfn)
        self.check_frame(page, pte.alloc, function or self.where(), "a present pte")
        return page

    # -- page tables -------------------------------------------------------------------------

    def pte_alloc(self, mm: Mm, addr: int) -> PageTable:
        """__pte_alloc() in mm/memory.c: the page-table page under addr, allocated if absent."""
        index = pmd_index(addr)
        table = mm.page_tables.get(index)
        if table is None:
            table = PageTable(mm, index, Spinlock(f"ptl of {mm.name} pmd {index}"))
            mm.page_tables[index] = table
        return table

    def pte_offset_map(self, mm: Mm, addr: int, function: str) -> PteHandle | None:
        """pte_offset_map() in include/asm-i386/pgtable.h: None when the pmd is empty; kmaps
        the page-table page with CONFIG_HIGHPTE."""
        table = mm.page_tables.get(pmd_index(addr))
        if table is None:
            return None
        return self.map_pte(table, addr, function)

    def map_pte(self, table: PageTable, addr: int, function: str) -> PteHandle:
        handle = PteHandle(table, addr, function)
        if self.config.highpte and self.current is not None:
            self.current.kmaps.append(handle)
        return handle

    def pte_unmap(self, ptep: object) -> None:
        """pte_unmap() in include/asm-i386/pgtable.h: kunmap_atomic with highpte, else nothing.

        With highpte, an argument that is not a mapped pte pointer unmaps nothing: the real
        mapping stays behind, and the task's end-of-operation check reports it leaked.
        """
        if not self.config.highpte or self.current is None:
            return
        for i, handle in enumerate(self.current.kmaps):
            if handle is ptep:
                del self.current.kmaps[i]
                return

    def pte_offset_map_lock(
        self, mm: Mm, addr: int, function: str
    ) -> KGen[tuple[PteHandle, Mutex] | None]:
        """pte_offset_map_lock() in include/linux/mm.h: map the pte and take its table's ptl."""
        table = mm.page_tables.get(pmd_index(addr))
        if table is None:
            return None
        yield Acquire(function, table.ptl)
        return self.map_pte(table, addr, function), table.ptl

    def pte_alloc_map_lock(self, mm: Mm, addr: int, function: str) -> KGen[tuple[PteHandle, Mutex]]:
        """pte_alloc_map_lock() in include/linux/mm.h: allocate the table if needed, map, lock."""
        table = self.pte_alloc(mm, addr)
        yield Acquire(function, table.ptl)
        return self.map_pte(table, addr, function), table.ptl

    def pte_unmap_unlock(self, ptep: object, ptl: Mutex) -> None:
        """pte_unmap_unlock() in include/linux/mm.h: spin_unlock(ptl), then pte_unmap(ptep)."""
        self.unlock(ptl)
        self.pte_unmap(ptep)

    def check_leaked_pte_mappings(self, task: Task) -> None:
        """At the end of an operation, any pte kmap still held was leaked: the KM_PTE0 slot
        stays in use, and the next kmap_atomic of that slot trips CONFIG_DEBUG_HIGHMEM's
        check (kmap_atomic in arch/i386/mm/highmem.c)."""
        for handle in task.kmaps:
            self.report_bug(
                handle.mapper,
                f"leaked pte mapping: the kmap_atomic of {handle.table.ptl.name} "
                f"(pte at {handle.addr:#x}) was never released by pte_unmap",
                kind="kmap-leak",
            )
        task.kmaps.clear()

    # -- swap_info[] -------------------------------------------------------------------------

    def swap_info_at(self, type_: int) -> SwapInfo | None:
        """swap_info[type]; past the array's end it reads what sys_swapon wrote there."""
        if type_ < 0:
            return None
        if type_ < len(self.swap.slots):
            return self.swap.slots[type_]
        return self.swap.overflow.get(type_)
