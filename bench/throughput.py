"""Benchmark 3, throughput: programs per second through the full differential check (spec,
post-fix, pre-fix, judged as the hunt judges them, invariants off) against a hypothesis test
that only draws the same programs, in one process (one core), back to back.

Both tests share the strategy, the seed and the settings (generation only: no shrinking, no
database, no explicit or replayed examples) and neither fails, so hypothesis draws the same
sequence for both; a digest of the drawn programs checks it. A third pass times the parts of
the check on the programs the first pass drew, in CPU time, best of `ROUNDS` (the machine is
shared: the least disturbed round is the closest to the code's own cost).

Targets (issue 14): the full check at >= 0.8 of the draw-only rate, which needs the check to
cost at most a quarter of a draw (draw / (draw + check) >= 0.8), and the spec's cost per
program within 3x of a post-fix model run.
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
TARGET_RATIO = 0.8
TARGET_SPEC_FACTOR = 3.0  # spec per program / postfix model run per program
ROUNDS = 3


def run_pass(
    body: Callable[[Program], None],
    examples: int,
    settings_: BenchSettings,
    cpu_seconds: list[float] | None = None,
) -> tuple[int, float, str]:
    """Run a generation-only hypothesis test of `body`: (programs, seconds, digest); the CPU
    seconds it took go into `cpu_seconds[0]` when given."""
    cpu_seconds = [0.0] if cpu_seconds is None else cpu_seconds
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
    started, cpu_started = time.perf_counter(), time.process_time()
    test()
    cpu_seconds[0] = time.process_time() - cpu_started
    return count, time.perf_counter() - started, digest.hexdigest()


def measure(settings_: BenchSettings) -> dict[str, Any]:
    drawn: list[Program] = []
    run_pass(lambda program: None, WARMUP_EXAMPLES, settings_)  # imports, strategy caches
    cpu_draw, cpu_check = [0.0], [0.0]
    count_draw, seconds_draw, digest_draw = run_pass(
        drawn.append, settings_.throughput_examples, settings_, cpu_draw
    )
    clear_cache()
    prop = DifferentialProperty(resolve_impls(IMPLS), check_invariants=False, targets=False)
    count_check, seconds_check, digest_check = run_pass(
        prop.runs, settings_.throughput_examples, settings_, cpu_check
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
        # the same ratio in CPU time: less disturbed by other jobs on a shared machine
        "cpu_ratio": cpu_draw[0] / cpu_check[0] if cpu_check[0] else 0.0,
        "cpu_draw_ms": 1000 * cpu_draw[0] / max(count_draw, 1),
        "cpu_check_ms": 1000 * (cpu_check[0] - cpu_draw[0]) / max(count_check, 1),
        "same_programs": digest_draw == digest_check and count_draw == count_check,
        "breakdown_ms_per_program": breakdown(drawn),
    }


def breakdown(programs: list[Program]) -> dict[str, float]:
    """Mean CPU milliseconds per program in each part of the check, over the drawn programs,
    with no cache (the property caches spec outcomes and runs of repeated programs: hypothesis
    draws some programs more than once, so the check pass can cost less than these parts).
    Each part runs over all programs at once, best of `ROUNDS`; `judge` is both judgements."""
    kernels = {name: models.load(name) for name in IMPLS}
    allowed = [spec.run(program) for program in programs]
    outcomes = {name: [models.run(kernel, program, check_invariants=False)
                       for program in programs] for name, kernel in kernels.items()}
    parts: dict[str, Callable[[], object]] = {
        "spec": lambda: [spec.run(program) for program in programs],
        **{name: (lambda kernel=kernel: [models.run(kernel, program, check_invariants=False)
                                         for program in programs])
           for name, kernel in kernels.items()},
        "judge": lambda: [judge(program, spec_list, outcome)
                          for name in IMPLS
                          for program, spec_list, outcome in zip(programs, allowed,
                                                                  outcomes[name], strict=True)],
    }
    return {part: 1000 * _best_cpu(run) / max(len(programs), 1) for part, run in parts.items()}


def _best_cpu(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def report(settings_: BenchSettings) -> BenchResult:
    m = measure(settings_)
    parts = m["breakdown_ms_per_program"]
    draw_ms = 1000 / m["draw_only_per_second"]
    check_ms = 1000 / m["full_check_per_second"] - draw_ms  # the check pass draws as well
    spec_factor = parts["spec"] / parts["postfix"] if parts["postfix"] else float("inf")
    table = render_table(
        [
            ["draw only", fmt_rate(m["draw_only_per_second"]), f"{draw_ms:.2f} ms"],
            ["full check (spec + postfix + prefix)", fmt_rate(m["full_check_per_second"]),
             f"ratio {m['ratio']:.3f}"],
            ["check alone (full check - draw)", "", f"{check_ms:.2f} ms"],
            ["in CPU time: full check / draw only", f"ratio {m['cpu_ratio']:.3f}",
             f"draw {m['cpu_draw_ms']:.2f} ms, check {m['cpu_check_ms']:.2f} ms"],
            ["check allowed for ratio 0.8 (CPU draw / 4)", "", f"{m['cpu_draw_ms'] / 4:.2f} ms"],
            *[[f"uncached CPU: {part}", fmt_rate(1000 / ms) if ms else "-", f"{ms:.2f} ms"]
              for part, ms in parts.items()],
            ["spec / postfix model run", "", f"{spec_factor:.2f}x"],
        ],
        headers=["pass", "programs/s", ""],
    )
    table += (f"\n{m['programs']} programs of {m['mean_ops']:.1f} operations on average "
              f"({m['parallel_blocks_per_program']:.2f} parallel blocks each); same programs "
              f"in both passes: {m['same_programs']}")
    targets = [
        Target(
            "throughput ratio, full check / draw only",
            f">= {TARGET_RATIO}",
            f"{m['ratio']:.3f} ({fmt_rate(m['full_check_per_second'])} vs "
            f"{fmt_rate(m['draw_only_per_second'])} programs/s; CPU time {m['cpu_ratio']:.3f})",
            m["ratio"] >= TARGET_RATIO,
        ),
        Target(
            "spec per program / postfix model run",
            f"<= {TARGET_SPEC_FACTOR:g}x",
            f"{spec_factor:.2f}x ({parts['spec']:.2f} vs {parts['postfix']:.2f} ms)",
            spec_factor <= TARGET_SPEC_FACTOR,
        ),
    ]
    summary = {**m, "draw_ms": draw_ms, "check_ms": check_ms, "spec_factor": spec_factor}
    return BenchResult(NAME, table, [m], summary=summary, targets=targets,
                       parameters={"impls": IMPLS, "seed": SEED, "invariants": False,
                                   "rounds": ROUNDS})
