"""The `evaluate` command: every strategy against every injected bug, N seeds x a budget."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ptediff.cli.output import EXIT_OK, EXIT_UNEXPECTED, UsageError, emit

if TYPE_CHECKING:
    from ptediff.search.evaluate import Evaluation, Trial

DEFAULT_SEEDS = 3
DEFAULT_SECONDS = 60.0
QUICK_SEEDS = 1
QUICK_SECONDS = 5.0
INTERRUPTED = 130


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ptediff.report.chart import require_matplotlib, write_chart
    from ptediff.report.evaluate import evaluate_blocks
    from ptediff.report.evaluate_json import evaluate_json
    from ptediff.search.evaluate import STRATEGIES, default_tasks, evaluate
    from ptediff.search.profiles import PROFILES

    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}: use one of {', '.join(PROFILES)}")
    if args.chart is not None and args.chart.is_dir():
        raise UsageError(f"--chart {args.chart}: a directory, not a .png file")
    if args.chart is not None:
        require_matplotlib()
    strategies = tuple(dict.fromkeys(args.strategies or STRATEGIES))
    seeds = args.seeds or (QUICK_SEEDS if args.quick else DEFAULT_SEEDS)
    seconds = args.seconds or (QUICK_SECONDS if args.quick else DEFAULT_SECONDS)
    tasks = default_tasks(args.impls)
    progress = None if args.no_progress else _progress
    result = evaluate(
        tasks,
        seeds=range(args.first_seed, args.first_seed + seeds),
        budget=seconds,
        strategies=strategies,
        profile=args.profile,
        jobs=args.jobs,
        quick=args.quick,
        progress=progress,
    )
    chart = None
    if args.chart is not None and result.trials:
        chart = str(write_chart(result, args.chart))
    emit(args.format, evaluate_blocks(result, chart), lambda: evaluate_json(result, chart))
    for error in result.errors:
        print(f"ptediff: evaluate: {error}", file=sys.stderr)
    if result.interrupted:
        print("ptediff: interrupted", file=sys.stderr)
        return INTERRUPTED
    return EXIT_UNEXPECTED if result.errors or _surprises(result) else EXIT_OK


def _surprises(result: Evaluation) -> list[str]:
    """Tasks that revert nothing (postfix, a user's fixed class) but diverged."""
    from ptediff.cli.hunt import reverts_something

    return [t.task for t in result.trials if t.solved and not reverts_something(t.task)]


def _progress(trial: Trial, done: int, total: int) -> None:
    found = "not found"
    if trial.solved:
        found = f"{trial.cls} after {trial.examples} examples, {trial.seconds or 0:.2f} s"
    print(f"evaluate [{done}/{total}] {trial.task} {trial.strategy} seed {trial.seed}: {found}",
          file=sys.stderr, flush=True)


SubParsers = argparse._SubParsersAction  # argparse's type for add_subparsers()


def add_parser(commands: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "evaluate", help="measure the search on the mutant catalogue, beside a random peer"
    )
    parser.add_argument("--impl", action="append", dest="impls", metavar="NAME",
                        help="task to evaluate (repeatable; default: every catalogue mutant, "
                             "the four folded-fix variants and prefix); mutant:NAME for a mutant")
    parser.add_argument("--seeds", type=int, metavar="N",
                        help=f"seeds per task and strategy (default {DEFAULT_SEEDS}; "
                             f"--quick: {QUICK_SEEDS})")
    parser.add_argument("--first-seed", type=int, default=1, metavar="K",
                        help="seeds are K, K+1, ... (default 1)")
    parser.add_argument("--seconds", type=float, metavar="S",
                        help=f"budget per trial (default {DEFAULT_SECONDS:g} s; "
                             f"--quick: {QUICK_SECONDS:g} s)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SEEDS} seed x {QUICK_SECONDS:g} s: a few minutes in all")
    parser.add_argument("--strategy", action="append", dest="strategies",
                        choices=("hunt", "peer"),
                        help="strategy to run (repeatable; default both)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="trials in parallel worker processes (default 1; seconds then "
                             "share the cores)")
    parser.add_argument("--chart", type=_png_path, metavar="FILE.png",
                        help="write the task-bucket chart there (needs matplotlib: the plot extra)")
    parser.add_argument("--profile", default="dev",
                        help="hypothesis settings profile of the hunt: ci, dev (default) or deep")
    parser.add_argument("--no-progress", action="store_true",
                        help="no line per finished trial on stderr")
    return parser


def _png_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"the chart is a PNG: {text!r} does not end in .png")
    return path
