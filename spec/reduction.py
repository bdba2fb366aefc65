"""Partial-order reduction of a parallel block's linearizations: operations that commute.

Two operations of different threads commute when they name disjoint processes, the processes
share no page or swap slot (sharing only ever comes from a fork, which copies what its parent
already shares), and they do not both use the global swap state (slot allocation order, the
"more than half of swap in use" test). Then running one before or after the other gives the
same state and the same results, and no allowance of either can see the other: every rule
looks at the pages a concurrent operation holds, and those are disjoint.

`independent_thread` finds a thread whose next operation commutes with *every* operation the
other threads have left. Exploring only that thread's step from such a state is sound (the
ample-set argument: any linearization can be reordered to run that operation first, so the
same outcomes are reached). Its allowance branches are skipped too: with nothing it races on,
each of them (a split into two halves, a busy result needs a racing page) ends in an outcome a
plain linearization already gives, and the spec drops such an outcome's allowance-labelled
twin anyway. `tests/cover/test_spec_reduction.py` checks reduced against full enumeration on
generated programs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from ptediff.core.program import (
    PAGE_SIZE,
    PIN_OPS,
    Exit,
    Fault,
    Fork,
    Madvise,
    Mlock,
    Mremap,
    Munmap,
    Op,
    Pageout,
    Pin,
    Swapon,
)
from ptediff.spec.state import ZERO_PAGE, Present, SpecState, Swapped

Resource = tuple[str, object]  # ("page", id) or ("slot", slot)


@cache
def procs_of(op: Op) -> frozenset[str]:
    """The processes an operation reads or writes (a fork: its parent and its child)."""
    if isinstance(op, Fork):
        return frozenset((op.parent, op.child))
    return frozenset(op.procs)


def resources(s: SpecState, proc: str) -> set[Resource]:
    """What `proc` may share with another process: anonymous pages it maps, the swap copies of
    those pages, the slots its swap ptes hold (and the pages cached for them)."""
    found: set[Resource] = set()
    for (owner, _), pte in s.ptes.items():
        if owner != proc:
            continue
        if isinstance(pte, Present):
            if pte.page != ZERO_PAGE:
                found.add(("page", pte.page))
                copy = s.pages[pte.page].swap_copy
                if copy is not None:
                    found.add(("slot", copy))
        else:
            found.add(("slot", pte.slot))
            cached = s.cached_page(pte.slot)
            if cached is not None:
                found.add(("page", cached))
    return found


def uses_swap_now(s: SpecState, op: Op) -> bool:
    """Whether `op`, run on `s`, allocates or frees a slot or reads how full swap is."""
    if isinstance(op, Swapon | Pageout):
        return True
    if isinstance(op, Fault | Pin):
        return isinstance(s.ptes.get((op.proc, op.addr)), Swapped)
    if isinstance(op, Exit):
        return any(isinstance(p, Swapped) for k, p in s.ptes.items() if k[0] == op.proc)
    if isinstance(op, Munmap | Madvise | Mlock | Mremap):  # mlock's faults swap pages in
        # mremap frees slots only by zapping the swap ptes of its new range (moving a swap pte
        # leaves the slot as it is)
        start = op.new if isinstance(op, Mremap) else op.addr
        end = start + op.npages * PAGE_SIZE
        return any(
            isinstance(p, Swapped) for (proc, addr), p in s.ptes.items()
            if proc == op.proc and start <= addr < end
        )
    return False


def may_use_swap(op: Op) -> bool:
    """Whether `op` may use the global swap state in some later state (a conservative test)."""
    return isinstance(
        op, Swapon | Pageout | Fault | Exit | Munmap | Madvise | Pin | Mlock | Mremap
    )


@dataclass(frozen=True)
class Footprints:
    """Per thread of a block and per position in it, what the operations from there on may
    touch: computed once per block, so the test at each state is a few set operations."""

    procs: tuple[tuple[frozenset[str], ...], ...]  # [thread][k]: processes of ops[k:]
    swap: tuple[tuple[bool, ...], ...]  # [thread][k]: some op of ops[k:] may use swap
    swapon: bool  # the block has a swapon
    # the block has an operation through a pin (unpin, pinread, pinwrite): it names no
    # process but touches the pinned page, so nothing in the block is taken as commuting
    pin_access: bool = False

    @classmethod
    def of(cls, threads: Sequence[Sequence[Op]]) -> Footprints:
        procs, swap = [], []
        for ops in threads:
            p: list[frozenset[str]] = [frozenset()]
            w = [False]
            for op in reversed(ops):
                p.append(p[-1] | procs_of(op))
                w.append(w[-1] or may_use_swap(op))
            procs.append(tuple(reversed(p)))
            swap.append(tuple(reversed(w)))
        swapon = any(isinstance(op, Swapon) for ops in threads for op in ops)
        pin_access = any(isinstance(op, PIN_OPS) for ops in threads for op in ops)
        return cls(tuple(procs), tuple(swap), swapon, pin_access)


def independent_thread(
    s: SpecState, heads: Sequence[tuple[int, Op]], done: Sequence[int], fp: Footprints
) -> int | None:
    """A thread whose next operation commutes with everything the other threads have left.

    heads: (thread, its next operation) for every thread with operations left; done: per
    thread, how many operations it has finished (its head is the next one).
    """
    if len(heads) < 2 or fp.pin_access:
        return None
    others = range(len(done))
    for thread, head in heads:
        mine = procs_of(head)
        theirs = frozenset().union(*(fp.procs[u][done[u]] for u in others if u != thread))
        if mine & theirs:  # the cheap test first: a process in common
            continue
        if (bool(s.swap.devices) or fp.swapon) and uses_swap_now(s, head) and any(
            fp.swap[u][done[u]] for u in others if u != thread
        ):
            continue
        my_resources = set().union(*(resources(s, p) for p in mine if p in s.vmas))
        if not any(my_resources & resources(s, p) for p in theirs if p in s.vmas):
            return thread
    return None
