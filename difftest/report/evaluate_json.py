"""The `evaluate` JSON document (docs/report-schema.json, `$defs/evaluate`)."""

from __future__ import annotations

import math
from typing import Any

from ptediff.report.evaluate import hunt_misses, targets
from ptediff.report.report_json import document
from ptediff.search.evaluate import BUCKETS, HUNT, PEER, Evaluation, speedup

Json = dict[str, Any]


def evaluate_json(ev: Evaluation, chart: str | None = None) -> Json:
    return document(
        "evaluate",
        budget_seconds=ev.budget,
        seeds=list(ev.seeds),
        strategies=list(ev.strategies),
        profile=ev.profile,
        jobs=ev.jobs,
        quick=ev.quick,
        interrupted=ev.interrupted,
        tasks=[
            {"impl": t.impl, "kind": t.kind, "area": t.area, "expected": t.expected}
            for t in ev.tasks
        ],
        trials=[
            {
                "task": t.task, "strategy": t.strategy, "seed": t.seed, "solved": t.solved,
                "class": t.cls, "examples_to_first": t.examples, "seconds_to_first": t.seconds,
                "ops": t.ops, "lines": t.lines, "program": t.program,
                "examples": t.total_examples, "seconds": t.total_seconds, "errors": t.errors,
            }
            for t in ev.trials
        ],
        summaries=[
            {
                "task": s.task, "strategy": s.strategy, "seeds": s.seeds, "solved": s.solved,
                "median_examples": s.examples[0], "min_examples": s.examples[1],
                "max_examples": s.examples[2], "median_seconds": s.seconds[0],
                "min_seconds": s.seconds[1], "max_seconds": s.seconds[2],
                "median_ops": s.ops, "classes": list(s.classes),
            }
            for s in ev.summaries()
        ],
        speedups=[
            {
                "task": task.impl,
                "examples": _finite(speedup(ev.summary(task.impl, HUNT),
                                            ev.summary(task.impl, PEER), "examples")),
                "seconds": _finite(speedup(ev.summary(task.impl, HUNT),
                                           ev.summary(task.impl, PEER), "seconds")),
            }
            for task in ev.tasks
            if ev.summary(task.impl, HUNT) is not None and ev.summary(task.impl, PEER) is not None
        ],
        bucket_limits=list(BUCKETS),
        buckets=ev.buckets(),
        targets=[
            {"target": t.what, "wanted": t.wanted, "got": t.got, "met": t.met}
            for t in targets(ev)
        ],
        hunt_misses=hunt_misses(ev),
        chart=chart,
    )


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: a hunt that needed no examples reports None (see the table)."""
    return None if value is None or math.isinf(value) else value
