"""Benchmark 1, time to failure: per seeded bug and implementation searched, the seconds and
examples to the first failure of the expected class (`bench.search`), over seeds; the solve
rate within the budget; and the seconds from that failure to the reported minimal program
(hypothesis's shrinking, then simplification)."""

from __future__ import annotations

import statistics
from typing import Any

from bench.campaign import Campaign
from bench.results import BenchResult, Target, censored_median, fmt_seconds, render_table, solved
from bench.settings import BenchSettings

TARGET_MEDIAN_SECONDS = 10.0
NAME = "ttf"


def report(campaign: Campaign, settings: BenchSettings) -> BenchResult:
    rows: list[dict[str, Any]] = []
    for impl, bugs in campaign.plan:
        for bug in bugs:
            rows.append(_row(campaign, impl, bug.label, bug.expected, settings.budget))
    table = render_table(
        [
            [
                r["bug"],
                r["impl"],
                r["expected"],
                f"{r['solved']}/{r['seeds']}",
                fmt_seconds(r["median_seconds"], settings.budget),
                fmt_seconds(r["min_seconds"], settings.budget),
                fmt_seconds(r["max_seconds"], settings.budget),
                "-" if r["median_examples"] is None else f"{r['median_examples']:.0f}",
                fmt_seconds(r["median_shrink_seconds"]),
                fmt_seconds(r["max_shrink_seconds"]),
            ]
            for r in rows
        ],
        headers=["bug", "searched", "expected class", "solved", "median s", "min s", "max s",
                 "median ex.", "median shrink s", "max shrink s"],
    )
    targets = []
    for r in rows:
        where = f"{r['bug']} on {r['impl']}"
        median = r["median_seconds"]
        targets.append(Target(
            f"median time to failure, {where}",
            f"<= {TARGET_MEDIAN_SECONDS:g} s",
            fmt_seconds(median, settings.budget) + " s",
            median is not None and median <= TARGET_MEDIAN_SECONDS,
        ))
        targets.append(Target(
            f"solve rate within {settings.budget:g} s, {where}",
            f"{r['seeds']}/{r['seeds']}",
            f"{r['solved']}/{r['seeds']}",
            r["solved"] == r["seeds"],
        ))
    return BenchResult(NAME, table, rows, targets=targets,
                       summary=_summary(campaign), parameters={"seeds": list(campaign.seeds)})


def _row(campaign: Campaign, impl: str, bug: str, cls: str, budget: float) -> dict[str, Any]:
    per_seed = campaign.target_runs(impl, cls)
    firsts = [t["seconds_to_first"] if t["solved"] else None for _, t in per_seed]
    examples = [t["examples_to_first"] if t["solved"] else None for _, t in per_seed]
    shrink = [t["shrink_seconds"] for _, t in per_seed if t["solved"]]
    got = solved(firsts)
    return {
        "bug": bug,
        "impl": impl,
        "expected": cls,
        "seeds": len(per_seed),
        "solved": len(got),
        "median_seconds": censored_median(firsts),
        "min_seconds": min(got, default=None),
        "max_seconds": max(got) if got and len(got) == len(firsts) else None,
        "median_examples": censored_median(examples),
        "median_shrink_seconds": statistics.median(shrink) if shrink else None,
        "max_shrink_seconds": max(shrink, default=None),
        "reported_as": sorted({t["reported_as"] for _, t in per_seed if t["reported_as"]}),
        "per_seed": [
            {
                "seed": run["seed"],
                "solved": t["solved"],
                "seconds_to_first": t["seconds_to_first"],
                "examples_to_first": t["examples_to_first"],
                "shrink_seconds": t["shrink_seconds"],
                "search_seconds": run["seconds"],
                "search_examples": run["examples"],
            }
            for run, t in per_seed
        ],
    }


def _summary(campaign: Campaign) -> dict[str, Any]:
    runs = list(campaign.runs.values())
    return {
        "searches": len(runs),
        "search_seconds": sum(r["seconds"] for r in runs),
        "examples": sum(r["examples"] for r in runs),
        "hypothesis_errors": sorted({e for r in runs for e in r["errors"]}),
        "runs": runs,
    }
