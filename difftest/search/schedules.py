"""Schedule enumeration by replay: the schedules of a program's parallel blocks, one by one.

A kernel model runs the whole program from the start with a schedule prefix per parallel block,
and its trace says, at every step, which threads could have run. Each step where more than one
thread was runnable is a branch point; the enumerator re-runs the program once per alternative.
Several blocks are explored jointly: their steps form one sequence of choices, block after block.

A *preemption* is a switch, inside one block, away from a thread that could still have run; a
switch forced because the running thread blocked or finished is free. With a preemption bound the
enumerator visits exactly the schedules with at most that many preemptions, summed over all
blocks (CHESS-style context bounding); `None` means every schedule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ptediff.core.errors import PtediffError
from ptediff.core.outcome import Outcome, TraceStep
from ptediff.core.program import Parallel, Program

Schedule = tuple[tuple[int, ...], ...]  # one tuple of thread indices per parallel block
Runner = Callable[[Program], Outcome]  # one deterministic run of a kernel model
Choice = tuple[int, int]  # (block, thread) of one scheduler step

# Padding appended to the last scheduled block of a replay, as a multiple of the longest block
# seen so far: it keeps the replayed thread running after the prefix instead of falling back to
# the lowest-numbered one, so fewer replays overshoot the preemption bound and get discarded.
PAD_FACTOR = 2
PAD_MINIMUM = 8


class ExploreError(PtediffError):
    """An exploration that cannot be carried out: a bad bound or budget, an unreplayable model."""


# --------------------------------------------------------------------------------------------
# Schedules and traces


def with_schedules(program: Program, schedules: Sequence[tuple[int, ...]]) -> Program:
    """The program with its parallel blocks' schedules replaced, block by block."""
    replaced = iter(schedules)
    steps = tuple(
        dataclasses.replace(step, schedule=next(replaced, ()))
        if isinstance(step, Parallel)
        else step
        for step in program.steps
    )
    return dataclasses.replace(program, steps=steps)


def choices_of(trace: Sequence[TraceStep]) -> tuple[Choice, ...]:
    return tuple((step.block, step.thread) for step in trace)


def schedule_of(trace: Sequence[TraceStep], nblocks: int) -> Schedule:
    """The full schedule a trace followed: the thread of every step, per block."""
    per_block: list[list[int]] = [[] for _ in range(nblocks)]
    for step in trace:
        per_block[step.block].append(step.thread)
    return tuple(tuple(threads) for threads in per_block)


def witness_schedule(trace: Sequence[TraceStep], nblocks: int) -> Schedule:
    """The shortest per-block schedule that replays `trace`.

    Trailing steps that took the lowest-numbered runnable thread are dropped: that is what the
    scheduler does anyway once a schedule is exhausted.
    """
    per_block: list[list[TraceStep]] = [[] for _ in range(nblocks)]
    for step in trace:
        per_block[step.block].append(step)
    witness = []
    for steps in per_block:
        end = len(steps)
        while end and steps[end - 1].thread == min(steps[end - 1].runnable, default=-1):
            end -= 1
        witness.append(tuple(step.thread for step in steps[:end]))
    return tuple(witness)


def is_preemption(trace: Sequence[TraceStep], index: int, thread: int) -> bool:
    """Whether running `thread` at step `index` switches away from a thread that could go on."""
    if index == 0:
        return False
    previous, current = trace[index - 1], trace[index]
    return (
        previous.block == current.block
        and previous.thread != thread
        and previous.thread in current.runnable
    )


def count_preemptions(trace: Sequence[TraceStep]) -> int:
    return sum(is_preemption(trace, i, step.thread) for i, step in enumerate(trace))


def format_schedule(schedule: Schedule) -> str:
    """`0 0 1 | 1 0`: one group of thread indices per parallel block, in program order."""
    return " | ".join(" ".join(map(str, block)) or "-" for block in schedule)


# --------------------------------------------------------------------------------------------
# Enumeration


@dataclass(frozen=True)
class Execution:
    """One complete run of the program under one schedule."""

    schedule: Schedule  # the full schedule followed (every step)
    witness: Schedule  # the shortest schedule that replays it
    preemptions: int
    outcome: Outcome


def check_replay(prefix: Sequence[Choice], trace: Sequence[TraceStep]) -> None:
    """A model must follow a replayed prefix exactly, or the enumeration would be unsound."""
    followed = choices_of(trace[: len(prefix)])
    if followed != tuple(prefix):
        raise ExploreError(
            "the model did not replay a schedule deterministically: "
            f"asked for {list(prefix)}, ran {list(followed)}"
        )


def prefix_schedules(prefix: Sequence[Choice], nblocks: int, pad: int) -> list[tuple[int, ...]]:
    """Per-block schedules that replay `prefix`, the last scheduled thread padded to keep going."""
    per_block: list[list[int]] = [[] for _ in range(nblocks)]
    for block, thread in prefix:
        per_block[block].append(thread)
    if prefix:
        block, thread = prefix[-1]
        per_block[block].extend([thread] * pad)
    return [tuple(threads) for threads in per_block]


def check_limits(preemption_bound: int | None, max_schedules: int | None) -> None:
    if preemption_bound is not None and preemption_bound < 0:
        raise ExploreError(f"the preemption bound must be >= 0, not {preemption_bound}")
    if max_schedules is not None and max_schedules < 1:
        raise ExploreError(f"the schedule budget must be >= 1, not {max_schedules}")


class ScheduleEnumerator:
    """Depth-first enumeration of a program's schedules by replay.

    Iterating yields each schedule within the preemption bound exactly once, in a deterministic
    order. `model_runs` counts every run of the model, including runs whose continuation went
    past the bound (they only serve as a source of branch points and are not yielded).
    """

    def __init__(
        self,
        program: Program,
        run: Runner,
        *,
        preemption_bound: int | None = 2,
        max_schedules: int | None = None,
    ) -> None:
        check_limits(preemption_bound, max_schedules)
        self.program = program
        self.run = run
        self.preemption_bound = preemption_bound
        self.max_schedules = max_schedules
        self.nblocks = len(program.blocks())
        self.model_runs = 0
        self.schedules = 0
        self.complete = False  # every schedule within the bound was yielded

    def _within_bound(self, preemptions: int) -> bool:
        return self.preemption_bound is None or preemptions <= self.preemption_bound

    def __iter__(self) -> Iterator[Execution]:
        pending: list[tuple[Choice, ...]] = [()]
        longest_block = 0
        while pending:
            if self.max_schedules is not None and self.schedules >= self.max_schedules:
                return
            prefix = pending.pop()
            pad = PAD_FACTOR * longest_block + PAD_MINIMUM
            outcome = self.run(
                with_schedules(self.program, prefix_schedules(prefix, self.nblocks, pad))
            )
            self.model_runs += 1
            trace = outcome.trace
            check_replay(prefix, trace)
            schedule = schedule_of(trace, self.nblocks)
            longest_block = max(longest_block, *map(len, schedule), 0)
            pending.extend(self._branches(prefix, trace))
            preemptions = count_preemptions(trace)
            if self._within_bound(preemptions):
                self.schedules += 1
                yield Execution(
                    schedule, witness_schedule(trace, self.nblocks), preemptions, outcome
                )
        self.complete = True

    def _branches(
        self, prefix: tuple[Choice, ...], trace: Sequence[TraceStep]
    ) -> list[tuple[Choice, ...]]:
        """Prefixes of the unexplored siblings of `trace`, deepest and lowest thread on top."""
        branches: list[tuple[Choice, ...]] = []
        choices = choices_of(trace)
        preemptions_before = 0
        for index, step in enumerate(trace):
            if index >= len(prefix):
                for thread in sorted(step.runnable, reverse=True):
                    if thread == step.thread:
                        continue
                    taken = preemptions_before + is_preemption(trace, index, thread)
                    if self._within_bound(taken):
                        branches.append((*choices[:index], (step.block, thread)))
            preemptions_before += is_preemption(trace, index, step.thread)
            if not self._within_bound(preemptions_before):
                break  # every deeper prefix is already past the bound
        return branches


__all__ = [
    "PAD_FACTOR",
    "PAD_MINIMUM",
    "Choice",
    "Execution",
    "ExploreError",
    "Runner",
    "Schedule",
    "ScheduleEnumerator",
    "check_limits",
    "check_replay",
    "choices_of",
    "count_preemptions",
    "format_schedule",
    "is_preemption",
    "prefix_schedules",
    "schedule_of",
    "with_schedules",
    "witness_schedule",
]
