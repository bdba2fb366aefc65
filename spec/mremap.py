"""mremap with MREMAP_MAYMOVE|MREMAP_FIXED and an unchanged size: move a range to a new place."""

from __future__ import annotations

from dataclasses import replace

from ptediff.core.outcome import ERRNO
from ptediff.core.program import PAGE_SIZE, Mremap, Munmap, Result
from ptediff.spec.mapping import do_munmap
from ptediff.spec.state import TABLE_SPAN, SpecState, Vma


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
    # copy_vma: a piece of the source's vma over NEW's range, its pgoff the source's (or, for
    # a vma with no anonymous page yet, NEW's own page number: shift 0)
    moved = replace(vma.piece(op.new, op.new + length),
                    shift=vma.shift - delta // PAGE_SIZE if vma.anon_id else 0)
    # move_page_tables allocates the new page table wherever the old range has one, whether or
    # not a pte is there to move
    spans = {(op.proc, (a + delta) // TABLE_SPAN) for a in range(op.addr, op.addr + length,
                                                                 PAGE_SIZE)
             if s.has_table(op.proc, a)}
    if not spans <= s.tables:
        s.tables = s.tables | spans
    link_or_merge(s, op.proc, moved)
    for addr in range(op.addr, op.addr + length, PAGE_SIZE):
        pte = s.ptes.pop((op.proc, addr), None)
        if pte is not None:
            s.ptes[(op.proc, addr + delta)] = pte
    # move_vma's munmap of the old range (no ptes left there: it only splits the vmas)
    do_munmap(s, Munmap(op.proc, op.addr, op.npages))
    return op.new


def _mergeable(a: Vma, b: Vma) -> bool:
    """vma_merge's tests: the same vm_flags (protection, VM_LOCKED, VM_ACCOUNT), anon_vmas
    that are the same or not there on one side, and pgoffs that run on (the same shift)."""
    return (a.prot is b.prot and a.locked == b.locked and a.account == b.account
            and (not a.anon_id or not b.anon_id or a.anon_id == b.anon_id)
            and a.shift == b.shift)


def link_or_merge(s: SpecState, proc: str, new: Vma) -> None:
    """copy_vma's vma_merge, then vma_link if nothing merged: `new` extends the vma ending at
    its start, or (and) the one starting at its end, when each is mergeable with it. The
    merged vma's anonymous state is the union of the three: its pages stay anonymous ones,
    which fork copies (what the 2006 vma_adjust does when neither neighbour had an anon_vma
    is a different matter: docs/semantics.md, "Findings on postfix")."""
    vmas = list(s.vmas[proc])
    prev = next((v for v in vmas if v.end == new.start and _mergeable(v, new)), None)
    nxt = next((v for v in vmas if v.start == new.end and _mergeable(v, new)), None)
    if prev is not None and nxt is not None and not (
            not prev.anon_id or not nxt.anon_id or prev.anon_id == nxt.anon_id):
        nxt = None  # prev and next carry different anon_vmas: only prev takes the range
    parts = [v for v in (prev, new, nxt) if v is not None]
    if len(parts) == 1:
        s.set_vmas(proc, [*vmas, new])
        return
    anon_id = next((v.anon_id for v in parts if v.anon_id), 0)
    first = parts[0]
    merged = replace(first, npages=sum(v.npages for v in parts), anon=anon_id != 0,
                     anon_id=anon_id)
    s.set_vmas(proc, [v for v in vmas if v not in (prev, nxt)] + [merged])
