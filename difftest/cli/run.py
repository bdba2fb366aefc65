"""The `run` command: `.pte` files judged on the spec and the implementations."""

from __future__ import annotations

import argparse
from pathlib import Path

from ptediff.cli.files import expand_paths, load_program
from ptediff.cli.implementations import default_impls, resolve_impls
from ptediff.cli.live import LiveBackend, is_live
from ptediff.cli.output import EXIT_ERROR, EXIT_OK, EXIT_UNEXPECTED, emit, print_error
from ptediff.core.errors import PtediffError, SpecError
from ptediff.core.program import Program
from ptediff.report import report_json
from ptediff.report.run import RunFile, run_blocks


def cmd_run(args: argparse.Namespace) -> int:
    chosen = resolve_impls(args.impls)
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
            files.append(_run_file(path, program, chosen or default_impls(program), args.level,
                                   live))
    emit(args.format, run_blocks(files), lambda: report_json.run_json(files, unreadable))
    if unreadable:
        return EXIT_ERROR
    return EXIT_UNEXPECTED if any(not f.passed for f in files) else EXIT_OK


def _run_file(
    path: Path, program: Program, names: list[str], level: str, live: LiveBackend
) -> RunFile:
    from ptediff.judge.verdict import evaluate
    from ptediff.live.runner import LiveUnsupported

    verdicts, skipped, declared = [], [], []
    try:
        for impl in names:
            if not is_live(impl):
                verdicts.append(evaluate(program, impl, level=level))
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
    return RunFile(str(path), program, tuple(verdicts), skipped=tuple(skipped),
                   declared=tuple(declared))
