"""Benchmark 4, exploration rate: exhaustive schedule exploration (`ptediff.search.explore.explore`)
of the race scenario files, per implementation the file expects, at the default preemption
bound and (full run) unbounded, with and without invariant checks.

The figure per file is the whole `explore` call (spec outcomes included) over its
implementations, as `ptediff explore FILE` does it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptediff.core.errors import PtediffError
from ptediff.core.program import Program
from ptediff.dsl.parse import parse_file
from ptediff.search.explore import explore

from bench.results import BenchResult, Target, fmt_rate, render_table
from bench.settings import BenchError, BenchSettings

NAME = "explore"
REGRESSIONS = Path(__file__).resolve().parent.parent / "tests" / "regressions"
DEFAULT_BOUND = 2
TARGET_SECONDS = 1.0


def scenario_impls(program: Program) -> list[str]:
    """postfix, then every implementation the file's expect lines name."""
    names = ["postfix", *(expect.impl for expect in program.expects)]
    return list(dict.fromkeys(names))


def load(name: str) -> Program:
    try:
        return parse_file(REGRESSIONS / name)
    except (OSError, PtediffError) as error:
        raise BenchError(f"cannot load scenario {name}: {error}") from None


def measure(settings: BenchSettings) -> list[dict[str, Any]]:
    bounds: list[int | None] = [DEFAULT_BOUND, None] if settings.explore_unbounded else [
        DEFAULT_BOUND
    ]
    rows = []
    for name in settings.explore_files:
        program = load(name)
        impls = scenario_impls(program)
        for bound in bounds:
            for invariants in (True, False):
                report = explore(
                    program, impls, preemption_bound=bound, check_invariants=invariants
                )
                schedules = sum(impl.schedules for impl in report.impls)
                rows.append({
                    "file": name,
                    "bound": bound,
                    "invariants": invariants,
                    "impls": impls,
                    "seconds": report.elapsed,
                    "schedules_per_impl": {i.impl: i.schedules for i in report.impls},
                    "schedules": schedules,
                    "schedules_per_second": schedules / report.elapsed,
                    "model_runs": sum(impl.model_runs for impl in report.impls),
                    "complete": all(impl.complete for impl in report.impls),
                })
    return rows


def report(settings: BenchSettings) -> BenchResult:
    rows = measure(settings)
    table = render_table(
        [
            [
                r["file"],
                "none" if r["bound"] is None else r["bound"],
                "on" if r["invariants"] else "off",
                len(r["impls"]),
                max(r["schedules_per_impl"].values()),
                f"{r['seconds']:.2f}",
                fmt_rate(r["schedules_per_second"]),
                "yes" if r["complete"] else "NO",
            ]
            for r in rows
        ],
        headers=["file", "bound", "invariants", "impls", "schedules/impl", "seconds",
                 "schedules/s", "complete"],
    )
    targets = [
        Target(
            f"exhaustive exploration of {r['file']} (bound {DEFAULT_BOUND}, invariants on, "
            f"{len(r['impls'])} impls)",
            f"< {TARGET_SECONDS:g} s",
            f"{r['seconds']:.2f} s",
            r["seconds"] < TARGET_SECONDS,
        )
        for r in rows
        if r["bound"] == DEFAULT_BOUND and r["invariants"]
    ]
    return BenchResult(NAME, table, rows, targets=targets,
                       parameters={"bounds": sorted({str(r["bound"]) for r in rows})})
