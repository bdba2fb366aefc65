"""`python -m bench profile`: cProfile of the throughput workload's two passes, the hot path
of a hunt (the draw, then the full differential check of the same programs).

The standard library's profiler only: no new dependency. It prints the top entries by own time
and by cumulative time, and saves the whole listing beside the other results.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable

from ptediff.core.program import Program
from ptediff.judge.check import clear_cache
from ptediff.search.property import DifferentialProperty, resolve_impls

from bench.results import BenchResult
from bench.settings import BenchSettings
from bench.throughput import IMPLS, run_pass

NAME = "profile"
TOP = 20


def profile_pass(body: Callable[[Program], None], settings_: BenchSettings) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    run_pass(body, settings_.profile_examples, settings_)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(TOP)
    stats.sort_stats("cumulative").print_stats(TOP)
    return out.getvalue()


def report(settings_: BenchSettings) -> BenchResult:
    run_pass(lambda program: None, 5, settings_)  # warm the imports outside the profile
    draw = profile_pass(lambda program: None, settings_)
    clear_cache()
    prop = DifferentialProperty(resolve_impls(IMPLS), check_invariants=False, targets=False)
    check = profile_pass(prop.runs, settings_)
    text = (f"=== draw only ({settings_.profile_examples} programs) ===\n{_trim(draw)}\n"
            f"=== full check ({settings_.profile_examples} programs) ===\n{_trim(check)}")
    return BenchResult(NAME, text, [{"draw": draw, "check": check}],
                       parameters={"examples": settings_.profile_examples, "impls": IMPLS})


def _trim(listing: str) -> str:
    """Drop pstats' blank lines and the long paths' common prefix, to fit a terminal."""
    lines = [line.replace("/work/main/", "") for line in listing.splitlines() if line.strip()]
    return "\n".join(lines)
