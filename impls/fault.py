"""The user access behind a `fault` operation and the arch fault handler it traps into."""

from __future__ import annotations

from ptediff.core.program import SIGKILL, SIGSEGV, Result
from ptediff.impls.core import KernelCore
from ptediff.impls.memory import VM_FAULT_OOM
from ptediff.impls.pte import PresentPte
from ptediff.impls.sched import READ, Acquire, KGen, Preempt
from ptediff.impls.structs import VM_EXEC, VM_READ, VM_WRITE, Mm


class Fault(KernelCore):
    """User accesses and do_page_fault."""

    def user_access(self, mm: Mm, addr: int, write: bool, value: int) -> KGen[Result]:
        """A user load or store: the hardware retries it after every handled fault until the
        pte permits it. Each attempt is one atomic step that checks the pte."""
        while True:
            pte = mm.pte(addr)
            if isinstance(pte, PresentPte) and not pte.protnone and (pte.write or not write):
                page = self.pfn_to_page(pte.pfn)
                self.check_frame(page, pte.alloc, "user_access", "the pte of a user access")
                table = self.pte_alloc(mm, addr)
                table.ptes[addr] = pte.mkyoung().mkdirty() if write else pte.mkyoung()
                if write:
                    page.data = value
                    return 0
                return page.data
            handled = yield from self.do_page_fault(mm, addr, write)
            if handled is not True:
                return handled
            yield Preempt("user_access")

    def do_page_fault(self, mm: Mm, addr: int, write: bool) -> KGen[bool | str]:
        """do_page_fault() in arch/i386/mm/fault.c: True when handled, else the signal the
        task gets: SIGSEGV for a bad access, SIGKILL when the fault is VM_FAULT_OOM (the
        out_of_memory path kills a task that is not init)."""
        yield Acquire("do_page_fault", mm.mmap_sem, READ)
        vma = mm.vma_at(addr)
        allowed = vma is not None and bool(
            vma.flags & VM_WRITE if write else vma.flags & (VM_READ | VM_EXEC)
        )
        if vma is None or not allowed:
            self.unlock(mm.mmap_sem, READ)
            return SIGSEGV
        rc = yield from self.handle_mm_fault(mm, vma, addr, write)
        self.unlock(mm.mmap_sem, READ)
        return SIGKILL if rc == VM_FAULT_OOM else True
