"""The known minimum of each seeded bug, measured rather than guessed.

Operations and threads are the known minimal program's. Preemptions come from exhaustive
exploration (`ptediff.search.schedules.ScheduleEnumerator`) of that program on the bug's variant
with a growing preemption bound: the fewest preemptions of any schedule whose divergence shows the
expected class. The canonical text picks, among those schedules, the one the simplifier would
keep (fewest preemptions, then the shortest witness, then the smallest), so a search that
reached the minimum prints exactly that text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache

from ptediff import impls as models
from ptediff.core.program import Parallel, Program
from ptediff.dsl.printer import format_program
from ptediff.search.explore import model_runner
from ptediff.search.findings import ProgramSize
from ptediff.search.schedules import ScheduleEnumerator, witness_schedule
from ptediff.search.strategies import normalize_schedule
from ptediff.search.tally import spec_judge

from bench.bugs import SeededBug, minimal_variants

MAX_BOUND = 3  # fix 3 needs one preemption, fix 1 two: 3 leaves room to be wrong about it


@dataclass(frozen=True)
class KnownMinimum:
    ops: int
    threads: int
    preemptions: int
    lines: int
    texts: tuple[str, ...]  # canonical text in each thread order that reaches `preemptions`
    schedules_explored: int


@cache
def known_minimum(bug: SeededBug, impl: str | None = None) -> KnownMinimum:
    """The bug's minimum on `impl` (default: its own variant); ValueError if the known minimal
    program does not show the class there."""
    kernel = models.load(impl or bug.variant)
    best: list[tuple[int, Program]] = []
    explored = 0
    for program in minimal_variants(bug):
        preemptions, scheduled, runs = _fewest_preemptions(program, bug, kernel)
        explored += runs
        if preemptions is not None:
            best.append((preemptions, scheduled))
    if not best:
        raise ValueError(f"the known minimum of {bug.label} does not show {bug.expected}")
    fewest = min(p for p, _ in best)
    sizes = [ProgramSize.of(program, preemptions) for preemptions, program in best]
    return KnownMinimum(
        ops=sizes[0].ops,
        threads=sizes[0].threads,
        preemptions=fewest,
        lines=min(size.lines for size in sizes),
        texts=tuple(format_program(program) for p, program in best if p == fewest),
        schedules_explored=explored,
    )


def _fewest_preemptions(
    program: Program, bug: SeededBug, kernel: type
) -> tuple[int | None, Program, int]:
    """(fewest preemptions showing the class, the program with that schedule, schedules run)."""
    judge, _ = spec_judge(program)
    runner = model_runner(kernel, check_invariants=False)
    if not program.blocks():
        classes = {signature.cls for signature in judge(runner(program)).signatures}
        return (0 if bug.expected in classes else None), program, 1
    explored = 0
    for bound in range(MAX_BOUND + 1):
        enumerator = ScheduleEnumerator(program, runner, preemption_bound=bound)
        hits = []
        for execution in enumerator:
            explored += 1
            classes = {signature.cls for signature in judge(execution.outcome).signatures}
            if bug.expected in classes:
                witness = witness_schedule(execution.outcome.trace, len(program.blocks()))
                hits.append((execution.preemptions, sum(map(len, witness)), witness))
        if hits:
            preemptions, _, witness = min(hits)
            return preemptions, _with_schedules(program, witness), explored
    return None, program, explored


def _with_schedules(program: Program, witness: tuple[tuple[int, ...], ...]) -> Program:
    schedules = iter(witness)
    steps = tuple(
        dataclasses.replace(step, schedule=normalize_schedule(next(schedules)))
        if isinstance(step, Parallel)
        else step
        for step in program.steps
    )
    return dataclasses.replace(program, steps=steps)
