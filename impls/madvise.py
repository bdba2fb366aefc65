"""mm/madvise.c: madvise(MADV_DONTNEED), as in 2.6.17/2.6.18 (not in the index at 0697212a).

The 2006 sys_madvise takes mmap_sem for write for every advice (taking it for read for
MADV_DONTNEED came with madvise_need_mmap_write in 2007), walks the vmas of the range skipping
holes (which make the result -ENOMEM at the end) and hands each piece to madvise_dontneed,
which refuses VM_LOCKED vmas with -EINVAL and otherwise zaps the range: zap_page_range ->
zap_pte_range, which drops present ptes and gives swap ptes to free_swap_and_cache (a
migration entry is just cleared: free_swap_and_cache ignores it).
"""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.impls.core import KernelCore
from ptediff.impls.pte import PAGE_SIZE
from ptediff.impls.sched import WRITE, Acquire, KGen
from ptediff.impls.structs import VM_LOCKED, Mm, Vma


class Madvise(KernelCore):
    """madvise(2) for the advice the DSL's `madvise` takes."""

    def sys_madvise(self, mm: Mm, start: int, npages: int, advice: str) -> KGen[int]:
        """sys_madvise() in mm/madvise.c (2.6.17): mmap_sem for write, holes give -ENOMEM."""
        if start % PAGE_SIZE or npages < 1:
            return -ERRNO["EINVAL"]
        end = start + npages * PAGE_SIZE
        yield Acquire("sys_madvise", mm.mmap_sem, WRITE)
        unmapped_error = 0
        error = 0
        while True:
            vma = mm.find_vma(start)
            if vma is None:
                error = -ERRNO["ENOMEM"]
                break
            if start < vma.start:
                unmapped_error = -ERRNO["ENOMEM"]
                start = vma.start
                if start >= end:
                    error = -ERRNO["ENOMEM"]
                    break
            tmp = min(vma.end, end)
            error = yield from self.madvise_vma(vma, start, tmp, advice)
            if error:
                break
            start = tmp
            error = unmapped_error
            if start >= end:
                break
        self.unlock(mm.mmap_sem, WRITE)
        return error

    def madvise_vma(self, vma: Vma, start: int, end: int, advice: str) -> KGen[int]:
        """madvise_vma() in mm/madvise.c: dispatch on the advice."""
        assert advice == "dontneed"
        return (yield from self.madvise_dontneed(vma, start, end))

    def madvise_dontneed(self, vma: Vma, start: int, end: int) -> KGen[int]:
        """madvise_dontneed() in mm/madvise.c: -EINVAL for VM_LOCKED, else zap_page_range."""
        if vma.flags & VM_LOCKED:
            return -ERRNO["EINVAL"]
        yield from self.zap_page_range(vma, start, end)  # type: ignore[attr-defined]
        return 0
