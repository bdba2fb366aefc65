"""Allowance rules of the isolation side: a migrate or pageout that finds its page isolated,
locked or referenced by a racing operation (busy results, pages left in the swap cache), that
acts on a page it looked up before the address was remapped, or that sees another mm's mlock
half done. The table is `ptediff.spec.allowances.ALLOWANCES`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ptediff.core.outcome import ERRNO
from ptediff.core.program import (
    PAGE_SIZE,
    Exit,
    Fault,
    Madvise,
    Migrate,
    Mlock,
    Mremap,
    Munmap,
    Op,
    Pageout,
)
from ptediff.spec.branch import Branch, Concurrent, Pending
from ptediff.spec.mlock import flags_only
from ptediff.spec.mremap import overlaps
from ptediff.spec.ops import apply
from ptediff.spec.paging import migration_lookup, migration_target, pageout_target
from ptediff.spec.state import SpecState, Swapped
from ptediff.spec.touch import held_pages, migrating, reclaiming


def _isolating(s: SpecState, page: int, concurrent: Sequence[Concurrent]) -> bool:
    """A concurrent migrate or pageout takes (or has taken) the page off the LRU."""
    return any(migrating(s, other) == page or reclaiming(s, other) == page
               for other in concurrent)


def _swap_refs_of(s: SpecState, op: Op, page: int) -> bool:
    """An munmap or exit that drops a swap pte whose slot's cached page is `page`: its
    free_swap_and_cache takes a reference and trylocks the page."""
    if not isinstance(op, Munmap | Exit | Mremap) or op.proc not in s.vmas:
        return False
    for key in s.keys_of(op.proc):
        start = op.new if isinstance(op, Mremap) else getattr(op, "addr", 0)
        if not isinstance(op, Exit) and not start <= key[1] < start + op.npages * PAGE_SIZE:
            continue
        pte = s.ptes[key]
        if isinstance(pte, Swapped) and s.cached_page(pte.slot) == page:
            return True
    return False


def _referencing(s: SpecState, page: int, concurrent: Sequence[Concurrent]) -> bool:
    """A concurrent operation may hold a reference on (or the lock of) the page across a
    sleep: a fault (do_wp_page's copy, do_swap_page, migration_entry_wait), or an munmap or
    exit freeing a swap pte of the page's slot. Fork and zap of present ptes only touch the
    page under the pte lock, which the migration or reclaim cannot interleave with."""
    return any(
        (isinstance(other.op, Fault) and page in held_pages(s, other))
        or _swap_refs_of(s, other.op, page)
        for other in concurrent
    )


def migrate_busy(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    page = migration_lookup(s, op) if isinstance(op, Migrate) else None
    if page is None or not isinstance(op, Migrate):
        return []
    name = frozenset(("migrate-busy",))
    branches = []
    if any(migrating(s, other) == page or _moved_by(s, other, page) for other in concurrent):
        # Another migration of the page has it unmapped to migration entries: the lookup
        # finds no page at the address, whatever node the page is on. Or it has it isolated,
        # or has already mapped the new page, which is not back on the LRU yet (move_to_lru
        # comes last): -EBUSY, also when this page is already on NODE (the new one is not).
        branches.append(Branch(s.clone(), {op_id: -ERRNO["ENOENT"]}, name))
        branches.append(Branch(s.clone(), {op_id: -ERRNO["EBUSY"]}, name))
    elif s.pages[page].node != op.node and _isolating(s, page, concurrent):
        # isolate_lru_page: a pageout has the page off the LRU.
        branches.append(Branch(s.clone(), {op_id: -ERRNO["EBUSY"]}, name))
    if s.pages[page].node == op.node:
        return branches
    if not _referencing(s, page, concurrent):
        return branches
    # migrate_page_move_mapping finds a reference besides the isolation's on every pass.
    branches.append(Branch(s.clone(), {op_id: -ERRNO["EAGAIN"]}, name))
    slot = s.pages[page].swap_copy
    if slot is not None:
        # Unmapping a page in the swap cache leaves plain swap ptes, which a failed
        # migration does not restore: the page stays where it was, in the swap cache.
        after = s.clone()
        for key in after.mappers(page):
            after.ptes[key] = Swapped(slot)
        branches.append(Branch(after, {op_id: -ERRNO["EAGAIN"]}, name))
    return branches


def _moved_by(s: SpecState, other: Concurrent, page: int) -> bool:
    """Whether a concurrent migrate finds `page` already on its target node: it may be the
    migration that moved it there and still be putting migration entries back, one pte at
    a time (remove_migration_ptes walks the anon_vma), so this address may still hold one."""
    if not isinstance(other.op, Migrate) or other.held is not None:
        return False
    return migration_lookup(s, other.op) == page and s.pages[page].node == other.op.node


def pageout_busy(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    if not isinstance(op, Pageout):
        return []
    page = pageout_target(s, op)
    if page is None:
        return []
    isolating, referencing = _isolating(s, page, concurrent), _referencing(s, page, concurrent)
    if not (isolating or referencing):
        return []
    name = frozenset(("pageout-busy",))
    # The page is isolated by someone else, or locked (trylock fails): nothing happens.
    branches = [Branch(s.clone(), {op_id: 0}, name)]
    if not referencing:
        return branches
    # Reclaim may unmap the page to swap ptes and then fail to free it (someone holds a
    # reference): the page stays resident in the swap cache, where the next access finds it.
    after = s.clone()
    slot = after.pages[page].swap_copy
    if slot is None:
        slot = after.allocate_slot()
    if slot is not None:
        after.slots[slot] = after.pages[page].data
        after.update_page(page, swap_copy=slot)
        for key in after.mappers(page):
            after.ptes[key] = Swapped(slot)
        branches.append(Branch(after, {op_id: 0}, name))
    return branches


def migrate_stale_lookup(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    page = migration_target(s, op) if isinstance(op, Migrate) else None
    if page is None or not isinstance(op, Migrate):
        return []
    return [Branch(s.clone(), {}, frozenset(("migrate-stale-lookup",)),
                   Pending(op_id, op, page))]


def pageout_stale_lookup(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    page = pageout_target(s, op) if isinstance(op, Pageout) else None
    if page is None or not isinstance(op, Pageout):
        return []
    return [Branch(s.clone(), {}, frozenset(("pageout-stale-lookup",)),
                   Pending(op_id, op, page))]


def _unmaps(other: Op, proc: str, addr: int) -> bool:
    if isinstance(other, Exit):
        return other.proc == proc
    if isinstance(other, Mremap):  # moves the pte away from OLD's range, zaps NEW's
        return other.proc == proc and any(
            start <= addr < start + other.npages * PAGE_SIZE for start in (other.addr, other.new)
        )
    return (
        isinstance(other, Munmap | Madvise)
        and other.proc == proc
        and other.addr <= addr < other.addr + other.npages * PAGE_SIZE
    )


def _detached_above(s: SpecState, op: Migrate, unmap: Munmap) -> bool:
    """With the munmap's vmas detached (its first step) and its ptes not yet zapped, does
    find_vma still give a vma ending above the migrate's address?"""
    start, end = unmap.addr, unmap.addr + unmap.npages * PAGE_SIZE
    return any(v.end > op.addr and (v.end > end or v.start < start)
               for v in s.vmas[op.proc])


def _moves_into(s: SpecState, other: Op, proc: str, addr: int) -> bool:
    """`other` is an mremap of `proc` that will move a range onto `addr` (its checks pass)."""
    if not isinstance(other, Mremap) or other.proc != proc or overlaps(other):
        return False
    if not other.new <= addr < other.new + other.npages * PAGE_SIZE:
        return False
    vma = s.vma_at(proc, other.addr)
    return vma is not None and other.addr + other.npages * PAGE_SIZE <= vma.end


def migrate_unlocked_vanished(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    if not isinstance(op, Migrate) or not op.unlocked:
        return []
    results = []
    if any(_moves_into(s, other.op, op.proc, op.addr) for other in concurrent):
        # copy_vma linked the new vma before move_ptes filled it: a vma, no pte yet
        results.append(-ERRNO["ENOENT"])
    if s.vma_at(op.proc, op.addr) is None and not results:
        return []
    unmaps = [other.op for other in concurrent if _unmaps(other.op, op.proc, op.addr)]
    if unmaps and migration_lookup(s, op) is not None and not results:
        # found the vma, then the zap emptied the pte before follow_page
        results.append(-ERRNO["ENOENT"])
    # mremap's MREMAP_FIXED munmap of its new range has the same window (its old range has
    # no window: the ptes are moved before that munmap detaches the vma)
    unmaps = [Munmap(u.proc, u.new, u.npages) if isinstance(u, Mremap)
              and u.new <= op.addr < u.new + u.npages * PAGE_SIZE else u for u in unmaps]
    if any(isinstance(u, Munmap) and not _detached_above(s, op, u) for u in unmaps):
        # do_munmap detached the vmas before zapping: find_vma gives NULL while the ptes
        # (and so the thread's own later accesses) are still there
        results.append(-ERRNO["EFAULT"])
    if 0 <= op.node < s.config.nodes:
        return [Branch(s.clone(), {op_id: r}, frozenset(("migrate-unlocked-vanished",)))
                for r in results]
    return []


def mlock_flags_first(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    """A migrate or pageout that another mm's mlock has not yet made wait: mlock_fixup sets
    VM_LOCKED before make_pages_present faults the range in, and reclaim and migration of
    another mm take none of this mm's locks, so they may see the vma locked while it still
    maps the page shared with them (try_to_unmap's SWAP_FAIL)."""
    if not isinstance(op, Migrate | Pageout):
        return []
    branches = []
    for other in concurrent:
        mlock = other.op
        if not isinstance(mlock, Mlock) or (mlock.proc == op.proc and not (
                isinstance(op, Migrate) and op.unlocked)):
            continue  # the same mm: mmap_sem orders them (mlock holds it for write)
        after = s.clone()
        changed = flags_only(after, mlock, True)
        if not changed:
            continue
        result = apply(after, op, op_id)
        for start, end in changed:  # the mlock itself, run later, sets them and faults
            flags_only(after, Mlock(mlock.proc, start, (end - start) // PAGE_SIZE), False)
        branches.append(Branch(after, {op_id: result}, frozenset(("mlock-flags-first",))))
    return branches
