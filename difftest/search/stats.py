"""`ptediff stats FILE`: what a campaign did, from its observation lines (`--observe`).

Reads the test-case observations (hypothesis's schema, with ptediff's features: see
`ptediff.search.features`) and sums them up: the operation mix, the shapes of the programs
(parallel blocks, preemptions, configurations), the coverage of each modelled kernel function,
and when each divergence class first showed. Lines of other tests (an observation file can mix
them) and info lines are counted and skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptediff.core.errors import PtediffError
from ptediff.search.coverage import KernelCoverage
from ptediff.search.features import KFUNC, OP


class StatsError(PtediffError):
    """An observation file that cannot be read."""


@dataclass
class DivergenceSeen:
    name: str  # IMPL:CLASS
    count: int
    first_case: int  # 1-based index of the first test case that showed it
    first_seconds: float  # since the first test case


@dataclass
class CampaignStats:
    path: Path
    cases: int = 0  # ptediff test cases
    skipped: int = 0  # other lines: info messages, other tests
    outcomes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    how_generated: Counter[str] = field(default_factory=Counter)
    workers: set[int] = field(default_factory=set)
    seconds: float = 0.0  # from the first line to the last
    ops: Counter[str] = field(default_factory=Counter)  # operations per kind
    programs_with: Counter[str] = field(default_factory=Counter)  # programs using each kind
    parallel: int = 0  # programs with a parallel block
    preemptions: Counter[int] = field(default_factory=Counter)
    configs: Counter[str] = field(default_factory=Counter)
    coverage: KernelCoverage = field(default_factory=KernelCoverage)
    divergences: list[DivergenceSeen] = field(default_factory=list)
    # (test case, seconds, distinct divergence classes so far): the curve of the plot
    curve: list[tuple[int, float, int]] = field(default_factory=list)

    def to_json(self, plot: Path | None) -> dict[str, Any]:
        from ptediff.report.report_json import document

        total_ops = sum(self.ops.values())
        return document(
            "stats",
            path=str(self.path),
            cases=self.cases,
            skipped=self.skipped,
            seconds=self.seconds,
            workers=len(self.workers),
            outcomes=dict(self.outcomes),
            statuses=dict(self.statuses),
            how_generated=dict(self.how_generated),
            operations=[
                {"kind": kind, "ops": count, "share": count / total_ops if total_ops else 0.0,
                 "programs": self.programs_with[kind]}
                for kind, count in self.ops.most_common()
            ],
            parallel_programs=self.parallel,
            preemptions={str(k): v for k, v in sorted(self.preemptions.items())},
            configs=dict(self.configs.most_common()),
            coverage=self.coverage.to_json(),
            divergences=[
                {"divergence": d.name, "count": d.count, "first_case": d.first_case,
                 "first_seconds": d.first_seconds}
                for d in self.divergences
            ],
            plot=str(plot) if plot is not None else None,
        )


def read_campaign(path: Path) -> CampaignStats:
    from ptediff import impls

    try:
        text = path.read_text()
    except OSError as error:
        raise StatsError(f"{path}: cannot read: {error.strerror}") from None
    stats = CampaignStats(path, coverage=KernelCoverage.of(impls.REGISTRY.values()))
    first_time: float | None = None
    first_seen: dict[str, tuple[int, float]] = {}
    counts: Counter[str] = Counter()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            observation = json.loads(line)
        except json.JSONDecodeError as error:
            raise StatsError(f"{path}:{number}:{error.colno}: not JSON: {error.msg}") from None
        features = observation.get("features") if isinstance(observation, dict) else None
        if observation.get("type") != "test_case" or not isinstance(features, dict) \
                or "outcome" not in features:
            stats.skipped += 1
            continue
        metadata = observation.get("metadata") or {}
        moment = float(metadata.get("ptediff_time", observation.get("run_start", 0.0)))
        first_time = moment if first_time is None else min(first_time, moment)
        stats.seconds = max(stats.seconds, moment - first_time)
        stats.cases += 1
        _count(stats, observation, features)
        divergence = features.get("divergence")
        if divergence:
            counts[divergence] += 1
            first_seen.setdefault(divergence, (stats.cases, moment - first_time))
        stats.curve.append((stats.cases, moment - first_time, len(first_seen)))
    if not stats.cases and not stats.skipped:
        raise StatsError(f"{path}: no observations (write some with ptediff hunt --observe)")
    stats.divergences = [
        DivergenceSeen(name, counts[name], case, seconds)
        for name, (case, seconds) in sorted(first_seen.items(), key=lambda item: item[1])
    ]
    return stats


def _count(stats: CampaignStats, observation: dict[str, Any], features: dict[str, Any]) -> None:
    stats.outcomes[str(features["outcome"])] += 1
    stats.statuses[str(observation.get("status"))] += 1
    stats.how_generated[str(observation.get("how_generated"))] += 1
    worker = (observation.get("metadata") or {}).get("ptediff_worker")
    if isinstance(worker, int):
        stats.workers.add(worker)
    reached: dict[str, int] = {}
    for key, value in features.items():
        if key.startswith(OP):
            stats.ops[key[len(OP):]] += int(value)
            stats.programs_with[key[len(OP):]] += 1
        elif key.startswith(KFUNC):
            reached[key[len(KFUNC):]] = int(value)
    for name in reached:
        stats.coverage.functions.setdefault(name, "?")
    stats.coverage.record(reached)
    if int(features.get("parallel_blocks", 0)):
        stats.parallel += 1
    stats.preemptions[min(int(features.get("preemptions", 0)), 3)] += 1
    stats.configs[
        f"swap_bits={features.get('config:swap_bits')} highpte={features.get('config:highpte')} "
        f"nodes={features.get('config:nodes')}"
    ] += 1
