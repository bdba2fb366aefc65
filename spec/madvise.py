"""madvise(MADV_DONTNEED): the pages of a range go, the vmas stay."""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.core.program import PAGE_SIZE, Madvise, Result
from ptediff.spec.mapping import zap
from ptediff.spec.state import SpecState


def do_madvise(s: SpecState, op: Madvise) -> Result:
    """Zap every pte of the range, vma by vma; holes are skipped but make the result -ENOMEM.

    The walk is sys_madvise's: a hole does not stop it (unlike mprotect), a vma the advice
    refuses (mlocked, for dontneed) stops it with -EINVAL, keeping what was done before.
    """
    if op.addr % PAGE_SIZE or op.npages < 1:
        return -ERRNO["EINVAL"]
    start, end = op.addr, op.addr + op.npages * PAGE_SIZE
    result = 0
    addr = start
    while addr < end:
        vma = next((v for v in s.vmas[op.proc] if v.end > addr), None)
        if vma is None or vma.start >= end:
            return -ERRNO["ENOMEM"]
        if vma.start > addr:
            result = -ERRNO["ENOMEM"]
            addr = vma.start
        if vma.locked:
            return -ERRNO["EINVAL"]
        piece_end = min(vma.end, end)
        for key in sorted(k for k in s.keys_of(op.proc) if addr <= k[1] < piece_end):
            zap(s, key)
        addr = piece_end
    return result
