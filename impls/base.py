"""`Kernel`: the post-fix model, one method per modelled kernel function.

The model follows the completed swapless migration series (kernel-notes §2.5) with the four
folded fixes of 0697212a applied. Variants (impls.variants) subclass it and override only the
functions a fix changed.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

from ptediff.core import program as ast
from ptediff.core.outcome import BugReport
from ptediff.core.program import BUG, Op, Result
from ptediff.impls.bugs import KernelBug
from ptediff.impls.fault import Fault
from ptediff.impls.fork import Fork
from ptediff.impls.gup import Gup
from ptediff.impls.madvise import Madvise
from ptediff.impls.memory import Memory
from ptediff.impls.migrate import Migrate
from ptediff.impls.mlock import Mlock
from ptediff.impls.mmap import Mmap
from ptediff.impls.mprotect import Mprotect
from ptediff.impls.mremap import Mremap
from ptediff.impls.observe import Observe
from ptediff.impls.pte import PAGE_SIZE
from ptediff.impls.rmap import Rmap
from ptediff.impls.sched import KGen, Preempt, Wait
from ptediff.impls.swapfile import Swapfile
from ptediff.impls.vmscan import Vmscan

ESRCH = 3  # an operation naming a process that does not exist (yet, or any more)

ENTRY: dict[type[Op], str] = {
    ast.Map: "do_mmap_pgoff",
    ast.Munmap: "sys_munmap",
    ast.Mprotect: "sys_mprotect",
    ast.Fault: "user_access",
    ast.Fork: "do_fork",
    ast.Exit: "do_exit",
    ast.Migrate: "sys_move_pages",
    ast.Swapon: "sys_swapon",
    ast.Pageout: "sys_madvise",
    ast.StateCheck: "state_check",
    ast.Madvise: "sys_madvise",
    ast.Pin: "get_user_pages",
    ast.Unpin: "page_cache_release",
    ast.Pinread: "pin_access",
    ast.Pinwrite: "pin_access",
    ast.Mlock: "sys_mlock",
    ast.Munlock: "sys_munlock",
    ast.Mremap: "sys_mremap",
}


def page_align(addr: int) -> int:
    """The page an address falls in: accesses and move_pages work on whole pages."""
    return addr & ~(PAGE_SIZE - 1)


def entry_function(op: Op) -> str:
    """The kernel function an operation starts in (for traces)."""
    return ENTRY[type(op)]


class Kernel(
    Memory, Rmap, Migrate, Mprotect, Mmap, Fork, Swapfile, Vmscan, Fault, Observe, Madvise, Gup,
    Mlock, Mremap,
):
    """The post-fix model of the kernel at 0697212a (completed swapless migration flow)."""

    NAME: ClassVar[str] = "postfix"
    REVERTS: ClassVar[str] = ""
    # Divergence classes of real latent bugs of the 2006 code, each kept as a regression file
    # (`expect postfix diverges ...`) with its kernel evidence in docs/semantics.md: a hunt
    # reports them as known latent findings, not as unexpected ones.
    LATENT: ClassVar[frozenset[str]] = frozenset({"use-after-free:anon_vma", "invariant:I8"})
    # What a BUG does to the task that hits it. False (the kernel's way): the oops kills the
    # task where it stands, every lock it holds stays held, and whoever waits for one of them
    # waits for ever (a deadlock in the outcome); the thread runs no further operation. True:
    # the model frees the dead task's locks and the thread goes on with its next operation,
    # to look past a first BUG (subclass Kernel with it set; see docs/semantics.md).
    BUG_RELEASES_LOCKS: ClassVar[bool] = False

    def run_op(self, op: Op) -> KGen[Result]:
        """The system call (or user access) behind one program operation."""
        if isinstance(op, ast.Swapon):
            return (yield from self.sys_swapon(op.nslots, op.prio))
        if isinstance(op, ast.Unpin):
            return (yield from self.pin_release(op))
        if isinstance(op, ast.Pinread | ast.Pinwrite):
            return (yield from self.pin_access(op))
        name = op.parent if isinstance(op, ast.Fork) else op.proc  # type: ignore[attr-defined]
        mm = self.procs.get(name)
        if mm is None:
            return -ESRCH
        if isinstance(op, ast.Map):
            return (yield from self.do_mmap(mm, op.addr, op.npages, op.prot))
        if isinstance(op, ast.Munmap):
            return (yield from self.do_munmap(mm, op.addr, op.npages))
        if isinstance(op, ast.Mprotect):
            return (yield from self.sys_mprotect(mm, op.addr, op.npages, op.prot))
        if isinstance(op, ast.Fault):
            return (yield from self.user_access(mm, page_align(op.addr), op.write, op.value))
        if isinstance(op, ast.Fork):
            return (yield from self.do_fork(mm, op.child))
        if isinstance(op, ast.Exit):
            return (yield from self.do_exit(op.proc, mm))
        if isinstance(op, ast.Migrate):
            return (yield from self.sys_move_pages(mm, page_align(op.addr), op.node, op.unlocked))
        if isinstance(op, ast.Pageout):
            return (yield from self.sys_madvise_pageout(mm, op.addr))
        if isinstance(op, ast.Pin):
            return (yield from self.sys_pin(mm, op))
        if isinstance(op, ast.Madvise):
            return (yield from self.sys_madvise(mm, op.addr, op.npages, op.advice))
        if isinstance(op, ast.Mlock):
            return (yield from self.sys_mlock(mm, op.addr, op.npages))
        if isinstance(op, ast.Munlock):
            return (yield from self.sys_munlock(mm, op.addr, op.npages))
        if isinstance(op, ast.Mremap):
            return (yield from self.sys_mremap(mm, op.addr, op.npages, op.new))
        if isinstance(op, ast.StateCheck):
            return (yield from self.state_check(mm, op))
        raise TypeError(f"unknown operation {op!r}")

    def run_thread(
        self, ops: list[tuple[int, Op]], results: dict[int, Result]
    ) -> Generator[Wait, Any, None]:
        """One task running `ops` in order; a BUG kills the task (see BUG_RELEASES_LOCKS)."""
        for n, (op_id, op) in enumerate(ops):
            assert self.current is not None
            self.current.op_id = op_id
            if n:
                yield Preempt(entry_function(op))
            task = self.current
            assert task is not None
            try:
                result = yield from self.run_op(op)
            except KernelBug as bug:
                self.bugs.append(BugReport(bug.function, bug.reason, op_id))
                results[op_id] = BUG
                if not self.BUG_RELEASES_LOCKS:
                    task.kmaps.clear()  # the oops does not unmap, but no later op can leak
                    return
                task.release_all()
                self.maybe_quiescent(task)
                continue
            self.check_leaked_pte_mappings(task)
            results[op_id] = result
