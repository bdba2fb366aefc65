"""impls.run on sequential programs: results, final state, checkpoints, BUG recovery."""

from __future__ import annotations

from ptediff import impls
from ptediff.core.outcome import NONE_PTE, Outcome
from ptediff.core.program import (
    BUG,
    SIGSEGV,
    Config,
    Exit,
    Fault,
    Fork,
    Map,
    Migrate,
    Mprotect,
    Munmap,
    Op,
    Parallel,
    Program,
    Prot,
    Result,
    Swapon,
    Thread,
)
from ptediff.impls.variants import AnonVmaHead

A, B = 0x1000, 0x2000
EPERM, ENOENT, ESRCH, ENOMEM, EFAULT, EEXIST, ENODEV, EINVAL = -1, -2, -3, -12, -14, -17, -19, -22


def run(*steps: Op | Parallel, config: Config | None = None, **kwargs: bool) -> Outcome:
    return impls.run("postfix", Program(tuple(steps), config or Config()), **kwargs)


def results(out: Outcome) -> list[Result | None]:
    return [out.results.get(i) for i in range(max(out.results) + 1)]


def test_map_munmap_results() -> None:
    out = run(
        Map("p0", A, 2, Prot.RW),
        Map("p0", B, 1, Prot.R),  # overlaps
        Map("p0", A + 1, 1, Prot.R),
        Map("p0", 0x8000, 0, Prot.R),
        Munmap("p0", 0x9000, 1),  # nothing there
        Munmap("p0", B, 1),
        Munmap("p0", A + 1, 1),
        Fault("p0", B, False),
    )
    assert results(out) == [0, EEXIST, EINVAL, EINVAL, 0, 0, EINVAL, SIGSEGV]
    assert list(out.state) == [("p0", A)]
    assert out.vma_prot == {("p0", A): "rw"}


def test_faults_read_zero_write_value_and_sigsegv() -> None:
    out = run(
        Map("p0", A, 1, Prot.R),
        Map("p0", B, 1, Prot.NONE),
        Fault("p0", A, False),
        Fault("p0", A, True, 5),
        Fault("p0", B, False),
        Fault("p0", 0x5000, False),
        Mprotect("p0", A, 1, Prot.RW),
        Fault("p0", A + 8, True, 5),  # any address in the page
        Fault("p0", A, False),
    )
    assert results(out) == [0, 0, 0, SIGSEGV, SIGSEGV, SIGSEGV, 0, 0, 5]
    pte = out.state[("p0", A)]
    assert (pte.kind, pte.writable, pte.node, pte.data) == ("present", True, 0, 5)
    assert out.state[("p0", B)] == NONE_PTE
    assert out.vma_prot == {("p0", A): "rw", ("p0", B): "none"}


def test_fork_shares_read_only_and_cow_breaks_on_write() -> None:
    out = run(
        Map("p0", A, 1, Prot.RW),
        Fault("p0", A, True, 5),
        Fork("p0", "p1"),
        Fault("p1", A, True, 6),
        Fault("p0", A, True, 7),  # now exclusive again: reused in place
        Fault("p1", A, False),
    )
    assert results(out) == [0, 0, 0, 0, 0, 6]
    p0, p1 = out.state[("p0", A)], out.state[("p1", A)]
    assert p0.writable and p1.writable and p0.frame != p1.frame
    assert (p0.data, p1.data) == (7, 6)


def test_fork_skips_vmas_without_anon_vma() -> None:
    out = run(Map("p0", A, 1, Prot.RW), Fault("p0", A, False), Fork("p0", "p1"))
    assert out.state[("p0", A)].frame == 0  # zero page
    assert out.state[("p1", A)] == NONE_PTE


def test_migrate_results_and_write_bit_kept() -> None:
    out = run(
        Map("p0", A, 2, Prot.RW),
        Fault("p0", A, True, 5),
        Migrate("p0", A, 1),
        Migrate("p0", A, 1),  # already there
        Migrate("p0", B, 1),  # none pte
        Migrate("p0", 0x9000, 1),
        Migrate("p0", A, 2),  # only nodes 0 and 1
    )
    assert results(out) == [0, 0, 1, 1, ENOENT, EFAULT, ENODEV]
    pte = out.state[("p0", A)]
    assert (pte.kind, pte.writable, pte.node, pte.data) == ("present", True, 1, 5)


def test_migrate_moves_shared_pages_for_every_mapper() -> None:
    out = run(
        Map("p0", A, 1, Prot.RW),
        Fault("p0", A, True, 5),
        Fork("p0", "p1"),
        Migrate("p1", A, 1),
    )
    p0, p1 = out.state[("p0", A)], out.state[("p1", A)]
    assert p0.frame == p1.frame and p0.node == p1.node == 1
    assert not p0.writable and not p1.writable


def test_mprotect_hole_keeps_earlier_changes() -> None:
    out = run(
        Map("p0", A, 1, Prot.RW),
        Fault("p0", A, True, 5),
        Mprotect("p0", A, 2, Prot.R),
        Mprotect("p0", 0x7000, 1, Prot.R),
    )
    assert results(out) == [0, 0, ENOMEM, ENOMEM]
    assert out.vma_prot[("p0", A)] == "r"
    assert not out.state[("p0", A)].writable


def test_exit_removes_the_process_and_later_ops_on_it_fail() -> None:
    out = run(
        Map("p0", A, 1, Prot.RW),
        Fault("p0", A, True, 5),
        Fork("p0", "p1"),
        Exit("p1"),
        Fault("p1", A, False),
        Fault("p0", A, True, 6),
    )
    assert results(out) == [0, 0, 0, 0, ESRCH, 0]
    assert set(out.state) == {("p0", A)}
    assert out.state[("p0", A)].writable  # reused: p1's mapping is gone


def test_swapon_results() -> None:
    out = run(Swapon(1), Swapon(1), Swapon(1), config=Config(swap_bits=2))
    assert results(out) == [0, 0, EPERM]


def test_checkpoints_after_every_top_level_step() -> None:
    steps = (
        Map("p0", A, 1, Prot.RW),
        Parallel((Thread((Fault("p0", A, True, 5),)), Thread((Fault("p0", A, False),)))),
        Munmap("p0", A, 1),
    )
    out = run(*steps, checkpoints=True)
    assert out.checkpoints is not None and len(out.checkpoints) == 3
    assert out.checkpoints[0] == {("p0", A): NONE_PTE}
    assert out.checkpoints[1][("p0", A)].data == 5
    assert out.checkpoints[2] == {}
    assert run(*steps).checkpoints is None


def bug_then_munmap() -> Program:
    """An orphan migration entry (fix 1 reverted) BUGs the fault that touches it while the
    fault holds p1's mmap_sem and pte lock; p1's munmap afterwards needs the semaphore."""
    return Program(
        (
            Map("p0", A, 1, Prot.RW),
            Fault("p0", A, True, 5),
            Parallel(
                (
                    Thread((Migrate("p0", A, 1, unlocked=True),)),
                    Thread((Fork("p0", "p1"),)),
                ),
                (0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1),
            ),
            Fault("p1", A, False),
            Munmap("p1", A, 1),
            Fault("p1", A, False),
        )
    )


def test_a_bug_kills_the_task_and_its_locks_stay_held() -> None:
    """As on a real box: the oopsed task never releases p1's mmap_sem, so munmap waits for ever."""
    out = impls.run("prefix-anon-vma-head", bug_then_munmap())
    assert out.results[4] == BUG and 5 not in out.results and 6 not in out.results
    assert out.deadlock is not None and "mmap_sem of p1" in out.deadlock
    assert [b.function for b in out.bugs] == ["migration_entry_to_page"]


class ReleasingLocks(AnonVmaHead):
    BUG_RELEASES_LOCKS = True


def test_bug_releases_locks_lets_the_program_go_on() -> None:
    """The documented option: the dead task's locks are freed and later operations run."""
    out = impls.run(ReleasingLocks, bug_then_munmap())
    assert [out.results[i] for i in range(4, 7)] == [BUG, 0, SIGSEGV]
    assert out.deadlock is None
    assert [b.function for b in out.bugs] == ["migration_entry_to_page"]
