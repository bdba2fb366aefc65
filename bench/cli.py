"""`python -m bench`: run all or some benchmarks, print their tables, write their JSON.

    python -m bench                     # the six benchmarks, full settings (30-50 minutes)
    python -m bench --quick             # the same, small settings (a few minutes)
    python -m bench ttf shrink --seeds 5 --budget 30
    python -m bench profile --quick     # cProfile of the hot path (not part of "all")

`ttf` and `shrink` share their searches: asking for both runs them once. Exit codes: 0 done
(targets are reported, never enforced), 2 a usage error or a benchmark that could not run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ptediff.core.errors import PtediffError

from bench import exploration, memory, peer, profiling, scaling, shrink, throughput, ttf
from bench.bugs import bug_impls
from bench.campaign import Campaign, run_campaign
from bench.results import DEFAULT_OUT, BenchResult, Target, prepare, render_table, write
from bench.settings import FULL, QUICK, BenchError, BenchSettings

EXIT_OK = 0
EXIT_ERROR = 2
BENCHMARKS: dict[str, str] = {
    "ttf": "time to failure of each seeded bug",
    "shrink": "size of the shrunk programs against the known minima",
    "throughput": "programs/s through the full check vs drawing only",
    "explore": "schedules/s of exhaustive exploration of the race scenarios",
    "scaling": "cost per operation for 10, 100, 1000-operation programs",
    "memory": "peak memory of a hunt against every implementation",
    "peer": "examples to failure of the hunt against a naive random peer (only when named)",
    "profile": "cProfile of the hot path (only when named)",
}
ALL = ("ttf", "shrink", "throughput", "explore", "scaling", "memory")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2): argparse printed it
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    try:
        settings = _settings(args)
        return run(_names(args.benchmarks), settings, args.out)
    except PtediffError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="ptediff benchmarks. Benchmarks: "
        + "; ".join(f"{name}: {text}" for name, text in BENCHMARKS.items()),
    )
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK",
                        help=f"any of {', '.join(BENCHMARKS)} (default: {' '.join(ALL)})")
    parser.add_argument("--quick", action="store_true",
                        help="small settings: 3 seeds, 20 s budgets... (a few minutes)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help="where the JSON results go, under DIR/<quick|full|custom>/ "
                             "(default: bench/results)")
    parser.add_argument("--seeds", type=_positive_int, metavar="N", help="seeds per seeded bug")
    parser.add_argument("--budget", type=_positive_float, metavar="S",
                        help="seconds of search per implementation and seed")
    parser.add_argument("--jobs", type=_positive_int, metavar="N",
                        help="searches run side by side (default 2)")
    parser.add_argument("--impl", action="append", dest="impls", choices=bug_impls(),
                        metavar="NAME", help="search only this variant (repeatable): "
                        + ", ".join(bug_impls()))
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be positive and finite, not {text}")
    return value


def _names(asked: list[str]) -> list[str]:
    unknown = [name for name in asked if name not in BENCHMARKS]
    if unknown:
        raise BenchError(
            f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}"
        )
    return list(dict.fromkeys(asked or ALL))


def _settings(args: argparse.Namespace) -> BenchSettings:
    base = QUICK if args.quick else FULL
    impls = tuple(args.impls) if args.impls else None
    return base.replace(seeds=args.seeds, budget=args.budget, jobs=args.jobs, impls=impls)


def run(
    names: list[str],
    settings: BenchSettings,
    out: Path,
    log: Callable[[str], None] | None = None,
) -> int:
    """Run the named benchmarks in order; print each table and write its JSON document as soon
    as it is done (a long run that is interrupted keeps what it finished)."""
    say = log or _stderr
    prepare(out, settings)
    campaign: Campaign | None = None
    targets: list[Target] = []
    for name in names:
        started = time.perf_counter()
        say(f"== {name}: {BENCHMARKS[name]} ({settings.mode} settings)")
        if name in ("ttf", "shrink") and campaign is None:
            campaign = run_campaign(settings, say)
        result = _one(name, settings, campaign)
        result.parameters["benchmark_seconds"] = time.perf_counter() - started
        result.parameters["load_average_at_end"] = os.getloadavg()
        print(f"\n== {name} ==\n{result.table}\n", flush=True)
        say(f"wrote {write(result, settings, out)}")
        targets.extend(result.targets)
    if targets:
        print("== targets (reported, never enforced) ==")
        print(render_table([t.row() for t in targets],
                       headers=["figure", "target", "measured", "verdict"]))
    return EXIT_OK


def _one(name: str, settings: BenchSettings, campaign: Campaign | None) -> BenchResult:
    if name == "ttf":
        assert campaign is not None
        return ttf.report(campaign, settings)
    if name == "shrink":
        assert campaign is not None
        return shrink.report(campaign)
    runners: dict[str, Callable[[BenchSettings], BenchResult]] = {
        "throughput": throughput.report,
        "explore": exploration.report,
        "scaling": scaling.report,
        "memory": memory.report,
        "peer": peer.report,
        "profile": profiling.report,
    }
    if name not in runners:
        raise BenchError(f"unknown benchmark {name!r}")
    return runners[name](settings)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
