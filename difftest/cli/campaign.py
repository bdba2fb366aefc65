"""Campaign options of `ptediff hunt` (`--jobs`, `--db`, `--observe`) and `ptediff stats`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ptediff.cli.output import EXIT_OK, UsageError, emit
from ptediff.impls.invariants import WITH_RSS


def add_campaign_options(hunt: argparse.ArgumentParser) -> None:
    hunt.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                      help="worker processes with different seeds (auto: one per core)")
    hunt.add_argument("--db", metavar="PATH|redis://HOST:PORT/N",
                      help="campaign example database: replayed first, every failure saved")
    hunt.add_argument("--observe", type=Path, metavar="FILE",
                      help="write one hypothesis observation (JSON line) per program")


def _jobs(text: str) -> int:
    from ptediff.search.jobs import default_jobs

    if text == "auto":
        return default_jobs()
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number or auto: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def campaign_of(args: argparse.Namespace, impls: list[str], seconds: float | None) -> Any:
    """The `ptediff.search.jobs.Campaign` the hunt's arguments describe."""
    from ptediff.search.jobs import Campaign

    if args.observe is not None and args.observe.is_dir():
        raise UsageError(f"--observe {args.observe}: a directory, not a file")
    return Campaign(
        impls=tuple(impls) or None,
        max_examples=args.max_examples,
        seconds=seconds,
        seed=args.seed,
        profile=args.profile,
        save_dir=args.save,
        check_invariants=WITH_RSS if args.invariants else False,
        database=args.db,
        observe=args.observe,
        small_scope=not getattr(args, "no_small_scope", False),
    )


def add_stats_command(commands: Any, add_format_option: Any) -> None:
    stats = commands.add_parser(
        "stats", help="summarise a campaign's --observe file: operation mix, kernel-function "
                      "coverage, divergences over time (table and PNG plot)")
    stats.add_argument("file", type=Path, metavar="FILE", help="an --observe JSON-lines file")
    stats.add_argument("--plot", type=Path, metavar="PNG",
                       help="where to draw the plot (default: FILE with .png)")
    stats.add_argument("--no-plot", action="store_true", help="tables only")
    add_format_option(stats)
    stats.set_defaults(run=cmd_stats)


def cmd_stats(args: argparse.Namespace) -> int:
    from ptediff.report.stats import stats_blocks
    from ptediff.search.stats import StatsError, read_campaign

    try:
        campaign = read_campaign(args.file)
    except StatsError as error:
        raise UsageError(str(error)) from None
    plot = None
    if not args.no_plot:
        target = args.plot if args.plot is not None else args.file.with_suffix(".png")
        try:
            from ptediff.report.stats_plot import draw
        except ImportError:
            if args.plot is not None:
                raise UsageError("--plot needs matplotlib: pip install 'ptediff[plot]'") from None
            print("ptediff: stats: no plot (pip install 'ptediff[plot]' for one)",
                  file=sys.stderr)
        else:
            draw(campaign, target)
            plot = target
    emit(args.format, stats_blocks(campaign, plot), lambda: campaign.to_json(plot))
    return EXIT_OK
