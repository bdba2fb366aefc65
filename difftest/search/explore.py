"""Exhaustive schedule exploration of a program's parallel blocks: `explore(program, impls)`.

For each implementation, `ptediff.search.schedules` enumerates every schedule within the
preemption bound by replay, `ptediff.search.tally` judges and counts the executions against the
spec, and the result is an `ExploreReport` (`ptediff.search.explore_report`) in herd7's manner.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ptediff.core.outcome import Outcome
from ptediff.core.program import Program
from ptediff.search.explore_report import ExploreReport
from ptediff.search.schedules import ExploreError, Runner, ScheduleEnumerator, check_limits
from ptediff.search.tally import spec_judge, tally

ImplSpec = str | type


def resolve_impls(impls: ImplSpec | Sequence[ImplSpec]) -> list[tuple[str, type]]:
    """(display name, Kernel class) for each implementation given by name, path or class."""
    from ptediff import impls as models

    if isinstance(impls, str | type):
        impls = [impls]
    if not impls:
        raise ExploreError("no implementation to explore")
    resolved = []
    for impl in impls:
        kernel = models.load(impl) if isinstance(impl, str) else impl
        name = impl if isinstance(impl, str) else getattr(kernel, "NAME", "") or kernel.__name__
        resolved.append((name, kernel))
    return resolved


def model_runner(kernel: type, *, check_invariants: bool | str = True) -> Runner:
    from ptediff import impls as models

    def run(program: Program) -> Outcome:
        return models.run(kernel, program, check_invariants=check_invariants)

    return run


def explore(
    program: Program,
    impls: ImplSpec | Sequence[ImplSpec],
    *,
    preemption_bound: int | None = 2,
    max_schedules: int | None = None,
    check_invariants: bool | str = True,
    level: str = "all",
) -> ExploreReport:
    """Run every schedule of `program` (up to the preemption bound) on each implementation.

    `impls`: registered names, `package.module:Class` paths or Kernel classes. `max_schedules`
    caps the schedules per implementation; the report then says the exploration is partial.
    `check_invariants=False` runs the models about four times faster but reports no
    `invariant:*` signatures.
    """
    started = time.perf_counter()
    check_limits(preemption_bound, max_schedules)
    resolved = resolve_impls(impls)
    judge, spec_outcomes = spec_judge(program, level=level)
    reports = []
    for name, kernel in resolved:
        enumerator = ScheduleEnumerator(
            program,
            model_runner(kernel, check_invariants=check_invariants),
            preemption_bound=preemption_bound,
            max_schedules=max_schedules,
        )
        impl_report = tally(name, enumerator, judge)
        impl_report.model_runs = enumerator.model_runs
        impl_report.complete = enumerator.complete
        reports.append(impl_report)
    return ExploreReport(
        mode="exhaustive",
        impls=reports,
        spec_outcomes=spec_outcomes,
        preemption_bound=preemption_bound,
        elapsed=time.perf_counter() - started,
        program=program,
    )


__all__ = ["ImplSpec", "explore", "model_runner", "resolve_impls"]
