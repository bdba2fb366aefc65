"""The `explore` command: a file's schedules, exhaustively or by PCT, against its expectations."""

from __future__ import annotations

import argparse

from ptediff.cli.files import load_program
from ptediff.cli.implementations import default_impls, resolve_impls
from ptediff.cli.live import is_live
from ptediff.cli.output import EXIT_ERROR, EXIT_OK, EXIT_UNEXPECTED, UsageError, emit
from ptediff.core.errors import BudgetExceeded, ModelCrash
from ptediff.core.program import Program
from ptediff.judge.signature import Signature
from ptediff.report import report_json
from ptediff.report.blocks import Heading, Text
from ptediff.report.explore import explore_blocks
from ptediff.search.tally import ImplReport

DEFAULT_PCT_DEPTH = 2
DEFAULT_PCT_SEED = 0
DEFAULT_LIVE_RUNS = 100


def cmd_explore(args: argparse.Namespace) -> int:
    from ptediff.search.explore import explore
    from ptediff.search.pct import pct

    if args.pct is None and (args.depth is not None or args.seed is not None):
        raise UsageError("--depth and --seed choose PCT schedules: use them with --pct RUNS")
    chosen = resolve_impls(args.impls)
    program = load_program(args.file)
    if any(is_live(name) for name in chosen):
        return explore_on_linux(args, program, [n for n in chosen if not is_live(n)])
    if args.runs is not None:
        raise UsageError("--runs is for --impl linux (the models are explored by schedule)")
    names = chosen or default_impls(program)
    path = str(args.file)
    try:
        if args.pct is not None:
            depth = DEFAULT_PCT_DEPTH if args.depth is None else args.depth
            seed = DEFAULT_PCT_SEED if args.seed is None else args.seed
            exploration = pct(program, names, runs=args.pct, depth=depth, seed=seed,
                              level=args.level)
        else:
            bound = None if args.unbounded else args.preemptions
            exploration = explore(program, names, preemption_bound=bound, level=args.level)
    except ModelCrash as error:  # the model's own bug: its finding, as hunt reports it
        crash = error
        emit(
            args.format,
            [Heading(f"explore {path}"),
             Text(f"FAIL: {crash.impl} diverges: {crash.cls}: {crash.describe()}")],
            lambda: report_json.document("explore", path=path, passed=False,
                                         crash=report_json.crash_json(crash)),
        )
        return EXIT_UNEXPECTED
    except BudgetExceeded as error:  # a tool limit: no verdict, never a divergence
        limit = str(error)
        emit(
            args.format,
            [Heading(f"explore {path}"), Text(f"NO VERDICT: {limit}")],
            lambda: report_json.document("explore", path=path, passed=False,
                                         budget_exceeded=limit),
        )
        return EXIT_ERROR
    unexpected = {
        impl.impl: reason
        for impl in exploration.impls
        if (reason := exploration_surprise(program, impl)) is not None
    }
    emit(
        args.format,
        explore_blocks(path, program, exploration, unexpected),
        lambda: report_json.explore_json(path, program, exploration, unexpected),
    )
    return EXIT_UNEXPECTED if unexpected else EXIT_OK


def explore_on_linux(args: argparse.Namespace, program: Program, others: list[str]) -> int:
    """`--impl linux`: the file run `--runs` times on the running kernel, herd-style."""
    from ptediff.live.explore import explore_live
    from ptediff.live.guard import LiveSession, install_signal_cleanup
    from ptediff.report.live import live_explore_blocks, live_explore_json

    if others or args.pct is not None or args.unbounded:
        raise UsageError("--impl linux is explored on its own, by --runs N on the real kernel")
    install_signal_cleanup()
    with LiveSession() as session:
        report = explore_live(session, program, runs=args.runs or DEFAULT_LIVE_RUNS,
                              level=args.level)
    path = str(args.file)
    emit(args.format, live_explore_blocks(path, report),
         lambda: live_explore_json(path, program, report))
    return EXIT_UNEXPECTED if report.unexpected else EXIT_OK


def exploration_surprise(program: Program, impl: ImplReport) -> str | None:
    """Why an implementation's explored schedules contradict its expectation, if they do.

    Same rules as `ptediff.judge.verdict`, over every schedule: an implementation expected to agree
    must agree in all of them; one expected to diverge must show each listed signature class
    in at least one.
    """
    from ptediff.judge.signature import matches
    from ptediff.judge.verdict import POSTFIX, expectation_for

    expect = expectation_for(program, impl.impl)
    if expect is None and impl.impl != POSTFIX:
        return None
    if expect is None or expect.verdict == "agrees":
        diverging = impl.schedules - impl.agreeing
        return f"diverges in {diverging} of {impl.schedules} schedules" if diverging else None
    shown = [Signature(cls) for cls in impl.classes]
    missing = [name for name in expect.signatures if not any(matches(name, s) for s in shown)]
    if not impl.classes:
        return "expected to diverge, agrees in every schedule"
    return f"never shows {', '.join(missing)}" if missing else None
