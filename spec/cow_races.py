"""Allowance rules of the fault side: a write fault that copies where a linearization reuses
(the page is locked, isolated or mapped twice by the racing operation), and a fault whose
kernel handling and access are two steps. The table is `ptediff.spec.allowances.ALLOWANCES`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ptediff.core.outcome import ERRNO
from ptediff.core.program import PAGE_SIZE, Fault, Migrate, Mlock, Op, Pageout, Pin
from ptediff.spec.branch import Branch, Concurrent, Pending
from ptediff.spec.fault import can_reuse, copy_on_write, handle_fault, needs_fault
from ptediff.spec.mlock import has_locked_mapper
from ptediff.spec.ops import apply
from ptediff.spec.paging import move_page, reclaim
from ptediff.spec.state import Present, SpecState
from ptediff.spec.touch import migrating, reclaiming


def _reusing_write(s: SpecState, op: Op) -> int | None:
    """The page a write fault would reuse in place, if that is what it would do."""
    if not isinstance(op, Fault) or not op.write or op.proc not in s.vmas:
        return None
    vma = s.vma_at(op.proc, op.addr)
    pte = s.ptes.get((op.proc, op.addr))
    if vma is None or not vma.prot.writable or not isinstance(pte, Present) or pte.writable:
        return None
    return pte.page if can_reuse(s, (op.proc, op.addr), pte.page) else None


def _copied(s: SpecState, op: Fault) -> SpecState:
    after = s.clone()
    copy_on_write(after, (op.proc, op.addr), op.value)
    return after


def wp_copy_racing_migration(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    page = _reusing_write(s, op)
    if page is None or not isinstance(op, Fault):
        return []
    branches = []
    for other in concurrent:
        if not isinstance(other.op, Migrate) or migrating(s, other) != page or (
                has_locked_mapper(s, page)):
            continue
        # The migration holds the page lock, so the fault copies; the migration then moves
        # the page it locked (now unmapped), or gives up with -EAGAIN. (-EBUSY is not
        # possible here: it means the migration never got hold of the page.)
        node = other.op.node
        outcomes = ((node, ()), (-ERRNO["EAGAIN"], ("migrate-busy",)))
        for migrate_result, extra in outcomes[1:] if s.pinned(page) else outcomes:
            after = _copied(s, op)
            if migrate_result == node and page in after.pages:
                move_page(after, page, node)
            after.collect()
            branches.append(Branch(after, {op_id: 0, other.op_id: migrate_result},
                                   frozenset(("wp-copy-racing-migration", *extra))))
    return branches


def wp_copy_racing_pageout(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    page = _reusing_write(s, op)
    if page is None or not isinstance(op, Fault):
        return []
    branches = []
    for other in concurrent:
        if not isinstance(other.op, Pageout) or reclaiming(s, other) != page:
            continue
        # Reclaim holds the page lock, so the fault copies; reclaim then frees the old page
        # (it has no mappers left), taking and releasing a slot on the way.
        after = _copied(s, op)
        if page in after.pages:
            reclaim(after, page)
        after.collect()
        branches.append(Branch(after, {op_id: 0, other.op_id: 0},
                               frozenset(("wp-copy-racing-pageout",))))
    return branches


def wp_copy_racing_copy(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    if not isinstance(op, Fault) or not op.write or op.proc not in s.vmas:
        return []
    key = (op.proc, op.addr)
    mine = s.ptes.get(key)
    vma = s.vma_at(op.proc, op.addr)
    if vma is None or not vma.prot.writable or not isinstance(mine, Present) or mine.writable:
        return []
    branches = []
    for other in concurrent:
        other_key = _cow_writer_key(s, other.op, mine.page)
        if other_key is None or other_key == key:
            continue
        # Both see the page mapped twice: both copy, and the page nobody maps is freed.
        after = s.clone()
        value = other.op.value if isinstance(other.op, Fault) else s.pages[mine.page].data
        copy_on_write(after, other_key, value)
        if not can_reuse(after, key, mine.page):
            continue  # the linearizations already have this one copy as well
        copy_on_write(after, key, op.value)
        # an mlock completes in the same step (its other faults find what they need)
        other_result = apply(after, other.op, other.op_id) if isinstance(other.op, Mlock) else 0
        after.collect()
        branches.append(Branch(after, {op_id: 0, other.op_id: other_result},
                               frozenset(("wp-copy-racing-copy",))))
    return branches


def _cow_writer_key(s: SpecState, other: Op, page: int) -> tuple[str, int] | None:
    """The read-only pte of `page` a concurrent write fault, or an mlock's write fault (of a
    writable vma it newly locks), is about to break COW on."""
    if isinstance(other, Fault) and other.write:
        keys = [(other.proc, other.addr)]
    elif isinstance(other, Mlock):
        end = other.addr + other.npages * PAGE_SIZE
        keys = [(other.proc, a) for a in range(other.addr, end, PAGE_SIZE)]
    else:
        return None
    for key in keys:
        vma = s.vma_at(*key) if key[0] in s.vmas else None
        if vma is None or not vma.prot.writable or (isinstance(other, Mlock) and vma.locked):
            continue
        if s.ptes.get(key) == Present(page, False):
            return key
    return None


def access_after_fault(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    if isinstance(op, Pin):
        access = _pin_access(s, op)
        if access is None:
            return []
        # get_user_pages: handle_mm_fault, then follow_page takes the page mapped by then
        after = s.clone()
        handle_fault(after, access)
        after.collect()
        return [Branch(after, {}, frozenset(("access-after-fault",)), Pending(op_id, op))]
    if not isinstance(op, Fault) or not needs_fault(s, op):
        return []
    after = s.clone()
    handle_fault(after, op)
    after.collect()
    return [Branch(after, {}, frozenset(("access-after-fault",)), Pending(op_id, op))]


def _pin_access(s: SpecState, op: Pin) -> Fault | None:
    """The fault a pin makes before its page lookup, when it needs one (not a pin that fails
    its vma check, nor a read pin given the zero page without a page table)."""
    vma = s.vma_at(op.proc, op.addr) if op.proc in s.vmas else None
    if vma is None or not vma.prot.readable or (op.write and not vma.prot.writable):
        return None
    if not op.write and (op.proc, op.addr) not in s.ptes and not s.has_table(op.proc, op.addr):
        return None
    access = Fault(op.proc, op.addr, write=op.write)
    return access if needs_fault(s, access) else None
