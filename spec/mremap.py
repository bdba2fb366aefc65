"""mremap with MREMAP_MAYMOVE|MREMAP_FIXED and an unchanged size: move a range to a new place."""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.core.program import PAGE_SIZE, Mremap, Munmap, Result
from ptediff.spec.mapping import do_munmap
from ptediff.spec.state import TABLE_SPAN, SpecState


def overlaps(op: Mremap) -> bool:
    """The old and new ranges share a page (2.6.17 do_mremap's two overlap tests)."""
    length = op.npages * PAGE_SIZE
    return op.new < op.addr + length and op.addr < op.new + length


def do_mremap(s: SpecState, op: Mremap) -> Result:
    """The checks of 2.6.17 do_mremap in its order, then the move.

    -EINVAL for an unaligned OLD or NEW and for overlapping ranges, before anything changes;
    then NEW's range is unmapped (MREMAP_FIXED), and only after that is OLD looked up:
    -EFAULT when no vma contains OLD or the range runs past that vma's end (a move never spans
    two vmas), with NEW's range already gone. Otherwise the range's vma piece and every pte in
    it move to NEW: present ptes keep their page and write bit, swap ptes their slot, the
    piece its protection, mlock and anon_vma; OLD's range is left unmapped. The result is NEW.
    """
    if op.addr % PAGE_SIZE or op.new % PAGE_SIZE or op.npages < 1:
        return -ERRNO["EINVAL"]
    if overlaps(op):
        return -ERRNO["EINVAL"]
    length = op.npages * PAGE_SIZE
    do_munmap(s, Munmap(op.proc, op.new, op.npages))
    vma = s.vma_at(op.proc, op.addr)
    if vma is None or op.addr + length > vma.end:
        return -ERRNO["EFAULT"]
    delta = op.new - op.addr
    moved = vma.piece(op.addr, op.addr + length)
    # move_page_tables allocates the new page table wherever the old range has one, whether or
    # not a pte is there to move
    spans = {(op.proc, (a + delta) // TABLE_SPAN) for a in moved.addresses()
             if s.has_table(op.proc, a)}
    if not spans <= s.tables:
        s.tables = s.tables | spans
    for addr in moved.addresses():
        pte = s.ptes.pop((op.proc, addr), None)
        if pte is not None:
            s.ptes[(op.proc, addr + delta)] = pte
    pieces = [v for v in s.vmas[op.proc] if v != vma]
    if vma.start < op.addr:
        pieces.append(vma.piece(vma.start, op.addr))
    if op.addr + length < vma.end:
        pieces.append(vma.piece(op.addr + length, vma.end))
    pieces.append(vma.piece(op.new, op.new + length))
    s.set_vmas(op.proc, pieces)
    return op.new
