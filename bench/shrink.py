"""Benchmark 2, shrink quality: the size of each reported (shrunk, then simplified) program
against the bug's known minimum (`bench.minima`), per seed."""

from __future__ import annotations

import statistics
from typing import Any

from bench.bugs import SeededBug
from bench.campaign import Campaign
from bench.minima import KnownMinimum, known_minimum
from bench.results import BenchResult, Target, render_table

TARGET_FRACTION = 0.9  # "shrunk to the known minimum in >= 9 of 10 seeds"
NAME = "shrink"
SIZE_FIELDS = ("ops", "threads", "preemptions", "lines")


def report(campaign: Campaign) -> BenchResult:
    rows = [_row(campaign, impl, bug) for impl, bugs in campaign.plan for bug in bugs]
    table = render_table(
        [
            [
                r["bug"],
                r["impl"],
                _size(r["minimum"]),
                f"{r['reported']}/{r['seeds']}",
                _size(r["median_size"]) if r["median_size"] else "-",
                "-" if r["max_ops"] is None else r["max_ops"],
                f"{r['at_minimum']}/{r['seeds']}",
                f"{r['text_matches']}/{r['seeds']}",
            ]
            for r in rows
        ],
        headers=["bug", "searched", "minimum ops/thr/pre/lines", "reported", "median found",
                 "max ops", "at minimum", "same text"],
    )
    targets = [
        Target(
            f"shrunk to the known minimum, {r['bug']} on {r['impl']}",
            f">= {TARGET_FRACTION:.0%} of seeds",
            f"{r['at_minimum']}/{r['seeds']}",
            r["at_minimum"] >= TARGET_FRACTION * r["seeds"],
        )
        for r in rows
    ]
    return BenchResult(NAME, table, rows, targets=targets)


def _row(campaign: Campaign, impl: str, bug: SeededBug) -> dict[str, Any]:
    minimum = known_minimum(bug, impl)
    per_seed = campaign.target_runs(impl, bug.expected)
    reported = [t for _, t in per_seed if t["solved"]]
    sizes = [t["size"] for t in reported]
    median_size = (
        {f: statistics.median(s[f] for s in sizes) for f in SIZE_FIELDS} if sizes else None
    )
    return {
        "bug": bug.label,
        "impl": impl,
        "expected": bug.expected,
        "seeds": len(per_seed),
        "minimum": {f: getattr(minimum, f) for f in SIZE_FIELDS},
        "minimum_texts": list(minimum.texts),
        "minimum_schedules_explored": minimum.schedules_explored,
        "reported": len(reported),
        "median_size": median_size,
        "max_ops": max((s["ops"] for s in sizes), default=None),
        "at_minimum": sum(_at_minimum(t, minimum) for t in reported),
        "text_matches": sum(t["text"] in minimum.texts for t in reported),
        "per_seed": [
            {
                "seed": run["seed"],
                "reported_as": t["reported_as"],
                "shrunk_size": t["shrunk_size"],
                "size": t["size"],
                "at_minimum": t["solved"] and _at_minimum(t, minimum),
                "text": t["text"],
            }
            for run, t in per_seed
        ],
    }


def _at_minimum(target: dict[str, Any], minimum: KnownMinimum) -> bool:
    size = target["size"]
    return bool(
        size is not None
        and size["ops"] <= minimum.ops
        and size["threads"] <= minimum.threads
        and size["preemptions"] <= minimum.preemptions
    )


def _size(size: dict[str, Any]) -> str:
    return "/".join(f"{size[f]:g}" for f in SIZE_FIELDS)
