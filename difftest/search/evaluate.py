"""The engine behind `ptediff evaluate`: how fast each strategy finds each injected bug.

Etna-style: every task (a catalogue mutant, a folded-fix variant, `prefix`) is searched by every
strategy (`hunt`: the ptediff hunt as it stands; `peer`: the naive random peer,
`ptediff.search.peer`) once per seed, with the same budget, stopping at the first divergence.
A trial records examples and seconds to that failure, the class found, and the size of the
program the strategy reports (the hunt's minimal program; the peer's one-at-a-time reduction).

Examples to failure do not depend on the machine's load: the same seed gives the same count.
Seconds do. Trials run one after another, or with `jobs` > 1 in worker processes (one trial per
task; results are the same per seed, only seconds change with the load).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from ptediff import impls as models
from ptediff.dsl.printer import format_program
from ptediff.judge.check import clear_cache
from ptediff.search import profiles

HUNT = "hunt"
PEER = "peer"
STRATEGIES = (HUNT, PEER)
BUCKETS = (0.1, 1.0, 10.0, 60.0)  # the task-bucket chart: solved within this many seconds
SPEEDUP_TARGET = 10.0  # the hunt should be this many times ahead of the peer
SOLVE_TARGET_SECONDS = 60.0
# Every task is a bug postfix does not have: a divergence postfix shows too (one of its
# documented latent bugs, tests/regressions/latent-*.pte) is not the task's (see `hunt`).
BASELINE = "postfix"
FIX_VARIANTS = ("prefix-anon-vma-head", "prefix-pte-unmap-arg", "prefix-cow-fork-write",
                "prefix-swapon-range", "prefix")


@dataclass(frozen=True)
class Task:
    """One bug to find: an implementation that diverges from the spec."""

    impl: str
    kind: str  # mutant / fix (a folded-fix variant) / prefix
    area: str  # fork, mprotect, ... for mutants; "fix" otherwise
    expected: str | None  # the witness's class (mutants), None otherwise


@dataclass
class Trial:
    """One strategy's search for one task with one seed."""

    task: str
    strategy: str
    seed: int
    budget: float
    solved: bool = False
    cls: str | None = None
    examples: int | None = None  # to the first failure
    seconds: float | None = None
    ops: int | None = None  # the reported program's operations
    lines: int | None = None
    program: str | None = None
    total_examples: int = 0
    total_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass
class Summary:
    """One (task, strategy) over its seeds."""

    task: str
    strategy: str
    seeds: int
    solved: int
    examples: tuple[float | None, float | None, float | None]  # median, min, max
    seconds: tuple[float | None, float | None, float | None]
    ops: float | None  # median reported size
    classes: tuple[str, ...]


@dataclass
class Evaluation:
    tasks: list[Task]
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    budget: float
    profile: str = profiles.DEFAULT_PROFILE
    jobs: int = 1
    quick: bool = False
    trials: list[Trial] = field(default_factory=list)
    interrupted: bool = False

    def summaries(self) -> list[Summary]:
        return [
            summarize(self.trials_of(task.impl, strategy))
            for task in self.tasks
            for strategy in self.strategies
            if self.trials_of(task.impl, strategy)
        ]

    def trials_of(self, task: str, strategy: str) -> list[Trial]:
        return [t for t in self.trials if t.task == task and t.strategy == strategy]

    def summary(self, task: str, strategy: str) -> Summary | None:
        trials = self.trials_of(task, strategy)
        return summarize(trials) if trials else None

    def buckets(self) -> dict[str, list[int]]:
        """Per strategy: how many tasks its median trial solves within each of BUCKETS."""
        out: dict[str, list[int]] = {}
        for strategy in self.strategies:
            medians = [s.seconds[0] for s in self.summaries() if s.strategy == strategy]
            out[strategy] = [
                sum(1 for m in medians if m is not None and m <= limit) for limit in BUCKETS
            ]
        return out

    @property
    def errors(self) -> list[str]:
        return [
            f"{t.task} ({t.strategy}, seed {t.seed}): {e}" for t in self.trials for e in t.errors
        ]


def default_tasks(names: Sequence[str] | None = None) -> list[Task]:
    """The catalogue's observable mutants, then the four folded-fix variants and prefix; or
    the named implementations only."""
    from ptediff.dsl.parse import parse_file
    from ptediff.impls import mutants

    def expected(name: str) -> str | None:
        program = parse_file(mutants.witness(name))
        sigs = next(e.signatures for e in program.expects if e.impl == name)
        return sigs[0] if sigs else None

    every = [
        Task(name, "mutant", cls.AREA, expected(name)) for name, cls in mutants.CATALOGUE.items()
    ]
    every += [Task(name, "prefix" if name == "prefix" else "fix", "fix", None)
              for name in FIX_VARIANTS]
    if not names:
        return every
    known = {task.impl: task for task in every}
    chosen = []
    for name in names:
        models.load(name)  # a clear ImplLoadError for an unknown name
        chosen.append(known.get(name, Task(name, "other", "other", None)))
    return chosen


Progress = Callable[[Trial, int, int], None]  # (finished trial, done, total)


def evaluate(
    tasks: Sequence[Task],
    *,
    seeds: Sequence[int],
    budget: float,
    strategies: Sequence[str] = STRATEGIES,
    profile: str = profiles.DEFAULT_PROFILE,
    jobs: int = 1,
    quick: bool = False,
    progress: Progress | None = None,
) -> Evaluation:
    """Run every (task, strategy, seed) trial; Ctrl-C keeps the finished ones (interrupted)."""
    result = Evaluation(list(tasks), tuple(strategies), tuple(seeds), budget, profile, jobs, quick)
    units = [
        (task.impl, strategy, seed, budget, profile)
        for task in tasks
        for strategy in strategies
        for seed in seeds
    ]
    try:
        if jobs <= 1:
            for unit in units:
                _finish(result, run_trial(*unit), len(units), progress)
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for trial in pool.map(_run_unit, units):
                    _finish(result, trial, len(units), progress)
    except KeyboardInterrupt:
        result.interrupted = True
    return result


def _finish(result: Evaluation, trial: Trial, total: int, progress: Progress | None) -> None:
    result.trials.append(trial)
    if progress is not None:
        progress(trial, len(result.trials), total)


def _run_unit(unit: tuple[str, str, int, float, str]) -> Trial:
    return run_trial(*unit)


def run_trial(impl: str, strategy: str, seed: int, budget: float, profile: str) -> Trial:
    """One search for the first divergence of `impl`, from a cold spec cache."""
    clear_cache()
    if strategy == HUNT:
        return _hunt_trial(impl, seed, budget, profile)
    if strategy == PEER:
        return _peer_trial(impl, seed, budget)
    raise ValueError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")


def _hunt_trial(impl: str, seed: int, budget: float, profile: str) -> Trial:
    from ptediff.search.hunt import ANY_CLASS, hunt

    report = hunt([impl], seconds=budget, seed=seed, profile=profile, until={(impl, ANY_CLASS)},
                  baseline=_baseline(impl))
    trial = Trial(impl, HUNT, seed, budget, total_examples=report.examples,
                  total_seconds=report.seconds, errors=list(report.errors))
    if report.findings:
        first = min(report.findings, key=lambda f: (f.examples_to_first, f.seconds_to_first))
        trial.solved = first.seconds_to_first <= budget
        trial.cls = first.signature
        trial.examples = first.examples_to_first
        trial.seconds = first.seconds_to_first
        trial.ops = first.size.ops
        trial.lines = first.size.lines
        trial.program = first.text
    return trial


def _peer_trial(impl: str, seed: int, budget: float) -> Trial:
    from ptediff.search.peer import peer_search

    run = peer_search(impl, seed=seed, seconds=budget, baseline=_baseline(impl))
    trial = Trial(impl, PEER, seed, budget, total_examples=run.examples,
                  total_seconds=run.seconds)
    if run.solved:
        shown = run.reduced or run.program
        assert shown is not None
        trial.solved = True
        trial.cls = run.cls
        trial.examples = run.examples_to_first
        trial.seconds = run.seconds_to_first
        trial.ops = len(shown.ops())
        trial.program = format_program(shown)
        trial.lines = len(trial.program.splitlines())
    return trial


def _baseline(impl: str) -> str | None:
    return None if impl == BASELINE else BASELINE


# ---------------------------------------------------------------------------------------------
# Statistics


def censored_median(values: Sequence[float | None]) -> float | None:
    """The median with unsolved trials (None) counted as infinitely slow; None when that median
    is itself unsolved."""
    if not values:
        return None
    ranked = [math.inf if v is None else float(v) for v in values]
    median = statistics.median(ranked)
    return None if math.isinf(median) else median


def summarize(trials: Sequence[Trial]) -> Summary:
    solved = [t for t in trials if t.solved]

    def spread(attr: str) -> tuple[float | None, float | None, float | None]:
        values = [getattr(t, attr) if t.solved else None for t in trials]
        got = [v for v in values if v is not None]
        return (censored_median(values), min(got, default=None),
                max(got) if got and len(got) == len(values) else None)

    sizes = [t.ops for t in solved if t.ops is not None]
    return Summary(
        trials[0].task,
        trials[0].strategy,
        len(trials),
        len(solved),
        spread("examples"),
        spread("seconds"),
        statistics.median(sizes) if sizes else None,
        tuple(sorted({t.cls for t in solved if t.cls is not None})),
    )


def speedup(hunt: Summary | None, peer: Summary | None, attr: str) -> float | None:
    """How many times fewer examples (or seconds) the hunt needs than the peer, on the medians;
    None unless both solve the task; infinite when the hunt needs none."""
    if hunt is None or peer is None:
        return None
    h, p = getattr(hunt, attr)[0], getattr(peer, attr)[0]
    if h is None or p is None:
        return None
    return math.inf if h == 0 else p / h
