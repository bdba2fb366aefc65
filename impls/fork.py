"""kernel/fork.c: duplicating an address space."""

from __future__ import annotations

from dataclasses import replace

from ptediff.impls.core import KernelCore
from ptediff.impls.sched import WRITE, Acquire, KGen
from ptediff.impls.structs import VM_LOCKED, Mm


class Fork(KernelCore):
    """fork(2) for the address space."""

    def do_fork(self, parent: Mm, child_name: str) -> KGen[int]:
        """do_fork() in kernel/fork.c: copy_mm() and dup_mm() build the child's address space.

        The child becomes a live process when its mm is complete; a BUG part way leaves the
        half-built mm behind (still on the anon_vma lists) but no process.
        """
        child = self.new_mm(child_name)
        yield from self.dup_mmap(child, parent)
        self.procs[child_name] = child
        return 0

    def dup_mmap(self, mm: Mm, oldmm: Mm) -> KGen[None]:
        """dup_mmap() in kernel/fork.c: both mmap_sems for write, no anon_vma lock held while
        copying page tables."""
        yield Acquire("dup_mmap", oldmm.mmap_sem, WRITE)
        yield Acquire("dup_mmap", mm.mmap_sem, WRITE)
        for mpnt in list(oldmm.vmas):
            tmp = replace(mpnt, mm=mm, flags=mpnt.flags & ~VM_LOCKED, forked_from=mpnt)
            yield from self.anon_vma_link(tmp)
            mm.insert_vma(tmp)
            yield from self.copy_page_range(mm, oldmm, mpnt)
        self.unlock(mm.mmap_sem, WRITE)
        self.unlock(oldmm.mmap_sem, WRITE)
