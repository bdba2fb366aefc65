"""The `run` command: `.pte` files judged on the spec and the implementations."""

from __future__ import annotations

import argparse

from ptediff.cli.files import expand_paths, load_program
from ptediff.cli.implementations import default_impls, resolve_impls
from ptediff.cli.output import EXIT_ERROR, EXIT_OK, EXIT_UNEXPECTED, emit, print_error
from ptediff.core.errors import PtediffError, SpecError
from ptediff.report import report_json
from ptediff.report.run import RunFile, run_blocks


def cmd_run(args: argparse.Namespace) -> int:
    from ptediff.judge.verdict import evaluate

    chosen = resolve_impls(args.impls)
    files: list[RunFile] = []
    unreadable: list[PtediffError] = []
    for path in expand_paths(args.files):
        try:
            program = load_program(path)
        except PtediffError as error:
            print_error(error)
            unreadable.append(error)
            continue
        try:
            verdicts = [evaluate(program, impl, level=args.level)
                        for impl in chosen or default_impls(program)]
        except SpecError as error:
            files.append(RunFile(str(path), program, (), str(error)))
            continue
        files.append(RunFile(str(path), program, tuple(verdicts)))
    emit(args.format, run_blocks(files), lambda: report_json.run_json(files, unreadable))
    if unreadable:
        return EXIT_ERROR
    return EXIT_UNEXPECTED if any(not f.passed for f in files) else EXIT_OK
