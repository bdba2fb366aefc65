"""Simplify a minimal failing program and the execution that shows its divergence.

Hypothesis leaves a program that no single choice change can shrink; this module works on the
program itself, keeping every candidate that still shows the **same primary signature class**
on the same implementation. It drives the rewriting passes (`ptediff.search.shrink_passes`)
and the schedule search:

1. drop operations one at a time (a thread left empty goes, a block left with one thread is
   unpacked);
2. sequential: unpack parallel blocks into plain operations (each thread order);
3. fewer threads: move a thread, or a thread's first or last operation, out of its block, or
   merge two threads; fewer processes: fold a forked process into its parent (see
   `ptediff.search.shrink_passes.fewer_processes`); simpler operations (one page, a locked
   migration) and configuration (the defaults);
4. fewer preemptions: explore the program's schedules with a growing preemption bound
   (`ptediff.search.schedules`) and keep the shortest schedule with the fewest preemptions;
5. canonical form: each block's threads in the order they first run (so its schedule starts
   with thread 0), children `p1, p2, ...` in creation order, written values `1, 2, ...`, the
   lowest address at 0x1000.

Edits keep the interleaving: a block's executed steps (from the model's trace) are edited
along with its threads and become its new explicit schedule. A preemption is a switch away from
a thread that could still run (`ptediff.search.schedules.count_preemptions`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from ptediff import impls
from ptediff.core.errors import DslValidationError
from ptediff.core.outcome import Outcome
from ptediff.core.program import Program, renumber_pins
from ptediff.dsl.validate import validate
from ptediff.judge.check import spec_outcomes
from ptediff.judge.differ import Judgement, judge
from ptediff.search.property import without_schedules
from ptediff.search.schedules import ScheduleEnumerator, count_preemptions, witness_schedule
from ptediff.search.shrink_passes import (
    Best,
    canonical,
    fewer_processes,
    fewer_threads,
    first_runner_first,
    sequential,
    simpler_config,
    simpler_ops,
    with_schedules,
    without_one_op,
    witness_schedules,
)

Concurrency = Literal["sequential", "threads", "preemptions"]
MAX_PREEMPTION_BOUND = 2  # exploring beyond this costs more than a simpler schedule is worth
MAX_SCHEDULES_PER_BOUND = 2000
MAX_RESCUE_SCHEDULES = 200  # per candidate edit whose old schedule lost the race
MAX_RUNS = 20_000  # model runs per simplification before rescheduling is given up
MAX_PASSES = 8


@dataclass(frozen=True)
class Simplified:
    """The simplest program found that still shows the divergence class."""

    program: Program
    judgement: Judgement
    outcome: Outcome
    preemptions: int  # in the run that shows it
    threads: int  # most threads in one parallel block (1 when there is none)

    @property
    def concurrency(self) -> Concurrency:
        """sequential: no parallel block; threads: needs one, but no preemption; else
        preemptions."""
        if not self.program.blocks():
            return "sequential"
        return "threads" if self.preemptions == 0 else "preemptions"


class Reproducer:
    """Runs candidates on one implementation and tells whether they show the class.

    Answers are remembered per program: the simplification passes start over after every
    success and meet the same candidates again.
    """

    def __init__(self, kernel: type, cls: str, *, check_invariants: bool | str = False) -> None:
        self.kernel = kernel
        self.cls = cls
        self.check_invariants = check_invariants
        self.runs = 0
        self._shown: dict[Program, tuple[Outcome, Judgement] | None] = {}
        self._rescued: dict[Program, tuple[Program, tuple[Outcome, Judgement] | None]] = {}

    def run(self, program: Program) -> Outcome:
        self.runs += 1
        return impls.run(self.kernel, program, check_invariants=self.check_invariants)

    def judge(self, program: Program, outcome: Outcome) -> Judgement:
        # the spec's outcomes never depend on a schedule: one spec run serves them all
        return judge(program, spec_outcomes(without_schedules(program)), outcome)

    def matches(self, program: Program, outcome: Outcome) -> bool:
        return _primary_is(self.judge(program, outcome), self.cls)

    def shows(self, program: Program) -> tuple[Outcome, Judgement] | None:
        """The run and its judgement when `program` is valid and shows the class."""
        if program not in self._shown:
            self._shown[program] = self._show(program)
        return self._shown[program]

    def _show(self, program: Program) -> tuple[Outcome, Judgement] | None:
        try:
            validate(program)
        except DslValidationError:
            return None
        outcome = self.run(program)
        judgement = self.judge(program, outcome)
        return (outcome, judgement) if _primary_is(judgement, self.cls) else None

    def rescheduled(self, program: Program) -> tuple[Program, tuple[Outcome, Judgement] | None]:
        """`program` with the first schedule (few preemptions first, in exploration order) that
        shows the class; the result is None when none of the schedules tried does."""
        if program not in self._rescued:
            self._rescued[program] = self._reschedule(program)
        return self._rescued[program]

    def _reschedule(self, program: Program) -> tuple[Program, tuple[Outcome, Judgement] | None]:
        if self.runs > MAX_RUNS:
            return program, None
        try:
            validate(program)
        except DslValidationError:
            return program, None
        enumerator = ScheduleEnumerator(
            program,
            self.run,
            preemption_bound=MAX_PREEMPTION_BOUND,
            max_schedules=MAX_RESCUE_SCHEDULES,
        )
        nblocks = len(program.blocks())
        for execution in enumerator:
            if self.matches(program, execution.outcome):
                witness = witness_schedule(execution.outcome.trace, nblocks)
                candidate = with_schedules(program, witness)
                return candidate, self.shows(candidate)
        return program, None


def _primary_is(judgement: Judgement, cls: str) -> bool:
    return judgement.divergence is not None and judgement.divergence.primary.cls == cls


def simplify(
    program: Program, kernel: type, cls: str, *, check_invariants: bool | str = False
) -> Simplified:
    """Simplify `program`, which shows divergence class `cls` on `kernel` (ValueError if not)."""
    reproducer = Reproducer(kernel, cls, check_invariants=check_invariants)
    shown = reproducer.shows(program)
    if shown is None:
        raise ValueError(f"the program does not show {cls} on {getattr(kernel, 'NAME', kernel)}")
    best = Best(program, *shown)
    for _ in range(MAX_PASSES):
        before = best.program
        for candidates in (
            without_one_op,
            sequential,
            fewer_threads,
            fewer_processes,
            simpler_ops,
            simpler_config,
        ):
            _improve(best, reproducer, candidates, rescue=candidates is not sequential)
        if best.program == before:
            break
    _fewest_preemptions(best, reproducer)
    _improve(best, reproducer, first_runner_first)
    _improve(best, reproducer, witness_schedules)
    _improve(best, reproducer, canonical)
    return Simplified(
        best.program,
        best.judgement,
        best.outcome,
        count_preemptions(best.outcome.trace),
        max((len(block.threads) for block in best.program.blocks()), default=1),
    )


def _improve(
    best: Best,
    reproducer: Reproducer,
    candidates: Callable[[Best], Iterator[Program]],
    *,
    rescue: bool = False,
) -> None:
    """Take the first candidate that shows the class, and start over from it, until none does.

    rescue: when a race stops showing under its old schedule (an edit changed how many steps
    a thread takes), look for another schedule before giving the candidate up.
    """
    progress = True
    while progress:
        progress = False
        for edited in candidates(best):
            candidate = renumber_pins(edited)  # an edit that dropped or moved a pin
            if candidate == best.program:
                continue
            shown = reproducer.shows(candidate)
            if shown is None and rescue and candidate.blocks() and best.program.blocks():
                candidate, shown = reproducer.rescheduled(candidate)
            if shown is not None:
                best.program, (best.outcome, best.judgement) = candidate, shown
                progress = True
                break


# ---------------------------------------------------------------------------------------------
# Fewer preemptions


def _fewest_preemptions(best: Best, reproducer: Reproducer) -> None:
    """The shortest schedule with the fewest preemptions that shows the class."""
    if not best.program.blocks():
        return
    current = count_preemptions(best.outcome.trace)
    nblocks = len(best.program.blocks())
    for bound in range(min(current, MAX_PREEMPTION_BOUND) + 1):
        enumerator = ScheduleEnumerator(
            best.program,
            reproducer.run,
            preemption_bound=bound,
            max_schedules=MAX_SCHEDULES_PER_BOUND,
        )
        hits = []
        for execution in enumerator:
            if reproducer.matches(best.program, execution.outcome):
                witness = witness_schedule(execution.outcome.trace, nblocks)
                hits.append((execution.preemptions, sum(map(len, witness)), witness))
        if hits:
            _, _, witness = min(hits)
            candidate = with_schedules(best.program, witness)
            shown = reproducer.shows(candidate)
            if shown is not None:
                best.program, (best.outcome, best.judgement) = candidate, shown
            return
