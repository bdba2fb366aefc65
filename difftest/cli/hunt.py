"""The `hunt` command: the divergence search, with its progress line on stderr."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from ptediff.cli.campaign import campaign_of
from ptediff.cli.implementations import resolve_impls
from ptediff.cli.output import EXIT_OK, EXIT_UNEXPECTED, UsageError, emit
from ptediff.report import report_json
from ptediff.report.hunt import HuntFinding, hunt_blocks

if TYPE_CHECKING:
    from ptediff.search.findings import Finding

DEFAULT_HUNT_SECONDS = 60.0
# How an interrupted hunt exits, after printing its report: the shells' 128 + signal number.
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class ProgressLine:
    """The hunt's progress on stderr: examples run, divergences found, time left.

    On a terminal one line is redrawn in place, with a bar; otherwise (CI logs, pipes) a plain
    line is written only when the progress crosses a tenth of the budget or a divergence is
    found, so a log stays short. It only displays what the engine reports: no clock of its own.
    """

    WIDTH = 24

    def __init__(
        self, stream: TextIO, *, max_examples: int | None, seconds: float | None, tty: bool
    ) -> None:
        self.stream = stream
        self.max_examples = max_examples
        self.seconds = seconds
        self.tty = tty
        self.last_tenth = -1
        self.last_divergences = -1
        self.drawn = False

    def __call__(self, examples: int, divergences: int, seconds_left: float | None) -> None:
        fraction = self.fraction(examples, seconds_left)
        if not self.tty:
            tenth = int(fraction * 10) if fraction is not None else examples // 100
            if tenth == self.last_tenth and divergences == self.last_divergences:
                return
            self.last_tenth, self.last_divergences = tenth, divergences
        self._show(examples, divergences, seconds_left, fraction)

    def finish(self, examples: int, divergences: int) -> None:
        """The final counts (shrinking runs examples past the budget), then end the line."""
        self._show(examples, divergences, None, 1.0)
        self.close()

    def _show(
        self, examples: int, divergences: int, seconds_left: float | None, fraction: float | None
    ) -> None:
        counts = f"{examples} examples, {divergences} divergence{'s' * (divergences != 1)}"
        left = f", {seconds_left:.0f} s left" if seconds_left is not None else ""
        if self.tty:
            filled = round(fraction * self.WIDTH) if fraction is not None else 0
            bar = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] " if fraction is not None else ""
            self.stream.write(f"\rhunt {bar}{counts}{left}\033[K")
            self.drawn = True
        else:
            self.stream.write(f"hunt: {counts}{left}\n")
        self.stream.flush()

    def fraction(self, examples: int, seconds_left: float | None) -> float | None:
        if self.seconds and seconds_left is not None:
            return min(max(1 - seconds_left / self.seconds, 0.0), 1.0)
        if self.max_examples:
            return min(examples / self.max_examples, 1.0)
        return None

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def cmd_hunt(args: argparse.Namespace) -> int:
    from ptediff.search.jobs import run_campaign
    from ptediff.search.profiles import PROFILES

    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}: use one of {', '.join(PROFILES)}")
    if args.save is not None and args.save.exists() and not args.save.is_dir():
        raise UsageError(f"--save {args.save}: not a directory")
    chosen = resolve_impls(args.impls)
    seconds = args.seconds
    if seconds is None and args.max_examples is None:
        seconds = DEFAULT_HUNT_SECONDS
    progress = None
    if not args.no_progress:
        progress = ProgressLine(sys.stderr, max_examples=args.max_examples, seconds=seconds,
                                tty=sys.stderr.isatty())
    if args.save is not None:  # before the search (and its workers), not at the first finding
        from ptediff.search.regressions import check_writable

        check_writable(args.save)
    campaign = campaign_of(args, chosen, seconds)
    from ptediff.search.interrupts import signals_interrupt

    try:
        with signals_interrupt():
            found = run_campaign(args.jobs, campaign, progress)
    except BaseException:
        if progress is not None:
            progress.close()
        raise
    if progress is not None:
        progress.finish(found.examples, len(found.findings))
    for error in found.errors:
        print(f"ptediff: hunt: {error}", file=sys.stderr)
    findings = [HuntFinding.of(f, expected=reverts_something(f.impl) or known_latent(f))
                for f in found.findings]
    emit(
        args.format,
        hunt_blocks(found, findings, saving=args.save is not None),
        lambda: report_json.hunt_json(found, findings),
    )
    if found.interrupted:
        print(f"ptediff: hunt interrupted by {found.signal}: the report above is partial",
              file=sys.stderr)
        return EXIT_SIGTERM if found.signal == "SIGTERM" else EXIT_SIGINT
    surprises = [f for f in findings if not f.expected]
    return EXIT_UNEXPECTED if surprises or found.errors else EXIT_OK


def known_latent(finding: Finding) -> bool:
    """Whether a finding is a documented latent bug of the 2006 code (`Kernel.LATENT`)."""
    from ptediff import impls

    return finding.signature in getattr(impls.load(finding.impl), "LATENT", frozenset())


def reverts_something(impl: str) -> bool:
    """Whether divergences of `impl` are expected: it reverts a fix (a non-empty REVERTS).

    `postfix`, and a user's class that reverts nothing, should agree with the spec.
    """
    from ptediff import impls

    return bool(getattr(impls.load(impl), "REVERTS", ""))
