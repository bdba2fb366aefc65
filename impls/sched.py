"""Deterministic coroutine threads and the locks they take.

A model operation is a generator that yields a `Wait` wherever the real kernel can be
interleaved: before every lock acquisition (the lock is granted atomically when the thread is
resumed), at a trylock (the scheduler answers True/False), and where a task sleeps until a page
is unlocked. A thread is runnable iff what it waits for is available. No real threads, no
clocks: the same program and schedule always give the same run.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ptediff.core.errors import BudgetExceeded

T = TypeVar("T")

READ = "read"
WRITE = "write"
EXCLUSIVE = "exclusive"


class Lock:
    """A lock some task may hold; `name` says which kernel lock it is, for deadlock reports."""

    def __init__(self, name: str) -> None:
        self.name = name

    def available(self, task: Task, mode: str) -> bool:
        raise NotImplementedError

    def grant(self, task: Task, mode: str) -> None:
        raise NotImplementedError

    def drop(self, task: Task, mode: str) -> None:
        raise NotImplementedError

    def holders(self) -> list[Task]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.name}>"


class Mutex(Lock):
    """A spinlock or sleeping bit lock (PG_locked): one owner at a time."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.owner: Task | None = None

    @property
    def locked(self) -> bool:
        return self.owner is not None

    def available(self, task: Task, mode: str) -> bool:
        return self.owner is None

    def grant(self, task: Task, mode: str) -> None:
        assert self.owner is None, f"{self.name} granted while held"
        self.owner = task

    def drop(self, task: Task, mode: str) -> None:
        self.owner = None

    def holders(self) -> list[Task]:
        return [self.owner] if self.owner is not None else []


class RwSemaphore(Lock):
    """mmap_sem: many readers or one writer.

    Simplification: no writer preference (a waiting writer does not hold new readers back).
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.readers: list[Task] = []
        self.writer: Task | None = None

    def available(self, task: Task, mode: str) -> bool:
        if mode == WRITE:
            return self.writer is None and not self.readers
        return self.writer is None

    def grant(self, task: Task, mode: str) -> None:
        if mode == WRITE:
            self.writer = task
        else:
            self.readers.append(task)

    def drop(self, task: Task, mode: str) -> None:
        if mode == WRITE:
            self.writer = None
        else:
            self.readers.remove(task)

    def holders(self) -> list[Task]:
        return ([self.writer] if self.writer is not None else []) + list(self.readers)

    @property
    def write_locked(self) -> bool:
        return self.writer is not None


@dataclass
class Wait:
    """What a yielding thread waits for, and the kernel function it is in."""

    function: str

    def ready(self, task: Task) -> bool:
        return True

    def grant(self, task: Task) -> object:
        return None

    def describe(self) -> str:
        return "nothing"


@dataclass
class Preempt(Wait):
    """A plain interleaving point: always runnable."""

    def describe(self) -> str:
        return "the CPU"


@dataclass
class Acquire(Wait):
    """Acquire `lock` in `mode`; granted atomically when the thread resumes."""

    lock: Lock = field(default=None)  # type: ignore[assignment]
    mode: str = EXCLUSIVE

    def ready(self, task: Task) -> bool:
        return self.lock.available(task, self.mode)

    def grant(self, task: Task) -> object:
        self.lock.grant(task, self.mode)
        task.held.append((self.lock, self.mode))
        return None

    def describe(self) -> str:
        held = ", ".join(t.name for t in self.lock.holders()) or "nobody"
        mode = "" if self.mode == EXCLUSIVE else f" for {self.mode}"
        return f"{self.lock.name}{mode} (held by {held})"


@dataclass
class TryAcquire(Acquire):
    """A trylock: always runnable; the thread is sent True if it got the lock."""

    def ready(self, task: Task) -> bool:
        return True

    def grant(self, task: Task) -> object:
        if not self.lock.available(task, self.mode):
            return False
        super().grant(task)
        return True


@dataclass
class WaitUnlocked(Wait):
    """Sleep until `lock` is free (wait_on_page_locked)."""

    lock: Lock = field(default=None)  # type: ignore[assignment]

    def ready(self, task: Task) -> bool:
        return not self.lock.holders()

    def describe(self) -> str:
        held = ", ".join(t.name for t in self.lock.holders()) or "nobody"
        return f"{self.lock.name} to be released (held by {held})"


KGen = Generator[Wait, Any, T]


@dataclass(eq=False)
class Task:
    """One thread of control: a top-level operation or one thread of a parallel block."""

    index: int
    name: str
    body: Generator[Wait, Any, None]
    wait: Wait
    op_id: int = -1
    done: bool = False
    held: list[tuple[Lock, str]] = field(default_factory=list)
    kmaps: list[Any] = field(default_factory=list)  # pte mappings it holds (CONFIG_HIGHPTE)

    def release(self, lock: Lock, mode: str = EXCLUSIVE) -> None:
        self.held.remove((lock, mode))
        lock.drop(self, mode)

    def release_all(self) -> None:
        """What the model does for a task killed by a BUG: free every lock it held."""
        while self.held:
            lock, mode = self.held.pop()
            lock.drop(self, mode)
        self.kmaps.clear()

    def runnable(self) -> bool:
        return not self.done and self.wait.ready(self)


@dataclass(frozen=True)
class Step:
    """One scheduler step, as reported to the caller's hook."""

    task: Task
    function: str  # where the task was waiting when the step began
    op_id: int  # the operation the step ran
    runnable: tuple[int, ...]


class Deadlock(Exception):
    """No thread can run but some are unfinished."""


# Scheduler steps one block (or one top-level operation) may take. A modelled operation takes
# a few steps per page it touches, so only very long threads reach it; a model that loops for
# ever reaches it too. Either way it is a tool limit, `BudgetExceeded`, never a verdict.
MAX_STEPS = 20000
STEP_BUDGET_HINT = (
    "the block is too long for the model scheduler: split it into smaller parallel blocks or "
    "move operations out of it; a model that never finishes an operation also ends here"
)


class Scheduler:
    """Runs a set of tasks to completion, one step (resume until the next yield) at a time."""

    def __init__(
        self,
        switch_to: Callable[[Task | None], None],
        after_step: Callable[[Step], None],
        max_steps: int | None = None,
    ) -> None:
        self.switch_to = switch_to
        self.after_step = after_step
        self.max_steps = MAX_STEPS if max_steps is None else max_steps

    def run(
        self, tasks: Sequence[Task], schedule: Sequence[int] = (), *, observe: bool = True
    ) -> None:
        """Step k resumes schedule[k] if that task can run, else the lowest-numbered runnable.

        observe=False: nobody needs the steps (no trace, no invariant checks), so `after_step`
        is not called; one task then runs without the choosing (the hot path of a model run:
        every top-level operation is one task)."""
        if len(tasks) == 1 and not observe:
            self._run_alone(tasks[0])
            return
        k = 0
        by_index: dict[int, Task] = {}
        for t in reversed(tasks):  # the first task of an index wins, as a search in order
            by_index[t.index] = t
        while True:
            unfinished = [t for t in tasks if not t.done]
            if not unfinished:
                return
            runnable = tuple([t.index for t in unfinished if t.wait.ready(t)])
            if not runnable:
                raise Deadlock(describe_deadlock(unfinished))
            if k >= self.max_steps:
                raise BudgetExceeded("scheduler steps", self.max_steps, STEP_BUDGET_HINT)
            wanted = schedule[k] if k < len(schedule) else None
            task = by_index[wanted if wanted in runnable else runnable[0]]
            step = Step(task, task.wait.function, task.op_id, runnable)
            self.resume(task)
            k += 1
            self.after_step(step)

    def _run_alone(self, task: Task) -> None:
        """`run` of one task, unobserved: the same steps, deadlock and budget as `run`."""
        k = 0
        while not task.done:
            if not task.wait.ready(task):
                raise Deadlock(describe_deadlock([task]))
            if k >= self.max_steps:
                raise BudgetExceeded("scheduler steps", self.max_steps, STEP_BUDGET_HINT)
            self.resume(task)
            k += 1

    def resume(self, task: Task) -> None:
        granted = task.wait.grant(task)
        self.switch_to(task)
        try:
            task.wait = task.body.send(granted)
        except StopIteration:
            task.done = True
        finally:
            self.switch_to(None)


def describe_deadlock(tasks: Sequence[Task]) -> str:
    return "; ".join(f"{t.name} waits in {t.wait.function} for {t.wait.describe()}" for t in tasks)
