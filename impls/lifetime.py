"""Object lifetimes: the page allocator's free frames, the anon_vma slab cache, RCU grace
periods, and ptediff's KASAN — reports of a freed object being used.

* **Pages.** struct page exists for every pfn for ever (mem_map), so a `Page` object is never
  thrown away: freeing one puts its pfn on its node's free list and the next allocation on that
  node takes the most recently freed frame first, as the per-cpu hot list does
  (free_hot_cold_page / buffered_rmqueue in mm/page_alloc.c). Each allocation gets a fresh
  `alloc_id`, and every pte built for the page records it, so a stale pte or migration entry
  that meets a frame with a new owner is told apart from the owner's own ptes.
* **anon_vma.** anon_vma_cachep is SLAB_DESTROY_BY_RCU (anon_vma_init in mm/rmap.c): a freed
  anon_vma stays an anon_vma (type-stable) and may be handed out again at once by
  anon_vma_alloc; only when no RCU reader that might have seen it is left (a grace period) may
  its memory go back to the page allocator. Using a freed, not reused anon_vma after that
  grace period is a use-after-free.
* **RCU (classic, non-preemptible, 2.6.17).** A task is in a read-side section while it is
  inside rcu_read_lock() or holds a spinlock (spin_lock disables preemption, and a CPU that
  cannot schedule cannot pass a quiescent state). A grace period that starts when an object is
  freed ends once every task that was then in a read-side section has left it.

Detected misuse is reported as a `BugReport` of kind `use-after-free` (object `page` or
`anon_vma`) or `bad-page-state`, with the function and operation, and the run goes on, as a
KASAN report does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ptediff.core.outcome import BugReport
from ptediff.impls.sched import Mutex, Task
from ptediff.impls.structs import AnonVma, Page, Spinlock

if TYPE_CHECKING:
    from ptediff.impls.core import KernelCore

USE_AFTER_FREE = "use-after-free"
BAD_PAGE_STATE = "bad-page-state"


class Lifetime:
    """Allocation, freeing and misuse detection; mixed into KernelCore."""

    def init_lifetime(self: KernelCore) -> None:
        self.free_pfns: dict[int, list[int]] = {}  # node -> freed pfns, most recent last
        self._next_alloc_id = 1  # 0 is the ZERO_PAGE's and "unknown" (hand-built ptes)
        self.anon_vma_slab: list[AnonVma] = []  # freed anon_vmas, most recent last
        self.rcu_depth: dict[Task, int] = {}
        self.quiescent: dict[Task, int] = {}  # quiescent states each task has passed
        self.tasks: list[Task] = []  # every task seen running (for grace periods)
        self._reported: set[tuple[str, str, str, int | None]] = set()

    # -- reports -----------------------------------------------------------------------------

    def where(self: KernelCore) -> str:
        """The kernel function the running task last yielded in (for reports without one)."""
        task = self.current
        return task.wait.function if task is not None else "?"

    def report_memory_error(self: KernelCore, kind: str, obj: str, function: str,
                            reason: str) -> None:
        """A KASAN-style report: recorded once per place, the operation goes on."""
        op = self.current.op_id if self.current is not None else None
        key = (kind, obj, function, op)
        if key in self._reported:
            return
        self._reported.add(key)
        self.bugs.append(BugReport(function, reason, op, kind=kind, obj=obj))

    # -- RCU ---------------------------------------------------------------------------------

    def note_task(self: KernelCore, task: Task) -> None:
        if task not in self.quiescent:
            self.quiescent[task] = 0
            self.rcu_depth[task] = 0
            self.tasks.append(task)

    def in_read_side(self: KernelCore, task: Task) -> bool:
        """Whether the task is an RCU reader: inside rcu_read_lock(), or holding a spinlock."""
        if self.rcu_depth.get(task, 0):
            return True
        return any(isinstance(lock, Spinlock) for lock, _ in task.held)

    def rcu_read_lock(self: KernelCore) -> None:
        """rcu_read_lock() in include/linux/rcupdate.h."""
        task = self.current
        assert task is not None
        self.note_task(task)
        self.rcu_depth[task] += 1

    def rcu_read_unlock(self: KernelCore) -> None:
        """rcu_read_unlock() in include/linux/rcupdate.h."""
        task = self.current
        assert task is not None
        self.rcu_depth[task] -= 1
        self.maybe_quiescent(task)

    def maybe_quiescent(self: KernelCore, task: Task) -> None:
        if not self.in_read_side(task):
            self.note_task(task)
            self.quiescent[task] += 1

    def grace_period_start(self) -> dict[Task, int]:
        """The readers a grace period starting now must wait for."""
        return {t: self.quiescent[t] for t in self.tasks if self.in_read_side(t)}  # type: ignore[attr-defined]

    def grace_period_over(self: KernelCore, readers: dict[Task, int]) -> bool:
        return all(self.quiescent[t] > seen for t, seen in readers.items())

    # -- pages -------------------------------------------------------------------------------

    def alloc_page(self: KernelCore, node: int = 0, data: int = 0) -> Page:
        """alloc_page() in include/linux/gfp.h: the node's most recently freed frame first
        (the per-cpu hot list), else a frame never used before."""
        free = self.free_pfns.get(node)
        alloc_id = self._next_alloc_id
        self._next_alloc_id += 1
        if free:
            page = self.pages[free.pop()]
            page.refcount, page.mapcount, page.anon_vma, page.index = 1, 0, None, 0
            page.swapcache, page.private, page.dirty, page.data = False, 0, False, data
            page.freed, page.lru, page.alloc_id = False, False, alloc_id
            return page
        pfn = self._next_pfn
        self._next_pfn += 1
        page = Page(pfn, node, Mutex(f"PG_locked of pfn {pfn}"), data=data, alloc_id=alloc_id)
        self.pages[pfn] = page
        return page

    def get_page(self: KernelCore, page: Page, function: str | None = None) -> None:
        """get_page() in include/linux/mm.h."""
        if page.freed and not page.reserved:
            self.report_memory_error(
                USE_AFTER_FREE, "page", function or self.where(),
                f"get_page on pfn {page.pfn}, which is free",
            )
        page.refcount += 1

    def put_page(self: KernelCore, page: Page, function: str | None = None) -> None:
        """put_page() in mm/swap.c: the last reference frees the page (__page_cache_release
        takes it off the LRU first, then free_hot_cold_page)."""
        if page.reserved:
            page.refcount -= 1
            return
        if page.refcount <= 0:
            self.report_memory_error(
                USE_AFTER_FREE, "page", function or self.where(),
                f"put_page on pfn {page.pfn} with reference count {page.refcount}: "
                "the count goes below zero",
            )
            page.refcount -= 1
            return
        page.refcount -= 1
        if page.refcount == 0:
            page.lru = False
            self.free_hot_cold_page(page, function or self.where())

    def free_hot_cold_page(self: KernelCore, page: Page, function: str) -> None:
        """free_hot_cold_page() in mm/page_alloc.c: free_pages_check() first; a page in a bad
        state is reported by bad_page() and leaked, never handed out again."""
        page.anon_vma = None  # an anon page's mapping is cleared here, not by page_remove_rmap
        problems = []
        if page.mapcount:
            problems.append(f"mapcount {page.mapcount}")
        if page.locked:
            problems.append("PG_locked")
        if page.swapcache:
            problems.append("PG_swapcache")
        if problems:
            self.report_memory_error(
                BAD_PAGE_STATE, "page", function,
                f"Bad page state: pfn {page.pfn} freed with {', '.join(problems)}",
            )
            page.freed = True
            return
        page.freed = True
        self.free_pfns.setdefault(page.node, []).append(page.pfn)

    def check_frame(self: KernelCore, page: Page, alloc_id: int, function: str,
                    what: str) -> bool:
        """Whether a pte or migration entry made for allocation `alloc_id` still names the
        frame's current allocation; reports a use-after-free if not (0: unknown, trusted)."""
        if page.reserved or not alloc_id:
            return True
        if page.freed:
            self.report_memory_error(
                USE_AFTER_FREE, "page", function, f"{what} names pfn {page.pfn}, which is free"
            )
            return False
        if page.alloc_id != alloc_id:
            self.report_memory_error(
                USE_AFTER_FREE, "page", function,
                f"{what} names pfn {page.pfn}, freed and reallocated since it was made",
            )
            return False
        return True

    # -- anon_vma ----------------------------------------------------------------------------

    def anon_vma_alloc(self: KernelCore) -> AnonVma:
        """anon_vma_alloc() in mm/rmap.c: kmem_cache_alloc takes the most recently freed
        object first; a SLAB_DESTROY_BY_RCU object may be reused before any grace period."""
        if self.anon_vma_slab:
            anon_vma = self.anon_vma_slab.pop()
            anon_vma.freed = False
            anon_vma.generation += 1
            anon_vma.readers = {}
            return anon_vma
        ident = self._next_anon_vma
        self._next_anon_vma += 1
        return AnonVma(ident, Spinlock(f"anon_vma#{ident}->lock"))

    def anon_vma_free(self: KernelCore, anon_vma: AnonVma) -> None:
        """anon_vma_free() in mm/rmap.c (kmem_cache_free): the grace period starts now."""
        anon_vma.freed = True
        anon_vma.readers = self.grace_period_start()
        self.anon_vma_slab.append(anon_vma)

    def check_anon_vma(self: KernelCore, anon_vma: AnonVma, function: str) -> None:
        """Report a use of a freed anon_vma whose memory may be gone (grace period over)."""
        if anon_vma.freed and self.grace_period_over(anon_vma.readers):
            self.report_memory_error(
                USE_AFTER_FREE, "anon_vma", function,
                f"anon_vma#{anon_vma.ident} used after anon_vma_free and an RCU grace period",
            )
