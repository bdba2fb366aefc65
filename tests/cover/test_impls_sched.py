"""The deterministic scheduler: schedules, fallback, trylocks, sleeping, deadlock."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from ptediff import impls
from ptediff.core.errors import BudgetExceeded
from ptediff.core.program import Config, Fault, Map, Parallel, Program, Prot, Swapon, Thread
from ptediff.impls.sched import (
    WRITE,
    Acquire,
    Deadlock,
    Mutex,
    Preempt,
    RwSemaphore,
    Scheduler,
    Step,
    Task,
    TryAcquire,
    Wait,
    WaitUnlocked,
)

Body = Generator[Wait, Any, None]


def make_task(index: int, body: Body, first: Wait | None = None) -> Task:
    """A task whose first step waits for `first` (a plain start by default)."""
    return Task(index, f"thread {index}", body, first or Preempt("start"))


def run(tasks: list[Task], schedule: tuple[int, ...] = ()) -> list[Step]:
    steps: list[Step] = []
    Scheduler(lambda task: None, steps.append).run(tasks, schedule)
    return steps


def steps_of(index: int, log: list[str], n: int) -> Body:
    for i in range(n):
        log.append(f"{index}.{i}")
        yield Preempt(f"f{index}")


def test_schedule_is_followed_then_lowest_runnable() -> None:
    log: list[str] = []
    tasks = [make_task(0, steps_of(0, log, 2)), make_task(1, steps_of(1, log, 2))]
    steps = run(tasks, (1, 1, 0))
    assert log == ["1.0", "1.1", "0.0", "0.1"]
    # n yields take n + 1 steps; after the schedule, the lowest-numbered runnable thread
    assert [s.task.index for s in steps] == [1, 1, 0, 0, 0, 1]
    assert steps[0].runnable == (0, 1)
    assert steps[-1].runnable == (1,)
    assert [s.function for s in steps[:3]] == ["start", "f1", "start"]


def holder(lock: Mutex, log: list[str]) -> Body:
    """Entered with `lock` held: hold it for one more step, then release it."""
    log.append("held")
    yield Preempt("hold")
    lock.owner.release(lock)  # type: ignore[union-attr]
    log.append("released")


def test_a_blocked_thread_is_skipped_even_when_scheduled() -> None:
    lock = Mutex("L")
    log: list[str] = []

    def waiter() -> Body:
        log.append("waiter got it")
        yield from ()

    tasks = [
        make_task(0, holder(lock, log), Acquire("hold", lock)),
        make_task(1, waiter(), Acquire("wait", lock)),
    ]
    steps = run(tasks, (0, 1, 1))
    assert log == ["held", "released", "waiter got it"]
    assert [s.task.index for s in steps] == [0, 0, 1]
    assert steps[1].runnable == (0,)


def test_trylock_reports_contention_without_waiting() -> None:
    lock = Mutex("L")
    got: list[bool] = []

    def trier() -> Body:
        got.append((yield TryAcquire("try", lock)))

    tasks = [make_task(0, holder(lock, []), Acquire("hold", lock)), make_task(1, trier())]
    run(tasks, (0, 1, 1))
    assert got == [False]
    run([make_task(0, trier())])
    assert got == [False, True]
    assert lock.locked


def test_wait_unlocked_sleeps_until_release() -> None:
    lock = Mutex("PG_locked")
    log: list[str] = []

    def sleeper() -> Body:
        yield WaitUnlocked("migration_entry_wait", lock)
        log.append("woke")

    tasks = [make_task(0, holder(lock, log), Acquire("hold", lock)), make_task(1, sleeper())]
    steps = run(tasks, (0, 1, 1, 1))
    assert log == ["held", "released", "woke"]
    assert [s.task.index for s in steps] == [0, 1, 0, 1]
    assert steps[2].runnable == (0,)


def test_rwsem_readers_share_writers_exclude() -> None:
    sem = RwSemaphore("mmap_sem")
    a = make_task(0, iter(()))
    b = make_task(1, iter(()))
    sem.grant(a, "read")
    assert sem.available(b, "read") and not sem.available(b, WRITE)
    sem.drop(a, "read")
    sem.grant(a, WRITE)
    assert not sem.available(b, "read")


def test_deadlock_names_threads_and_what_they_wait_for() -> None:
    first, second = Mutex("A"), Mutex("B")

    def then_take(other: Mutex) -> Body:
        yield Acquire("inner", other)

    tasks = [
        make_task(0, then_take(second), Acquire("outer", first)),
        make_task(1, then_take(first), Acquire("outer", second)),
    ]
    with pytest.raises(Deadlock) as stuck:
        run(tasks, (0, 1))
    assert str(stuck.value) == (
        "thread 0 waits in inner for B (held by thread 1); "
        "thread 1 waits in inner for A (held by thread 0)"
    )


def test_release_all_frees_every_lock_of_a_killed_task() -> None:
    first, second = Mutex("A"), Mutex("B")

    def take_second() -> Body:
        yield Acquire("y", second)

    task = make_task(0, take_second(), Acquire("x", first))
    run([task])
    assert first.locked and second.locked
    task.release_all()
    assert not first.locked and not second.locked and task.held == []


def test_run_records_the_trace_of_parallel_blocks_only() -> None:
    prog = Program(
        (
            Map("p0", 0x1000, 1, Prot.RW),
            Parallel(
                (Thread((Fault("p0", 0x1000, True, 1),)), Thread((Fault("p0", 0x1000, False),))),
                (1, 1, 1, 1, 1),
            ),
        )
    )
    out = impls.run("postfix", prog)
    assert out.trace, "the parallel block is traced"
    assert {t.block for t in out.trace} == {0}
    assert out.trace[0].thread == 1 and out.trace[0].op == 2
    assert out.trace[0].function == "user_access"
    assert all(t.thread in t.runnable for t in out.trace)
    assert out.results[2] == 0  # the read ran first: the zero page
    assert out.results[1] == 0


class LeakyKernel(impls.Kernel):
    """A broken model: swapon takes p0's mmap_sem and never gives it back."""

    def sys_swapon(self, nslots: int, prio: int | None) -> Generator[Wait, Any, int]:
        yield Acquire("sys_swapon", self.procs["p0"].mmap_sem, WRITE)
        return 0


def test_a_top_level_operation_that_cannot_run_is_a_deadlock() -> None:
    prog = Program((Swapon(1), Map("p0", 0x1000, 1, Prot.RW), Swapon(1)), Config())
    out = impls.run(LeakyKernel, prog)
    assert out.results == {0: 0}
    assert out.deadlock == (
        "op 1 waits in do_mmap_pgoff for mmap_sem of p0 for write (held by op 0)"
    )


def test_one_unobserved_task_runs_the_same_steps_deadlock_and_budget() -> None:
    """`observe=False` (a top-level operation with invariants off) skips the step hook and
    the choosing, nothing else: the same work, the same deadlock, the same step budget."""
    for observe in (True, False):
        log: list[str] = []
        seen: list[Step] = []
        Scheduler(lambda task: None, seen.append).run(
            [make_task(0, steps_of(0, log, 3))], observe=observe)
        assert log == ["0.0", "0.1", "0.2"]
        assert len(seen) == (4 if observe else 0)

        lock = Mutex("page lock")
        lock.owner = make_task(9, steps_of(9, [], 0))  # held by a task that never runs
        with pytest.raises(Deadlock, match="page lock"):
            Scheduler(lambda task: None, seen.append).run(
                [make_task(0, steps_of(0, [], 1), Acquire("lock_page", lock))], observe=observe)

        with pytest.raises(BudgetExceeded):
            Scheduler(lambda task: None, seen.append, max_steps=2).run(
                [make_task(0, steps_of(0, [], 5))], observe=observe)
