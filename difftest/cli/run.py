"""The `run` command: `.pte` files judged on the spec and the implementations."""

from __future__ import annotations

import argparse

from ptediff.cli.files import expand_paths, load_program
from ptediff.cli.implementations import default_impls, resolve_impls
from ptediff.cli.output import EXIT_ERROR, EXIT_OK, EXIT_UNEXPECTED, emit, print_error
from ptediff.core.errors import BudgetExceeded, ModelCrash, PtediffError, SpecError
from ptediff.report import report_json
from ptediff.report.run import RunFile, run_blocks


def cmd_run(args: argparse.Namespace) -> int:
    """Each file on its implementations. A file that cannot be read or names a model that does
    not load is an error (exit 2) and the others still run; a model that raises is its
    `crash:<type>` finding (exit 1); a tool limit reached is `budget exceeded` (exit 2)."""
    from ptediff.judge.verdict import evaluate

    chosen = resolve_impls(args.impls)
    invariants = getattr(args, "invariants", True)
    files: list[RunFile] = []
    unreadable: list[PtediffError] = []
    for path in expand_paths(args.files):
        try:
            program = load_program(path)
        except PtediffError as error:
            print_error(error)
            unreadable.append(error)
            continue
        verdicts = []
        crashes: list[ModelCrash] = []
        try:
            for impl in chosen or default_impls(program):
                try:
                    verdicts.append(evaluate(program, impl, level=args.level,
                                             check_invariants=invariants))
                except ModelCrash as crash:
                    crashes.append(crash)
        except SpecError as error:
            files.append(RunFile(str(path), program, (), str(error)))
            continue
        except BudgetExceeded as error:
            files.append(RunFile(str(path), program, tuple(verdicts), budget=str(error),
                                 crashes=tuple(crashes)))
            continue
        except PtediffError as error:  # an `expect` naming a model that does not load
            print_error(error)
            unreadable.append(error)
            continue
        files.append(RunFile(str(path), program, tuple(verdicts), crashes=tuple(crashes)))
    emit(args.format, run_blocks(files), lambda: report_json.run_json(files, unreadable))
    if unreadable or any(f.budget is not None for f in files):
        return EXIT_ERROR
    return EXIT_UNEXPECTED if any(not f.passed for f in files) else EXIT_OK
