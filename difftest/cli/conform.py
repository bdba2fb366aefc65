"""The `conform` command: the conformance campaign of the running kernel against the spec."""

from __future__ import annotations

import argparse

from ptediff.cli.output import EXIT_ERROR, EXIT_OK, EXIT_UNEXPECTED, emit

DEFAULT_CONFORM_SECONDS = 60.0


def cmd_conform(args: argparse.Namespace) -> int:
    from ptediff.live.conform import conform
    from ptediff.live.guard import LiveSession, install_signal_cleanup
    from ptediff.report.live import conform_blocks, conform_json

    install_signal_cleanup()
    seconds = args.seconds
    if seconds is None and args.max_examples is None:
        seconds = DEFAULT_CONFORM_SECONDS
    with LiveSession() as session:
        report = conform(session, seconds=seconds, max_examples=args.max_examples,
                         seed=args.seed, level=args.level, save_dir=args.save,
                         parallel=not args.sequential)
    emit(args.format, conform_blocks(report), lambda: conform_json(report))
    if report.error is not None:
        return EXIT_ERROR
    return EXIT_UNEXPECTED if report.findings else EXIT_OK
