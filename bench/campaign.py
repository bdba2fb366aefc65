"""The searches behind the time-to-failure and shrink-quality benchmarks, run once for both.

One search per (implementation, seed) of `bench.bugs.search_plan`: each single-fix variant for
its own bug, `prefix` for all four. Searches run in separate processes (`jobs` at a time);
each is deterministic given its seed except for how far the time budget lets it get.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.bugs import SeededBug, search_plan
from bench.search import SearchRun, search
from bench.settings import BenchSettings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    impl: str
    targets: tuple[str, ...]
    seed: int
    budget: float
    profile: str


@dataclass
class Campaign:
    plan: list[tuple[str, tuple[SeededBug, ...]]]
    runs: dict[tuple[str, int], dict[str, Any]]  # (impl, seed) -> SearchRun as a dict
    seeds: tuple[int, ...]

    def target_runs(self, impl: str, cls: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(search run, its record for `cls`) for every seed, in seed order."""
        runs = [self.runs[(impl, seed)] for seed in self.seeds]
        return [(run, run["targets"][cls]) for run in runs]


def run_job(job: Job) -> dict[str, Any]:
    result: SearchRun = search(
        job.impl, job.targets, seed=job.seed, budget=job.budget, profile=job.profile
    )
    document = dataclasses.asdict(result)
    for cls in result.targets:
        document["targets"][cls]["solved"] = result.solved(cls)
    return document


def run_campaign(settings: BenchSettings, progress: Progress | None = None) -> Campaign:
    plan = search_plan(settings.impls)
    seeds = tuple(range(settings.seeds))
    jobs = [
        Job(impl, tuple(bug.expected for bug in bugs), seed, settings.budget,
            settings.hypothesis_profile)
        for impl, bugs in plan
        for seed in seeds
    ]
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    if settings.jobs == 1:
        for job in jobs:
            runs[(job.impl, job.seed)] = _done(run_job(job), progress)
    else:
        with ProcessPoolExecutor(max_workers=settings.jobs) as pool:
            for job, document in zip(jobs, pool.map(run_job, jobs), strict=True):
                runs[(job.impl, job.seed)] = _done(document, progress)
    return Campaign(plan, runs, seeds)


def _done(document: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
    if progress is not None:
        solved = sum(t["solved"] for t in document["targets"].values())
        progress(
            f"  search {document['impl']} seed {document['seed']}: {solved}/"
            f"{len(document['targets'])} solved, {document['examples']} examples, "
            f"{document['seconds']:.1f} s"
        )
    return document
