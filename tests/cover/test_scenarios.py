"""One scenario per folded fix, with the interleaving written out step by step.

Each schedule is the shortest one (found by breadth-first search over the models' traces) that
shows the bug in the matching pre-fix variant; the post-fix model runs the very same schedule
cleanly. Thread 0 is always the migration, thread 1 the fork; once a schedule is used up the
lowest-numbered runnable thread runs.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ptediff import impls
from ptediff.core.outcome import Outcome
from ptediff.core.program import (
    BUG,
    Config,
    Fault,
    Fork,
    Map,
    Migrate,
    Pageout,
    Parallel,
    Program,
    Prot,
    Swapon,
    Thread,
)

A = 0x1000
OLD, NEW = 7, 9  # data written before the race, and by the child after it

# Locked migration (under p0's mmap_sem) races p1 forking p2; p0 and p1 share the page.
# Fix 1, step by step:
#   0 x8  migrate: enter, mmap_sem, follow_page, lock page, anon_vma lock, unmap p1's and
#         p0's ptes (head order [p1, p0]) to READ entries, copy the page to the new one
#   1 x4  fork: enter, both mmap_sems, anon_vma_link(p2's vma) at the head: [p2, p1, p0]
#   0     migrate: takes the anon_vma lock, visits p2 (no page table yet: skip), waits for
#         p1's ptl
#   1 x2  fork: copies p1's READ entry into p2 - nothing will ever fix it
#   (then the migration restores p1 and p0 and unlocks the old page)
FIX1_LOCKED_SCHEDULE = (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1)
# Fix 1 with kernel-initiated migration (no mmap_sem) racing p0 forking p1.
FIX1_UNLOCKED_SCHEDULE = (0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1)
# Fix 3: the whole fork runs between try_to_unmap and the restore walk, so it copies READ
# entries, which the pre-fix copy_one_pte rebuilds as WRITE entries in parent and child.
FIX3_LOCKED_SCHEDULE = (0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1)
FIX3_UNLOCKED_SCHEDULE = (0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1)


def race(parent: str, child: str, *, unlocked: bool, schedule: tuple[int, ...]) -> Parallel:
    return Parallel(
        (
            Thread((Migrate("p0", A, 1, unlocked=unlocked),)),
            Thread((Fork(parent, child),)),
        ),
        schedule,
    )


def written_page() -> tuple[Map, Fault]:
    return Map("p0", A, 1, Prot.RW), Fault("p0", A, True, OLD)


def fix1_locked() -> Program:
    return Program(
        (
            *written_page(),
            Fork("p0", "p1"),
            race("p1", "p2", unlocked=False, schedule=FIX1_LOCKED_SCHEDULE),
            Fault("p2", A, False),  # op 5
        )
    )


def fix1_unlocked() -> Program:
    return Program(
        (
            *written_page(),
            race("p0", "p1", unlocked=True, schedule=FIX1_UNLOCKED_SCHEDULE),
            Fault("p1", A, False),  # op 4
        )
    )


def fix3_locked() -> Program:
    return Program(
        (
            *written_page(),
            Fork("p0", "p1"),
            race("p1", "p2", unlocked=False, schedule=FIX3_LOCKED_SCHEDULE),
            Fault("p2", A, True, NEW),  # op 5: the child writes
            Fault("p1", A, False),  # op 6: its parent reads
        )
    )


def fix3_unlocked() -> Program:
    return Program(
        (
            *written_page(),
            race("p0", "p1", unlocked=True, schedule=FIX3_UNLOCKED_SCHEDULE),
            Fault("p1", A, True, NEW),  # op 4: the child writes
            Fault("p0", A, False),  # op 5: its parent reads
        )
    )


def assert_clean(out: Outcome) -> None:
    assert out.bugs == []
    assert out.violations == []
    assert out.deadlock is None
    assert all(s.kind != "migration" for s in out.state.values())


@pytest.mark.parametrize(
    ("program", "grandchild", "fault_op"),
    [(fix1_locked, "p2", 5), (fix1_unlocked, "p1", 4)],
    ids=["three-process-locked", "two-process-unlocked"],
)
def test_fix1_orphan_migration_entry(
    program: Callable[[], Program], grandchild: str, fault_op: int
) -> None:
    prog = program()
    post = impls.run("postfix", prog)
    assert_clean(post)
    assert post.results[fault_op] == OLD

    pre = impls.run("prefix-anon-vma-head", prog, checkpoints=True)
    assert pre.checkpoints is not None
    after_race = pre.checkpoints[-2]
    assert after_race[(grandchild, A)].kind == "migration"
    assert pre.state[(grandchild, A)].kind == "migration"
    assert pre.results[fault_op] == BUG
    assert [(b.function, b.op) for b in pre.bugs] == [("migration_entry_to_page", fault_op)]
    assert {v.name for v in pre.violations} >= {"I1", "I2", "I6"}


def test_fix1_orphan_bugs_a_later_migration_of_the_new_page() -> None:
    """Consequence (b): the next migration walks into the orphan and BUGs in the migrator (to
    a third node, so the new page is not the old page's freed frame)."""
    prog = fix1_locked()
    prog = Program((*prog.steps[:-1], Migrate("p0", A, 2)), Config(nodes=3))
    pre = impls.run("prefix-anon-vma-head", prog)
    assert pre.results[5] == BUG
    assert [(b.function, b.op) for b in pre.bugs] == [("migration_entry_to_page", 5)]
    post = impls.run("postfix", prog)
    assert_clean(post)
    assert post.results[5] == 2


def test_fix1_orphan_meets_its_freed_frame_reused_by_the_next_migration() -> None:
    """Migrating back to node 0 takes the old page's frame off the hot list as the new page:
    it is locked, so the orphan passes migration_entry_to_page's BUG_ON — ptediff reports the
    stale entry meeting the frame's new owner as a use-after-free instead."""
    prog = fix1_locked()
    prog = Program((*prog.steps[:-1], Migrate("p0", A, 0)))
    pre = impls.run("prefix-anon-vma-head", prog)
    assert [(b.signature_class, b.function, b.op) for b in pre.bugs] == [
        ("use-after-free:page", "remove_migration_pte", 5)
    ]
    assert pre.results[5] == 0
    post = impls.run("postfix", prog)
    assert_clean(post)
    assert post.results[5] == 0


@pytest.mark.parametrize(
    ("program", "parent", "child", "read_op"),
    [(fix3_locked, "p1", "p2", 6), (fix3_unlocked, "p0", "p1", 5)],
    ids=["three-process-locked", "two-process-unlocked"],
)
def test_fix3_fork_makes_parent_and_child_share_a_writable_page(
    program: Callable[[], Program], parent: str, child: str, read_op: int
) -> None:
    prog = program()
    post = impls.run("postfix", prog)
    assert_clean(post)
    assert post.results[read_op] == OLD
    assert post.state[(parent, A)].frame != post.state[(child, A)].frame

    pre = impls.run("prefix-cow-fork-write", prog, checkpoints=True)
    assert pre.checkpoints is not None
    after_race = pre.checkpoints[-3]
    p, c = after_race[(parent, A)], after_race[(child, A)]
    assert p.kind == c.kind == "present"
    assert p.writable and c.writable and p.frame == c.frame
    assert pre.results[read_op] == NEW  # the child's write shows in the parent
    assert pre.bugs == []
    assert {v.name for v in pre.violations} == {"I4"}


@pytest.mark.parametrize(("swap_bits", "allowed"), [(5, 30), (2, 2)])
def test_fix4_swapon_past_max_swapfiles(swap_bits: int, allowed: int) -> None:
    prog = Program(tuple(Swapon(1) for _ in range(allowed + 1)), Config(swap_bits=swap_bits))
    post = impls.run("postfix", prog)
    assert [post.results[i] for i in range(allowed + 1)] == [0] * allowed + [-1]
    assert post.bugs == [] and post.violations == []

    pre = impls.run("prefix-swapon-range", prog)
    assert pre.results[allowed] == 0
    assert [(b.function, b.op) for b in pre.bugs] == [("sys_swapon", allowed)]
    assert "memory corruption" in pre.bugs[0].reason
    assert {v.name for v in pre.violations} == {"I7"}


def test_fix4_overflow_area_entries_look_like_migration_entries() -> None:
    """A page swapped to the area past swap_info[] gets a type-30 entry: a fault on it goes to
    migration_entry_wait and BUGs on the unlocked page the offset happens to name."""
    steps = [Swapon(1, prio=-100) for _ in range(30)]
    steps += [Swapon(2, prio=100), Map("p0", A, 1, Prot.RW), Fault("p0", A, True, OLD)]
    steps += [Pageout("p0", A), Fault("p0", A, False)]
    pre = impls.run("prefix-swapon-range", Program(tuple(steps)))
    assert pre.state[("p0", A)].kind == "migration"
    assert pre.results[34] == BUG
    assert [b.function for b in pre.bugs] == ["sys_swapon", "migration_entry_to_page"]


@pytest.mark.parametrize("highpte", [False, True])
def test_fix2_leaked_pte_mapping_only_with_highpte(highpte: bool) -> None:
    prog = Program(
        (*written_page(), Migrate("p0", A, 1), Fault("p0", A, False)),
        Config(highpte=highpte),
    )
    post = impls.run("postfix", prog)
    assert_clean(post)
    pre = impls.run("prefix-pte-unmap-arg", prog)
    assert pre.results == post.results == {0: 0, 1: 0, 2: 1, 3: OLD}
    assert pre.state == post.state
    if highpte:
        assert [(b.function, b.op) for b in pre.bugs] == [("remove_migration_pte", 2)]
        assert "leaked pte mapping" in pre.bugs[0].reason
    else:
        assert pre.bugs == []


@pytest.mark.parametrize(
    "program", [fix1_locked, fix1_unlocked, fix3_locked, fix3_unlocked], ids=lambda f: f.__name__
)
def test_prefix_combines_the_reverted_fixes(program: Callable[[], Program]) -> None:
    pre = impls.run("prefix", program())
    assert pre.bugs or any(v.name == "I4" for v in pre.violations)
