"""Benchmark 5, scaling: the cost per operation of sequential programs of growing length, on
the spec and on the post-fix model (invariants off, as the hunt runs it; on, for reference).

Programs come from `bench.workload` (deterministic). Each size runs `scaling_ops // size`
different programs (seeds 0, 1, ...; at least one), so every size sees the same operation mix
rather than one program's luck; the set runs PASSES times and the fastest pass, divided by the
operations it ran, is the cost per operation (the fastest pass is the one least disturbed by
other processes).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from ptediff import impls as models
from ptediff import spec
from ptediff.core.program import Program

from bench.results import BenchResult, Target, render_table
from bench.settings import BenchSettings
from bench.workload import WORKLOAD_SEED, sequential_program

NAME = "scaling"
TARGET_RATIO = 1.5
SIDES: dict[str, Callable[[Program], object]] = {
    "spec": spec.run,
    "postfix": lambda p: models.run(models.load("postfix"), p, check_invariants=False),
    "postfix+invariants": lambda p: models.run(models.load("postfix"), p, check_invariants=True),
}
RATIO_SIDES = ("spec", "postfix")  # the target is about these two
PASSES = 3


def fastest_pass(run: Callable[[Program], object], programs: list[Program]) -> float:
    """Seconds of the fastest of PASSES runs over every program."""
    run(programs[0])  # warm: imports, caches of a first call
    passes = []
    for _ in range(PASSES):
        gc.collect()
        started = time.perf_counter()
        for program in programs:
            run(program)
        passes.append(time.perf_counter() - started)
    return min(passes)


def measure(settings: BenchSettings) -> list[dict[str, Any]]:
    rows = []
    for size in settings.scaling_sizes:
        count = max(1, settings.scaling_ops // size)
        programs = [sequential_program(size, seed=WORKLOAD_SEED + i) for i in range(count)]
        row: dict[str, Any] = {"ops": size, "programs": count}
        for side, run in SIDES.items():
            row[f"{side}_us_per_op"] = 1e6 * fastest_pass(run, programs) / (size * count)
        rows.append(row)
    return rows


def report(settings: BenchSettings) -> BenchResult:
    rows = measure(settings)
    table_rows = [
        [r["ops"], r["programs"], *[f"{r[f'{side}_us_per_op']:.0f}" for side in SIDES]]
        for r in rows
    ]
    smallest, largest = rows[0], rows[-1]
    ratios = {
        side: largest[f"{side}_us_per_op"] / smallest[f"{side}_us_per_op"] for side in SIDES
    }
    label = f"{largest['ops']} / {smallest['ops']}"
    table_rows.append([f"ratio {label}", "", *[f"{ratios[side]:.2f}" for side in SIDES]])
    table = render_table(
        table_rows, headers=["ops", "programs", *[f"{side} µs/op" for side in SIDES]]
    )
    targets = [
        Target(
            f"per-op cost ratio {label} ops, {side}",
            f"<= {TARGET_RATIO}",
            f"{ratios[side]:.2f}",
            ratios[side] <= TARGET_RATIO,
        )
        for side in RATIO_SIDES
    ]
    return BenchResult(
        NAME, table, rows, summary={"ratios": ratios}, targets=targets,
        parameters={"workload_seed": WORKLOAD_SEED, "sizes": list(settings.scaling_sizes)},
    )
