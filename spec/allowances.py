"""Documented allowances: results the kernel legitimately gives when operations overlap.

Inside a parallel block every operation is still atomic, and the allowed outcomes are first of
all the linearizations. Some kernel races give results no linearization gives; each one the spec
accepts is an `Allowance` in `ALLOWANCES`, with the kernel reason in docs/semantics.md. A rule
sees the state just before the operation and the *concurrent* operations — the next operation of
every other thread of the block, the ones that may be in flight at that moment — and returns the
extra branches it allows. A branch may complete a concurrent operation together with this one
(a joint step) when the race decides both results. Rules never fire outside parallel blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from difftest.outcome import ERRNO
from difftest.program import PAGE_SIZE, Exit, Fault, Fork, Migrate, Munmap, Op, Pageout, Result
from spec.fault import can_reuse, copy_on_write
from spec.ops import apply
from spec.paging import migration_target, move_page, pageout_target, reclaim
from spec.state import Present, SpecState, Swapped


@dataclass(frozen=True)
class Concurrent:
    """An operation another thread may have started but not finished (its next one)."""

    op_id: int
    op: Op


@dataclass
class Branch:
    """One possible effect of a step: the state after it, the results it fixed (op id ->
    result; more than one for a joint step), and the allowances it needed."""

    state: SpecState
    results: dict[int, Result]
    allowances: frozenset[str] = field(default_factory=frozenset)


Rule = Callable[[SpecState, int, Op, Sequence[Concurrent]], list[Branch]]


@dataclass(frozen=True)
class Allowance:
    name: str
    description: str
    rule: Rule


def step(s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]) -> list[Branch]:
    """Every effect one operation may have: the atomic one, then each allowance's."""
    after = s.clone()
    branches = [Branch(after, {op_id: apply(after, op, op_id)})]
    if concurrent:
        for allowance in ALLOWANCES:
            branches += allowance.rule(s, op_id, op, concurrent)
    return branches


# ---------------------------------------------------------------------------------------------
# What an operation touches: the pages whose lock or reference count it takes
# ---------------------------------------------------------------------------------------------


def pages_touched(s: SpecState, op: Op) -> set[int]:
    """Anonymous pages the operation holds (locks or references) while it runs."""
    keys: list[tuple[str, int]] = []
    if isinstance(op, Fault | Migrate | Pageout) and op.proc in s.vmas:
        keys = [(op.proc, op.addr)]
    elif isinstance(op, Fork) and op.parent in s.vmas:
        keys = [k for k in s.keys_of(op.parent) if isinstance(s.ptes[k], Present)]
    elif isinstance(op, Exit) and op.proc in s.vmas:
        keys = s.keys_of(op.proc)
    elif isinstance(op, Munmap) and op.proc in s.vmas:
        end = op.addr + op.npages * PAGE_SIZE
        keys = [k for k in s.keys_of(op.proc) if op.addr <= k[1] < end]
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


def _raced(s: SpecState, page: int, concurrent: Sequence[Concurrent]) -> bool:
    return any(page in pages_touched(s, c.op) for c in concurrent)


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------


def _reusing_write(s: SpecState, op: Op) -> int | None:
    """The page a write fault would reuse in place, if that is what it would do."""
    if not isinstance(op, Fault) or not op.write or op.proc not in s.vmas:
        return None
    vma = s.vma_at(op.proc, op.addr)
    pte = s.ptes.get((op.proc, op.addr))
    if vma is None or not vma.prot.writable or not isinstance(pte, Present) or pte.writable:
        return None
    return pte.page if can_reuse(s, (op.proc, op.addr), pte.page) else None


def wp_copy_racing_migration(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    page = _reusing_write(s, op)
    if page is None or not isinstance(op, Fault):
        return []
    branches = []
    for other in concurrent:
        if not isinstance(other.op, Migrate) or migration_target(s, other.op) != page:
            continue
        # The migration holds the page lock, so the fault copies; the migration then moves
        # the page it locked (now unmapped), or gives up busy.
        node = other.op.node
        # (-EBUSY is not possible here: it means the migration never got hold of the page.)
        for migrate_result, extra in ((node, ()), (-ERRNO["EAGAIN"], ("migrate-busy",))):
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
        if not isinstance(other.op, Pageout) or pageout_target(s, other.op) != page:
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


def _copied(s: SpecState, op: Fault) -> SpecState:
    after = s.clone()
    copy_on_write(after, (op.proc, op.addr), op.value)
    return after


def migrate_busy(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    if not isinstance(op, Migrate):
        return []
    page = migration_target(s, op)
    if page is None or not _raced(s, page, concurrent):
        return []
    name = frozenset(("migrate-busy",))
    branches = [Branch(s.clone(), {op_id: -ERRNO["EBUSY"]}, name),
                Branch(s.clone(), {op_id: -ERRNO["EAGAIN"]}, name)]
    slot = s.pages[page].swap_copy
    if slot is not None:
        # Unmapping a page in the swap cache leaves plain swap ptes, which a failed
        # migration does not restore: the page stays where it was, in the swap cache.
        after = s.clone()
        for key in after.mappers(page):
            after.ptes[key] = Swapped(slot)
        branches.append(Branch(after, {op_id: -ERRNO["EAGAIN"]}, name))
    return branches


def pageout_busy(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    if not isinstance(op, Pageout):
        return []
    page = pageout_target(s, op)
    if page is None or not _raced(s, page, concurrent):
        return []
    name = frozenset(("pageout-busy",))
    branches = [Branch(s.clone(), {op_id: 0}, name)]
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


ALLOWANCES: tuple[Allowance, ...] = (
    Allowance(
        "wp-copy-racing-migration",
        "a write fault that would reuse a page another thread is migrating may copy it instead",
        wp_copy_racing_migration,
    ),
    Allowance(
        "wp-copy-racing-pageout",
        "a write fault that would reuse a page another thread is paging out may copy it instead",
        wp_copy_racing_pageout,
    ),
    Allowance(
        "migrate-busy",
        "a migration racing another operation on the same page may fail with -EAGAIN or -EBUSY",
        migrate_busy,
    ),
    Allowance(
        "pageout-busy",
        "a pageout racing another operation on the same page may leave the page resident",
        pageout_busy,
    ),
)
ALLOWANCE_NAMES: frozenset[str] = frozenset(a.name for a in ALLOWANCES)
