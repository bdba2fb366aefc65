"""PCT schedule sampling (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010).

For programs with too many schedules to enumerate. Each run gives every thread a distinct random
priority and picks d−1 random change points among the k steps; at every step the highest-priority
runnable thread runs, and at the i-th change point the thread about to run drops to priority d−i
(below every initial priority) before the choice is made again. A bug that needs d ordering
constraints is then hit with probability at least 1/(n·k^(d−1)) per run.

Threads of different parallel blocks are distinct threads for the priorities, and the change
points are drawn over the steps of all blocks together. Runs are driven by replay: a run is
re-started with a longer schedule prefix whenever the model's own choice (the padded schedule or
its lowest-runnable fallback) differs from PCT's, until the whole run follows PCT.
Deterministic for a seed: all randomness comes from one `random.Random(seed)` per implementation.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ptediff.core.outcome import Outcome, TraceStep
from ptediff.core.program import Program
from ptediff.search.explore import ImplSpec, model_runner, resolve_impls
from ptediff.search.explore_report import ExploreReport, PctParameters
from ptediff.search.schedules import (
    PAD_MINIMUM,
    Choice,
    Execution,
    ExploreError,
    Runner,
    check_replay,
    count_preemptions,
    schedule_of,
    with_schedules,
    witness_schedule,
)
from ptediff.search.tally import spec_judge, tally

Thread = tuple[int, int]  # (block, thread index)


@dataclass
class PriorityPlan:
    """One PCT run's random choices: initial priorities and the change points (1-based steps)."""

    priorities: dict[Thread, int]
    change_points: dict[int, int]  # step -> priority the running thread drops to

    @classmethod
    def draw(
        cls, rng: random.Random, threads: Sequence[Thread], depth: int, steps: int
    ) -> PriorityPlan:
        ranks = list(range(depth, depth + len(threads)))
        rng.shuffle(ranks)
        points = [rng.randint(1, max(steps, 1)) for _ in range(depth - 1)]
        # Change point i lowers to depth - i; a step drawn twice keeps the lower priority.
        change_points: dict[int, int] = {}
        for i, step in enumerate(points, start=1):
            change_points[step] = min(change_points.get(step, depth), depth - i)
        return cls(dict(zip(threads, ranks, strict=True)), change_points)


def pct_choice(
    plan: PriorityPlan, priorities: dict[Thread, int], step: TraceStep, index: int
) -> int:
    """PCT's thread for step `index` (0-based); updates `priorities` at a change point."""

    candidates = step.runnable or (step.thread,)  # a model that records no runnable set

    def best() -> int:
        return max(candidates, key=lambda t: priorities[(step.block, t)])

    chosen = best()
    lowered = plan.change_points.get(index + 1)
    if lowered is not None:
        priorities[(step.block, chosen)] = lowered
        chosen = best()
    return chosen


def check_pct_arguments(runs: int, depth: int) -> None:
    if runs < 1:
        raise ExploreError(f"PCT needs at least one run, not {runs}")
    if depth < 1:
        raise ExploreError(f"the PCT depth must be >= 1, not {depth}")


class PctSampler:
    """Yields `runs` executions, each following PCT's schedule for a freshly drawn plan."""

    def __init__(self, program: Program, run: Runner, *, runs: int, depth: int, seed: int) -> None:
        check_pct_arguments(runs, depth)
        self.program = program
        self.run = run
        self.runs = runs
        self.depth = depth
        self.seed = seed
        blocks = program.blocks()
        self.nblocks = len(blocks)
        self.threads: list[Thread] = [
            (b, t) for b, block in enumerate(blocks) for t in range(len(block.threads))
        ]
        self.model_runs = 0
        self.steps = len(self._run(()).trace)  # k, from the default schedule

    def parameters(self) -> PctParameters:
        return PctParameters(self.runs, self.depth, self.seed, len(self.threads), self.steps)

    def _run(self, schedules: Sequence[tuple[int, ...]]) -> Outcome:
        self.model_runs += 1
        return self.run(with_schedules(self.program, schedules))

    def __iter__(self) -> Iterator[Execution]:
        rng = random.Random(self.seed)
        for _ in range(self.runs):
            plan = PriorityPlan.draw(rng, self.threads, self.depth, self.steps)
            yield self._follow(plan)

    def _follow(self, plan: PriorityPlan) -> Execution:
        prefix: list[Choice] = []
        while True:
            outcome = self._run(self._schedules(plan, prefix))
            trace = outcome.trace
            check_replay(prefix, trace)
            priorities = dict(plan.priorities)
            for index, step in enumerate(trace):
                wanted = pct_choice(plan, priorities, step, index)
                if wanted != step.thread:
                    if index < len(prefix):
                        raise ExploreError("the model's runnable sets changed on replay")
                    prefix = [(s.block, s.thread) for s in trace[:index]]
                    prefix.append((step.block, wanted))
                    break
            else:
                return Execution(
                    schedule_of(trace, self.nblocks),
                    witness_schedule(trace, self.nblocks),
                    count_preemptions(trace),
                    outcome,
                )

    def _schedules(self, plan: PriorityPlan, prefix: Sequence[Choice]) -> list[tuple[int, ...]]:
        """The prefix per block, padded with the thread PCT would most likely pick next."""
        per_block: list[list[int]] = [[] for _ in range(self.nblocks)]
        for block, thread in prefix:
            per_block[block].append(thread)
        pad = 2 * self.steps + PAD_MINIMUM
        first_open = prefix[-1][0] if prefix else 0
        for block in range(first_open, self.nblocks):
            if block == first_open and prefix:
                guess = prefix[-1][1]
            else:
                guess = max(
                    (t for b, t in self.threads if b == block),
                    key=lambda t: plan.priorities[(block, t)],
                )
            per_block[block].extend([guess] * pad)
        return [tuple(threads) for threads in per_block]


def pct(
    program: Program,
    impls: ImplSpec | Sequence[ImplSpec],
    *,
    runs: int,
    depth: int,
    seed: int,
    check_invariants: bool | str = True,
    level: str = "all",
) -> ExploreReport:
    """`runs` PCT schedules of bug depth `depth` per implementation, reproducible by `seed`."""
    started = time.perf_counter()
    check_pct_arguments(runs, depth)
    resolved = resolve_impls(impls)
    judge, spec_outcomes = spec_judge(program, level=level)
    reports = []
    parameters = None
    for name, kernel in resolved:
        run = model_runner(kernel, check_invariants=check_invariants)
        sampler = PctSampler(program, run, runs=runs, depth=depth, seed=seed)
        parameters = parameters or sampler.parameters()
        impl_report = tally(name, sampler, judge)
        impl_report.model_runs = sampler.model_runs
        impl_report.complete = False
        reports.append(impl_report)
    return ExploreReport(
        mode="pct",
        impls=reports,
        spec_outcomes=spec_outcomes,
        pct=parameters,
        elapsed=time.perf_counter() - started,
        program=program,
    )
