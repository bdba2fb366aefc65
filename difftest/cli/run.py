"""The `run` command: `.pte` files judged on the spec and the implementations."""

from __future__ import annotations

import argparse
from pathlib import Path

from ptediff.cli.files import expand_paths, load_program
from ptediff.cli.implementations import default_impls, resolve_impls
from ptediff.cli.live import LiveBackend, is_live
from ptediff.cli.output import EXIT_ERROR, EXIT_OK, EXIT_UNEXPECTED, emit, print_error
from ptediff.core.errors import BudgetExceeded, ModelCrash, PtediffError, SpecError
from ptediff.core.program import Program
from ptediff.report import report_json
from ptediff.report.run import RunFile, run_blocks


def cmd_run(args: argparse.Namespace) -> int:
    """Each file on its implementations. A file that cannot be read or names a model that does
    not load is an error (exit 2) and the others still run; a model that raises is its
    `crash:<type>` finding (exit 1); a tool limit reached is `budget exceeded` (exit 2).
    `--impl linux` runs the file on the running kernel (one live session for every file)."""
    chosen = resolve_impls(args.impls)
    invariants = getattr(args, "invariants", True)
    files: list[RunFile] = []
    unreadable: list[PtediffError] = []
    with LiveBackend() as live:
        for path in expand_paths(args.files):
            try:
                program = load_program(path)
            except PtediffError as error:
                print_error(error)
                unreadable.append(error)
                continue
            try:
                files.append(_run_file(path, program, chosen or default_impls(program),
                                       args.level, invariants, live))
            except PtediffError as error:  # an `expect` naming a model that does not load
                print_error(error)
                unreadable.append(error)
    emit(args.format, run_blocks(files), lambda: report_json.run_json(files, unreadable))
    if unreadable or any(f.budget is not None for f in files):
        return EXIT_ERROR
    return EXIT_UNEXPECTED if any(not f.passed for f in files) else EXIT_OK


def _run_file(
    path: Path, program: Program, names: list[str], level: str, invariants: bool,
    live: LiveBackend,
) -> RunFile:
    from ptediff.judge.verdict import evaluate
    from ptediff.live.runner import LiveUnsupported

    verdicts, crashes, skipped, declared = [], [], [], []
    try:
        for impl in names:
            if not is_live(impl):
                try:
                    verdicts.append(evaluate(program, impl, level=level,
                                             check_invariants=invariants))
                except ModelCrash as crash:
                    crashes.append(crash)
                continue
            try:
                judged = live.judge(program, level)
            except LiveUnsupported as error:
                skipped.append((impl, str(error)))
                continue
            verdicts.append(evaluate(program, impl, judgement=judged.judgement, level=level))
            declared.append((impl, dict(sorted(judged.fired.items()))))
    except SpecError as error:
        return RunFile(str(path), program, (), str(error))
    except BudgetExceeded as error:
        return RunFile(str(path), program, tuple(verdicts), budget=str(error),
                       crashes=tuple(crashes), skipped=tuple(skipped), declared=tuple(declared))
    return RunFile(str(path), program, tuple(verdicts), crashes=tuple(crashes),
                   skipped=tuple(skipped), declared=tuple(declared))
