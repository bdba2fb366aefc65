"""The commands that run no model: `fmt`, `check` and `impls`.

They only parse files or list the registry, and run from editors and CI hooks where start-up
time matters.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ptediff.cli.files import expand_paths, parse_source, read_source, write_atomically
from ptediff.cli.output import EXIT_ERROR, EXIT_OK, EXIT_UNEXPECTED, emit, print_error
from ptediff.core.errors import PtediffError
from ptediff.report import report_json
from ptediff.report.inventory import CheckedFile, check_blocks, impls_blocks, mutants_blocks


def cmd_fmt(args: argparse.Namespace) -> int:
    from ptediff.dsl.printer import format_program

    changed: list[Path] = []
    failed = False
    for path in expand_paths(args.files):
        try:
            text = read_source(path)
            canonical = format_program(parse_source(text, path))
        except PtediffError as error:
            print_error(error)
            failed = True
            continue
        if canonical == text:
            continue
        changed.append(path)
        if args.check:
            print(f"would reformat {path}")
            continue
        try:
            write_atomically(path, canonical)
        except PtediffError as error:  # a file that cannot be rewritten: the others still are
            print_error(error)
            failed = True
            continue
        print(f"reformatted {path}")
    if failed:
        return EXIT_ERROR
    return EXIT_UNEXPECTED if args.check and changed else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    checked: list[CheckedFile] = []
    for path in expand_paths(args.files):
        try:
            checked.append(CheckedFile(str(path), parse_source(read_source(path), path)))
        except PtediffError as error:
            print_error(error)
            checked.append(CheckedFile(str(path), None, error))
    emit(args.format, check_blocks(checked), lambda: report_json.check_json(checked))
    return EXIT_ERROR if any(c.program is None for c in checked) else EXIT_OK


def cmd_impls(args: argparse.Namespace) -> int:
    from ptediff.impls import REGISTRY

    if not getattr(args, "mutants", False):
        emit(args.format, impls_blocks(REGISTRY), lambda: report_json.impls_json(REGISTRY))
        return EXIT_OK
    from ptediff.impls.mutants import MUTANTS

    emit(
        args.format,
        impls_blocks(REGISTRY) + mutants_blocks(MUTANTS),
        lambda: report_json.impls_json(REGISTRY, MUTANTS),
    )
    return EXIT_OK
