"""mlock and munlock: VM_LOCKED on a range, and what it keeps reclaim and migration from doing."""

from __future__ import annotations

from dataclasses import replace

from ptediff.core.outcome import ERRNO
from ptediff.core.program import PAGE_SIZE, Fault, Mlock, Munlock, Result
from ptediff.spec.fault import handle_fault
from ptediff.spec.state import Present, SpecState, Swapped, Vma
from ptediff.spec.swap import Slot

Key = tuple[str, int]


def do_mlock(s: SpecState, op: Mlock) -> Result:
    """Lock the range vma by vma, faulting each newly locked piece in."""
    return _lock_range(s, op.proc, op.addr, op.npages, True)


def do_munlock(s: SpecState, op: Munlock) -> Result:
    """Unlock the range vma by vma; the pages stay as they are."""
    return _lock_range(s, op.proc, op.addr, op.npages, False)


def _lock_range(s: SpecState, proc: str, start: int, npages: int, on: bool) -> Result:
    """The walk of the 2006 do_mlock: the range must start in a vma and be covered without a
    hole (-ENOMEM at the first hole, keeping the pieces done before it). A piece whose lock
    bit already is as asked is left alone (not even faulted in); a newly locked piece is made
    present: every page written-faulted in a writable vma (which breaks COW), read-faulted in a
    read-only one (a missing page becomes the zero page), and a PROT_NONE piece stays locked
    but stops the walk with -EFAULT."""
    if npages < 1:
        return 0
    addr, end = start, start + npages * PAGE_SIZE
    while addr < end:
        vma = s.vma_at(proc, addr)
        if vma is None:
            return -ERRNO["ENOMEM"]
        piece_end = min(vma.end, end)
        if vma.locked != on:
            _set_locked(s, proc, vma, addr, piece_end, on)
            if on:
                if not vma.prot.readable:
                    return -ERRNO["EFAULT"]
                for page_addr in range(addr, piece_end, PAGE_SIZE):
                    fault = Fault(proc, page_addr, write=vma.prot.writable, value=0)
                    handle_fault(s, fault)
        addr = piece_end
    return 0


def flags_only(s: SpecState, op: Mlock, on: bool) -> list[tuple[int, int]]:
    """Set (or clear) the lock bit on the unlocked (locked) vma pieces of an mlock's range, up
    to the first hole, without faulting anything in: the state mlock_fixup leaves between
    setting vm_flags and make_pages_present. Returns the pieces changed."""
    changed: list[tuple[int, int]] = []
    addr, end = op.addr, op.addr + op.npages * PAGE_SIZE
    while addr < end:
        vma = s.vma_at(op.proc, addr)
        if vma is None:
            break
        piece_end = min(vma.end, end)
        if vma.locked != on:
            _set_locked(s, op.proc, vma, addr, piece_end, on)
            changed.append((addr, piece_end))
        addr = piece_end
    return changed


def _set_locked(s: SpecState, proc: str, vma: Vma, start: int, end: int, on: bool) -> None:
    locked = replace(vma.piece(start, end), locked=on)
    pieces = [locked]
    if vma.start < start:
        pieces.append(vma.piece(vma.start, start))
    if end < vma.end:
        pieces.append(vma.piece(end, vma.end))
    s.set_vmas(proc, [v for v in s.vmas[proc] if v != vma] + pieces)


def is_locked(s: SpecState, key: Key) -> bool:
    vma = s.vma_at(*key)
    return vma is not None and vma.locked


def walk_order(s: SpecState, page: int) -> list[Key]:
    """The ptes mapping `page` in the order try_to_unmap's anon_vma walk reaches them: by
    process, oldest first (fork links the child's vmas after the parent's). Not followed: a
    split after the fork relinks the split-off piece at the list's tail."""
    rank = {proc: n for n, proc in enumerate(s.vmas)}
    return sorted(s.mappers(page), key=lambda key: rank[key[0]])


def has_locked_mapper(s: SpecState, page: int) -> bool:
    return any(is_locked(s, key) for key in s.mappers(page))


def unmap_until_locked(s: SpecState, page: int, slot: Slot | None) -> bool:
    """try_to_unmap's walk: ptes reached before the first mlocked one become swap ptes of
    `slot` (for a page with a swap copy; with no slot they are migration entries, restored
    afterwards, so they stay). True when the walk stopped at an mlocked vma (SWAP_FAIL)."""
    for key in walk_order(s, page):
        if is_locked(s, key):
            return True
        if slot is not None:
            pte = s.ptes[key]
            assert isinstance(pte, Present)
            s.ptes[key] = Swapped(slot)
    return False
