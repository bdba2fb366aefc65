"""Benchmark 3, throughput: programs per second through the full differential check (spec,
post-fix, pre-fix, judged as the hunt judges them, invariants off) against a hypothesis test
that only draws the same programs, in one process (one core), back to back.

Both tests share the strategy, the seed and the settings (generation only: no shrinking, no
database, no explicit or replayed examples) and neither fails, so hypothesis draws the same
sequence for both; a digest of the drawn programs checks it. A third pass times the parts of
the check on the programs the first pass drew.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as with_seed
from ptediff import impls as models
from ptediff import spec
from ptediff.core.program import Program
from ptediff.judge.check import clear_cache
from ptediff.judge.differ import judge
from ptediff.search.property import DifferentialProperty, resolve_impls

from bench.long_programs import long_programs
from bench.results import BenchResult, Target, fmt_rate, render_table
from bench.settings import BenchSettings

NAME = "throughput"
IMPLS = ("postfix", "prefix")
SEED = 20_060_623  # any fixed seed; the commit's date
WARMUP_EXAMPLES = 10
TARGET_RATIO = 0.3


def run_pass(
    body: Callable[[Program], None], examples: int, settings_: BenchSettings
) -> tuple[int, float, str]:
    """Run a generation-only hypothesis test of `body`: (programs, seconds, digest)."""
    strategy = long_programs(*settings_.throughput_ops)
    digest = hashlib.sha256()
    count = 0

    def test_body(program: Program) -> None:
        nonlocal count
        count += 1
        digest.update(repr(program).encode())
        body(program)

    test = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(with_seed(SEED)(given(strategy)(test_body)))
    started = time.perf_counter()
    test()
    return count, time.perf_counter() - started, digest.hexdigest()


def measure(settings_: BenchSettings) -> dict[str, Any]:
    drawn: list[Program] = []
    run_pass(lambda program: None, WARMUP_EXAMPLES, settings_)  # imports, strategy caches
    count_draw, seconds_draw, digest_draw = run_pass(
        drawn.append, settings_.throughput_examples, settings_
    )
    clear_cache()
    prop = DifferentialProperty(resolve_impls(IMPLS), check_invariants=False, targets=False)
    count_check, seconds_check, digest_check = run_pass(
        prop.runs, settings_.throughput_examples, settings_
    )
    draw_rate = count_draw / seconds_draw
    check_rate = count_check / seconds_check
    return {
        "programs": count_check,
        "mean_ops": statistics.mean(len(p.ops()) for p in drawn),
        "parallel_blocks_per_program": statistics.mean(len(p.blocks()) for p in drawn),
        "draw_only_per_second": draw_rate,
        "full_check_per_second": check_rate,
        "ratio": check_rate / draw_rate,
        "same_programs": digest_draw == digest_check and count_draw == count_check,
        "breakdown_ms_per_program": breakdown(drawn),
    }


def breakdown(programs: list[Program]) -> dict[str, float]:
    """Mean milliseconds per program in each part of the check, over the drawn programs, with
    no cache (the property caches spec outcomes and runs of repeated programs: hypothesis
    draws some programs more than once, so the check pass can cost less than these parts)."""
    kernels = {name: models.load(name) for name in IMPLS}
    totals = dict.fromkeys(("spec", *IMPLS, "judge"), 0.0)
    for program in programs:
        started = time.perf_counter()
        allowed = spec.run(program)
        totals["spec"] += time.perf_counter() - started
        for name, kernel in kernels.items():
            started = time.perf_counter()
            outcome = models.run(kernel, program, check_invariants=False)
            totals[name] += time.perf_counter() - started
            started = time.perf_counter()
            judge(program, allowed, outcome)
            totals["judge"] += time.perf_counter() - started
    return {part: 1000 * seconds / len(programs) for part, seconds in totals.items()}


def report(settings_: BenchSettings) -> BenchResult:
    m = measure(settings_)
    parts = m["breakdown_ms_per_program"]
    table = render_table(
        [
            ["draw only", fmt_rate(m["draw_only_per_second"]), ""],
            ["full check (spec + postfix + prefix)", fmt_rate(m["full_check_per_second"]),
             f"ratio {m['ratio']:.3f}"],
            *[[f"uncached: {part}", fmt_rate(1000 / ms) if ms else "-", f"{ms:.2f} ms"]
              for part, ms in parts.items()],
        ],
        headers=["pass", "programs/s", ""],
    )
    table += (f"\n{m['programs']} programs of {m['mean_ops']:.1f} operations on average "
              f"({m['parallel_blocks_per_program']:.2f} parallel blocks each); same programs "
              f"in both passes: {m['same_programs']}")
    target = Target(
        "throughput ratio, full check / draw only",
        f">= {TARGET_RATIO}",
        f"{m['ratio']:.3f} ({fmt_rate(m['full_check_per_second'])} vs "
        f"{fmt_rate(m['draw_only_per_second'])} programs/s)",
        m["ratio"] >= TARGET_RATIO,
    )
    return BenchResult(NAME, table, [m], summary=m, targets=[target],
                       parameters={"impls": IMPLS, "seed": SEED, "invariants": False})
