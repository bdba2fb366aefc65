"""Address-space operations: map, munmap, mprotect, fork, exit."""

from __future__ import annotations

from dataclasses import replace

from ptediff.core.outcome import ERRNO
from ptediff.core.program import PAGE_SIZE, Exit, Fork, Map, Mprotect, Munmap, Prot, Result
from ptediff.spec.state import TABLE_SPAN, Present, SpecState, Swapped, Vma


def _bad_range(addr: int, npages: int) -> bool:
    return addr % PAGE_SIZE != 0 or npages < 1


def do_map(s: SpecState, op: Map) -> Result:
    """mmap with MAP_FIXED_NOREPLACE: a new vma, or -EEXIST if any page is already mapped."""
    if _bad_range(op.addr, op.npages):
        return -ERRNO["EINVAL"]
    new = Vma(op.addr, op.npages, op.prot, account=op.prot.writable)
    if any(v.start < new.end and new.start < v.end for v in s.vmas[op.proc]):
        return -ERRNO["EEXIST"]
    s.set_vmas(op.proc, [*s.vmas[op.proc], new])
    return 0


def do_munmap(s: SpecState, op: Munmap) -> Result:
    """Drop the ptes and vmas of the range (0 also when nothing was mapped there)."""
    if _bad_range(op.addr, op.npages):
        return -ERRNO["EINVAL"]
    start, end = op.addr, op.addr + op.npages * PAGE_SIZE
    for key in sorted(k for k in s.keys_of(op.proc) if start <= k[1] < end):
        zap(s, key)
    pieces: list[Vma] = []
    for vma in s.vmas[op.proc]:
        if vma.start < start:
            pieces.append(vma.piece(vma.start, min(vma.end, start)))
        if vma.end > end:
            pieces.append(vma.piece(max(vma.start, end), vma.end))
    s.set_vmas(op.proc, pieces)
    return 0


def do_mprotect(s: SpecState, op: Mprotect) -> Result:
    """Change the prot of a range, vma by vma from its start.

    A hole stops it with -ENOMEM, keeping the changes made before the hole (as the kernel's
    loop does). A vma whose prot really changes loses the write bit of every present pte in
    the range; a vma that already has the prot is left alone, write bits included.
    """
    if _bad_range(op.addr, op.npages):
        return -ERRNO["EINVAL"]
    addr, end = op.addr, op.addr + op.npages * PAGE_SIZE
    while addr < end:
        vma = s.vma_at(op.proc, addr)
        if vma is None:
            return -ERRNO["ENOMEM"]
        piece_end = min(vma.end, end)
        if vma.prot is not op.prot:
            _change_prot(s, op.proc, vma, addr, piece_end, op.prot)
        addr = piece_end
    return 0


def _change_prot(s: SpecState, proc: str, vma: Vma, start: int, end: int, prot: Prot) -> None:
    # made writable: charged from now on (VM_ACCOUNT stays when the write bit goes)
    pieces = [replace(vma.piece(start, end, prot), account=vma.account or prot.writable)]
    if vma.start < start:
        pieces.append(vma.piece(vma.start, start))
    if end < vma.end:
        pieces.append(vma.piece(end, vma.end))
    s.set_vmas(proc, [v for v in s.vmas[proc] if v != vma] + pieces)
    for addr in range(start, end, PAGE_SIZE):
        pte = s.ptes.get((proc, addr))
        if isinstance(pte, Present):
            s.ptes[(proc, addr)] = Present(pte.page, False)


def do_fork(s: SpecState, op: Fork) -> Result:
    """The child gets every vma; the ptes of vmas that have had an anonymous page are shared
    (present ones become read-only on both sides), the others are left for faults to refill."""
    # dup_mmap clears VM_LOCKED in the child: mlock is not inherited
    s.vmas[op.child] = tuple(replace(v, locked=False) for v in s.vmas[op.parent])
    for vma in s.vmas[op.parent]:
        if not vma.anon:
            continue
        # copy_pte_range allocates the child's table wherever the parent has one
        spans = {(op.parent, a // TABLE_SPAN) for a in vma.addresses()} & s.tables
        s.tables = s.tables | {(op.child, span) for _parent, span in spans}
        for addr in vma.addresses():
            pte = s.ptes.get((op.parent, addr))
            if isinstance(pte, Present):
                s.ptes[(op.parent, addr)] = s.ptes[(op.child, addr)] = Present(pte.page, False)
            elif isinstance(pte, Swapped):
                s.ptes[(op.child, addr)] = pte
    return 0


def do_exit(s: SpecState, op: Exit) -> Result:
    for key in sorted(s.keys_of(op.proc)):
        zap(s, key)
    del s.vmas[op.proc]
    s.tables = frozenset(t for t in s.tables if t[0] != op.proc)
    return 0


def zap(s: SpecState, key: tuple[str, int]) -> None:
    """Remove one pte. Dropping the last swap pte of a slot also drops the swap copy of the
    slot's cached page when that page is unmapped or swap is more than half full (the kernel's
    free_swap_and_cache); what nobody references is freed by `SpecState.collect`."""
    pte = s.ptes.pop(key)
    if not isinstance(pte, Swapped) or s.swap_refs(pte.slot):
        return
    cached = s.cached_page(pte.slot)
    if cached is not None and (not s.mappers(cached) or s.swap_full()):
        s.drop_swap_copy(cached)
