"""The `ptediff` command: argument parsing and dispatch to one function per subcommand.

Exit codes (`ptediff.cli.output`): 0 nothing unexpected; 1 an unexpected divergence or a failed
expectation (or, for `fmt --check`, a file that would change); 2 a usage, parse or validation
error. User mistakes surface as `ptediff.core.errors` exceptions and are printed as such, never
as a traceback.

The search and exploration engines are imported inside their commands: they pull in hypothesis,
and `fmt`/`check` run from editors and CI hooks where start-up time matters.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ptediff.cli import evaluate as evaluate_cli
from ptediff.cli.campaign import add_campaign_options, add_stats_command
from ptediff.cli.conform import DEFAULT_CONFORM_SECONDS, cmd_conform
from ptediff.cli.explore import DEFAULT_PCT_DEPTH, DEFAULT_PCT_SEED, cmd_explore
from ptediff.cli.hunt import DEFAULT_HUNT_SECONDS, cmd_hunt
from ptediff.cli.output import EXIT_ERROR, EXIT_OK, print_error
from ptediff.cli.run import cmd_run
from ptediff.cli.static import cmd_check, cmd_fmt, cmd_impls
from ptediff.core.errors import PtediffError
from ptediff.judge.signature import LEVEL_NAMES

FORMATS = ("plain", "markdown", "json")

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2); argparse printed it
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    command: Command = args.run
    try:
        return command(args)
    except PtediffError as error:
        print_error(error)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("ptediff: interrupted", file=sys.stderr)
        return 130  # the shell's convention for a SIGINT death
    except BrokenPipeError:  # `ptediff ... | head`: the reader left, nothing more to say
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptediff",
        description="Differential testing of Linux page-table code against an executable spec.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    hunt = commands.add_parser("hunt", help="search for divergences with generated programs")
    _add_impl_option(hunt, "implementation to search (repeatable; default: every registered one)")
    budget = hunt.add_mutually_exclusive_group()
    budget.add_argument("--max-examples", type=_positive_int, metavar="N",
                        help="generated programs to run, each on every chosen implementation")
    budget.add_argument("--seconds", type=_positive_float, metavar="S",
                        help=f"time budget (default: {DEFAULT_HUNT_SECONDS:g} s)")
    hunt.add_argument("--seed", type=int, help="make the search reproducible")
    hunt.add_argument("--save", type=_directory_name, metavar="DIR",
                      help="write each new minimal divergence there as a .pte file")
    hunt.add_argument("--profile", default="dev",
                      help="hypothesis settings profile: ci, dev (default) or deep")
    hunt.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    hunt.add_argument("--no-small-scope", action="store_true",
                      help="skip the small-scope phase (the fixed shortest programs run first)")
    hunt.add_argument("--invariants", action="store_true",
                      help="also report kernel invariant violations, I1-I8 with rss (slower)")
    add_campaign_options(hunt)
    _add_format_option(hunt)
    hunt.set_defaults(run=cmd_hunt)
    add_stats_command(commands, _add_format_option)

    evaluate = evaluate_cli.add_parser(commands)
    _add_format_option(evaluate)
    evaluate.set_defaults(run=evaluate_cli.cmd_evaluate)

    run = commands.add_parser("run", help="run .pte files on the spec and implementations")
    _add_paths_argument(run)
    _add_impl_option(run, "implementation to run (repeatable; default: the file's expect lines, "
                          "else every registered one)")
    _add_level_option(run)
    run.add_argument("--invariants", action=argparse.BooleanOptionalAction, default=True,
                     help="check the kernel invariants I1-I7 on the models while they run "
                          "(default; incremental: only the ptes each step touched)")
    _add_format_option(run)
    run.set_defaults(run=cmd_run)

    explore = commands.add_parser("explore", help="explore the schedules of a .pte file")
    explore.add_argument("file", type=Path, metavar="FILE")
    _add_impl_option(explore, "implementation to explore (repeatable; default: the file's expect "
                              "lines, else every registered one)")
    bound = explore.add_mutually_exclusive_group()
    bound.add_argument("--preemptions", type=_natural_int, default=2, metavar="N",
                       help="exhaustive up to N preemptions (default 2)")
    bound.add_argument("--unbounded", action="store_true", help="exhaustive, every schedule")
    bound.add_argument("--pct", type=_positive_int, metavar="RUNS",
                       help="PCT random schedules instead of enumeration")
    explore.add_argument("--depth", type=_positive_int, metavar="D",
                         help=f"PCT bug depth (default {DEFAULT_PCT_DEPTH})")
    explore.add_argument("--seed", type=int, help=f"PCT seed (default {DEFAULT_PCT_SEED})")
    explore.add_argument("--runs", type=_positive_int, metavar="N",
                         help="with --impl linux: run the file N times on the running kernel "
                              "(default 100)")
    _add_level_option(explore)
    _add_format_option(explore)
    explore.set_defaults(run=cmd_explore)

    conform = commands.add_parser(
        "conform", help="check the running kernel against the spec with generated programs")
    conform_budget = conform.add_mutually_exclusive_group()
    conform_budget.add_argument("--seconds", type=_positive_float, metavar="S",
                                help=f"time budget (default: {DEFAULT_CONFORM_SECONDS:g} s)")
    conform_budget.add_argument("--max-examples", type=_positive_int, metavar="N",
                                help="programs to run on the kernel")
    conform.add_argument("--seed", type=int, help="make the generated programs reproducible")
    conform.add_argument("--save", type=Path, metavar="DIR",
                         help="write each undeclared difference there as a minimal .pte file")
    conform.add_argument("--sequential", action="store_true",
                         help="no parallel blocks (live concurrency makes failures flaky)")
    conform.add_argument("--level", choices=LEVEL_NAMES, default="contract",
                         help="what to compare (default: contract)")
    _add_format_option(conform)
    conform.set_defaults(run=cmd_conform)

    fmt = commands.add_parser("fmt", help="rewrite .pte files in canonical form")
    _add_paths_argument(fmt)
    fmt.add_argument("--check", action="store_true",
                     help="change nothing; exit 1 listing the files that would change")
    fmt.set_defaults(run=cmd_fmt)

    check = commands.add_parser("check", help="parse and validate .pte files")
    _add_paths_argument(check)
    _add_format_option(check)
    check.set_defaults(run=cmd_check)

    impls = commands.add_parser("impls", help="list the registered implementations")
    impls.add_argument("--mutants", action="store_true",
                       help="also list the mutant catalogue (--impl mutant:NAME)")
    _add_format_option(impls)
    impls.set_defaults(run=cmd_impls)
    return parser


def _add_paths_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="PATH",
                        help="a .pte file, or a directory standing for every .pte file under it")


def _add_impl_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--impl", action="append", dest="impls", metavar="NAME", help=help_text
                        + "; a registered name or package.module:Class")


def _add_level_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--level", choices=LEVEL_NAMES, default="all",
                        help="what to compare: contract (results, data, signals, COW isolation) "
                             "or all (also pte kinds, write bits, frames, nodes, swap devices, "
                             "invariants; the default)")


def _add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="plain",
                        help="plain (terminal), markdown (reviews, CI summaries) or json (scripts)")


def _positive_int(text: str) -> int:
    value = _natural_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _natural_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def _directory_name(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a directory name (use . for this directory)")
    return Path(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("must be finite: stop a hunt early with Ctrl-C")
    return value
