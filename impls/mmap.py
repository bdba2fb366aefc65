"""mm/mmap.c: creating, splitting and removing vmas (they never merge; copy_vma's vma_merge
for mremap is in impls/mremap.py)."""

from __future__ import annotations

from dataclasses import replace

from ptediff.core.outcome import ERRNO
from ptediff.core.program import Prot
from ptediff.impls.core import KernelCore
from ptediff.impls.mprotect import prot_to_vm_flags
from ptediff.impls.pte import PAGE_SHIFT, PAGE_SIZE
from ptediff.impls.sched import WRITE, Acquire, KGen
from ptediff.impls.structs import (
    VM_ACCOUNT,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYWRITE,
    Mm,
    Vma,
    protection_map,
)


class Mmap(KernelCore):
    """mmap, munmap and exit."""

    def do_mmap(self, mm: Mm, addr: int, npages: int, prot: Prot) -> KGen[int]:
        """do_mmap_pgoff() in mm/mmap.c for MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE."""
        if addr % PAGE_SIZE or npages < 1:
            return -ERRNO["EINVAL"]
        end = addr + npages * PAGE_SIZE
        yield Acquire("do_mmap_pgoff", mm.mmap_sem, WRITE)
        if any(v.start < end and addr < v.end for v in mm.vmas):
            self.unlock(mm.mmap_sem, WRITE)
            return -ERRNO["EEXIST"]
        flags = prot_to_vm_flags(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
        if prot.writable:
            flags |= VM_ACCOUNT  # a private writable mapping is charged (it may merge by it)
        # A private anonymous mapping's pgoff is its own page number.
        vma = Vma(mm, addr, end, flags, protection_map(flags), pgoff=addr >> PAGE_SHIFT)
        mm.insert_vma(vma)
        self.unlock(mm.mmap_sem, WRITE)
        return 0

    def split_vma(self, mm: Mm, vma: Vma, addr: int, new_below: bool) -> KGen[Vma]:
        """split_vma() in mm/mmap.c, with vma_adjust(): the new part is linked with
        __anon_vma_link under the anon_vma lock, atomically with the bounds change."""
        new = replace(vma)
        if new_below:
            new.end = addr
        else:
            new.start = addr
            new.pgoff = vma.pgoff + ((addr - vma.start) >> PAGE_SHIFT)
        anon_vma = vma.anon_vma
        if anon_vma is not None:
            yield Acquire("vma_adjust", anon_vma.lock)
        if new_below:
            vma.pgoff += (addr - vma.start) >> PAGE_SHIFT
            vma.start = addr
        else:
            vma.end = addr
        self._anon_vma_link(new)
        mm.insert_vma(new)
        if anon_vma is not None:
            self.unlock(anon_vma.lock)
        return new

    def do_munmap(self, mm: Mm, start: int, npages: int) -> KGen[int]:
        """sys_munmap() in mm/mmap.c: do_munmap under mmap_sem for write."""
        if start % PAGE_SIZE or npages < 1:
            return -ERRNO["EINVAL"]
        yield Acquire("sys_munmap", mm.mmap_sem, WRITE)
        yield from self.do_munmap_locked(mm, start, npages)
        self.unlock(mm.mmap_sem, WRITE)
        return 0

    def do_munmap_locked(self, mm: Mm, start: int, npages: int) -> KGen[int]:
        """do_munmap() in mm/mmap.c, mmap_sem held for write (by sys_munmap, do_mremap)."""
        if start % PAGE_SIZE or npages < 1:
            return -ERRNO["EINVAL"]
        end = start + npages * PAGE_SIZE
        vma = mm.find_vma(start)
        if vma is not None and vma.start < end:
            if start > vma.start:
                yield from self.split_vma(mm, vma, start, new_below=False)
            last = mm.find_vma(end)
            if last is not None and last.start < end:
                yield from self.split_vma(mm, last, end, new_below=True)
            # detach_vmas_to_be_unmapped(), then unmap_region().
            doomed = [v for v in mm.vmas if start <= v.start and v.end <= end]
            for v in doomed:
                mm.vmas.remove(v)
            yield from self.unmap_region(doomed)
        return 0

    def unmap_region(self, vmas: list[Vma]) -> KGen[None]:
        """unmap_region() in mm/mmap.c: zap the ptes, then free_pgtables() unlinks the vmas."""
        for vma in vmas:
            yield from self.zap_page_range(vma, vma.start, vma.end)
        for vma in vmas:
            yield from self.anon_vma_unlink(vma)

    def exit_mmap(self, mm: Mm) -> KGen[None]:
        """exit_mmap() in mm/mmap.c."""
        vmas = list(mm.vmas)
        for vma in vmas:
            yield from self.zap_page_range(vma, vma.start, vma.end)
        for vma in vmas:
            yield from self.anon_vma_unlink(vma)
        mm.vmas.clear()

    def do_exit(self, name: str, mm: Mm) -> KGen[int]:
        """do_exit() in kernel/exit.c: exit_mm() and mmput() drop the address space.

        The model takes mmap_sem for write so an exit is ordered with the process's other
        operations in the same block (the real exit has no other users left).
        """
        yield Acquire("exit_mm", mm.mmap_sem, WRITE)
        self.procs.pop(name, None)
        yield from self.exit_mmap(mm)
        self.unlock(mm.mmap_sem, WRITE)
        if mm in self.mms:
            self.mms.remove(mm)
        return 0
