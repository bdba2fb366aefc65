"""The harness's view of one pte for `expect PROC ADDR STATE` (not a system call of 2006).

A state check looks at the page table the way /proc/PID/pagemap later did (pagemap_pte_range()
in fs/proc/task_mmu.c, 2.6.25): under the mm's mmap_sem for read and the pte lock. 2006 had no
such interface for anonymous memory, so the one choice made here is how a migration entry
reads: the check waits until the migration unlocks the page the entry names, as a fault would
(migration_entry_wait), and looks again, so it reports the pte migration leaves behind — the
spec's atomic migration has no transient state to compare a migration entry with. Unlike a
fault it takes no page reference while it waits: the harness must not change what the kernel
does (a reference would make the migration fail with -EAGAIN).
"""

from __future__ import annotations

from ptediff.core.program import Result, StateCheck, state_check_result
from ptediff.impls.core import KernelCore
from ptediff.impls.pte import PresentPte, SwapPte
from ptediff.impls.sched import READ, Acquire, KGen, WaitUnlocked
from ptediff.impls.structs import Mm


class Observe(KernelCore):
    """State checks."""

    def state_check(self, mm: Mm, check: StateCheck) -> KGen[Result]:
        """The harness reading one pte (pagemap_pte_range() in fs/proc/task_mmu.c, 2.6.25)."""
        while True:
            yield Acquire("state_check", mm.mmap_sem, READ)
            mapped = yield from self.pte_offset_map_lock(mm, check.addr, "state_check")
            if mapped is None:
                self.unlock(mm.mmap_sem, READ)
                return state_check_result(check, "none")
            ptep, ptl = mapped
            pte = ptep.get()
            self.pte_unmap_unlock(ptep, ptl)
            self.unlock(mm.mmap_sem, READ)
            if isinstance(pte, PresentPte):
                return state_check_result(check, "present", pte.write)
            if pte is None:
                return state_check_result(check, "none")
            assert isinstance(pte, SwapPte)
            if not self.enc.is_migration_entry(pte.val):
                return state_check_result(check, "swap")
            page = self.migration_entry_to_page(pte.val)  # type: ignore[attr-defined]
            yield WaitUnlocked("state_check", page.lock)
