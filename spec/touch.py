"""Which pages an operation holds — locks or references — while it runs.

Two operations of a parallel block race on a page when both hold it; the allowances use this
to decide when the kernel may give a result no linearization gives.
"""

from __future__ import annotations

from ptediff.core.program import (
    PAGE_SIZE,
    Exit,
    Fault,
    Fork,
    Madvise,
    Migrate,
    Mlock,
    Mremap,
    Munmap,
    Op,
    Pageout,
    Pin,
)
from ptediff.spec.branch import Concurrent
from ptediff.spec.paging import migration_lookup, migration_target, pageout_target
from ptediff.spec.state import Present, SpecState, Swapped


def pages_touched(s: SpecState, op: Op) -> set[int]:
    """Anonymous pages the operation holds while it runs, judged on the state `s`."""
    keys: list[tuple[str, int]] = []
    if isinstance(op, Fault | Migrate | Pageout | Pin) and op.proc in s.vmas:
        keys = [(op.proc, op.addr)]
    elif isinstance(op, Fork) and op.parent in s.vmas:
        keys = [k for k in s.keys_of(op.parent) if isinstance(s.ptes[k], Present)]
    elif isinstance(op, Exit) and op.proc in s.vmas:
        keys = s.keys_of(op.proc)
    elif isinstance(op, Munmap | Madvise | Mlock) and op.proc in s.vmas:
        end = op.addr + op.npages * PAGE_SIZE
        keys = [k for k in s.keys_of(op.proc) if op.addr <= k[1] < end]
    elif isinstance(op, Mremap) and op.proc in s.vmas:
        # the ptes it moves and the ones its MREMAP_FIXED munmap zaps
        length = op.npages * PAGE_SIZE
        keys = [k for k in s.keys_of(op.proc)
                if op.addr <= k[1] < op.addr + length or op.new <= k[1] < op.new + length]
    pages: set[int] = set()
    for key in keys:
        pte = s.ptes.get(key)
        if isinstance(pte, Present):
            pages.add(pte.page)
        elif isinstance(pte, Swapped) and not isinstance(op, Migrate | Pageout):
            cached = s.cached_page(pte.slot)  # swap-in and zap lock the swap cache page
            if cached is not None:
                pages.add(cached)
    return {p for p in pages if s.is_anon(p)}


def held_pages(s: SpecState, other: Concurrent) -> set[int]:
    """The pages a concurrent operation holds: its found page when it is in flight."""
    if other.held is not None:
        return {other.held}
    return pages_touched(s, other.op)


def migrating(s: SpecState, other: Concurrent) -> int | None:
    """The page a concurrent migrate moves (the one it found, once in flight)."""
    if not isinstance(other.op, Migrate):
        return None
    if other.held is not None:
        return other.held
    page = migration_target(s, other.op)
    if page is None:
        # one that will fail with -EPERM (an mlocked mapper) still isolates and locks the
        # page before try_to_unmap meets the locked vma; one that will fail with -EAGAIN (a
        # pinned page) isolates it too, and locks and unmaps it on each of its passes
        page = migration_lookup(s, other.op)
        if page is None or s.pages[page].node == other.op.node:
            return None
    return page


def reclaiming(s: SpecState, other: Concurrent) -> int | None:
    """The page a concurrent pageout reclaims (the one it found, once in flight)."""
    if not isinstance(other.op, Pageout):
        return None
    return other.held if other.held is not None else pageout_target(s, other.op)
