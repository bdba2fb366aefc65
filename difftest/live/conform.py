"""The conformance campaign: generated programs on the spec and on the running kernel.

Hypothesis generates programs the live backend can run (no migrate: this machine cannot move a
chosen page; no state checks: the differ compares every pte anyway), each runs on the live
kernel, and the live outcome is judged against the spec at the contract level by default, with
the declared differences applied. An undeclared difference makes the property fail: hypothesis
shrinks it (each shrink step is another live run) and the campaign goes on with that class
ignored, until the time budget is spent. Live runs of parallel blocks are not repeatable, so a
failure that does not reproduce while shrinking is kept as first seen, marked as such.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from ptediff.core.errors import DslError
from ptediff.core.program import Program
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.live.compare import LiveJudgement, judge_live
from ptediff.live.guard import LiveSession
from ptediff.live.runner import LiveUnsupported, run_live
from ptediff.search.shrink_passes import without_op
from ptediff.search.strategies import programs

LIVE_KINDS = ("map", "fault", "fork", "swapon", "pageout", "mprotect", "munmap", "exit")
CHUNK_EXAMPLES = 10**6  # a chunk ends at a failure or at the time budget


class _Spent(BaseException):
    """The time or example budget is spent (not an Exception: hypothesis stops at once)."""


@dataclass
class ConformFinding:
    cls: str  # the primary signature class of the undeclared difference
    program: Program  # the smallest program that showed it
    judgement: LiveJudgement
    reproduced: bool  # hypothesis re-ran it while shrinking and saw it again
    saved: Path | None = None


@dataclass
class ConformReport:
    level: str
    seed: int | None
    budget_seconds: float | None
    max_examples: int | None
    programs: int = 0  # programs run on the live kernel (generation and shrinking)
    agreeing: int = 0
    seconds: float = 0.0
    live_seconds: float = 0.0  # time inside live runs and judgements
    fired: Counter[str] = field(default_factory=Counter)  # declared -> programs it fired in
    findings: list[ConformFinding] = field(default_factory=list)
    interrupted: bool = False
    error: str | None = None  # what stopped the campaign early, when something went wrong

    @property
    def throughput(self) -> float:
        return self.programs / self.seconds if self.seconds else 0.0


def _size(program: Program) -> tuple[int, int]:
    return len(program.ops()), len(program.blocks())


class _Campaign:
    def __init__(self, session: LiveSession, report: ConformReport) -> None:
        self.session = session
        self.report = report
        self.started = time.monotonic()
        self.ignored: set[str] = set()
        self.smallest: dict[str, tuple[Program, LiveJudgement]] = {}
        self.seen: Counter[str] = Counter()

    def spent(self) -> bool:
        report = self.report
        if report.budget_seconds is not None and (
                time.monotonic() - self.started > report.budget_seconds):
            return True
        return report.max_examples is not None and report.programs >= report.max_examples

    def check(self, program: Program) -> None:
        if self.spent():
            raise _Spent
        began = time.monotonic()
        try:
            run = run_live(self.session, program)
        except LiveUnsupported:
            return  # cannot happen for LIVE_KINDS; kept so a new op kind is skipped, not fatal
        judged = judge_live(program, run, level=self.report.level)
        self.report.live_seconds += time.monotonic() - began
        self.report.programs += 1
        self.report.fired.update(judged.fired.keys())
        if judged.agrees:
            self.report.agreeing += 1
            return
        cls = judged.judgement.divergence.primary.cls  # type: ignore[union-attr]
        if cls in self.ignored:
            return
        self.seen[cls] += 1
        best = self.smallest.get(cls)
        if best is None or _size(program) < _size(best[0]):
            self.smallest[cls] = (program, judged)
        raise AssertionError(f"undeclared difference {cls}")

    def delete_ops(self, cls: str) -> None:
        """Finish hypothesis's shrinking: drop single operations while the live run still shows
        `cls` (hypothesis shrinks choices, and some whole operations survive that)."""
        program, judged = self.smallest[cls]
        shrunk = True
        while shrunk:
            shrunk = False
            for op_id in range(len(program.ops())):
                candidate = without_op(program, op_id)
                try:
                    candidate = parse(format_program(candidate))
                except DslError:
                    continue  # e.g. a fork's child used later: not a program
                try:
                    run = run_live(self.session, candidate)
                except LiveUnsupported:
                    continue
                self.report.programs += 1
                again = judge_live(candidate, run, level=self.report.level)
                divergence = again.judgement.divergence
                if divergence is not None and divergence.primary.cls == cls:
                    program, judged, shrunk = candidate, again, True
                    break
        self.smallest[cls] = (program, judged)

    def chunk(self, seed: int | None, chunk: int, threads: tuple[int, int] | None) -> None:
        strategy = programs(max_ops=10, ops=LIVE_KINDS, threads=threads)

        @settings(max_examples=CHUNK_EXAMPLES, deadline=None, database=None,
                  phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck),
                  report_multiple_bugs=False)
        @given(strategy)
        def test(program: Program) -> None:
            self.check(program)

        if seed is not None:
            test = hypothesis_seed(seed + chunk)(test)
        try:
            test()
        except AssertionError:
            pass  # shrunk: the smallest failing program is in self.smallest
        except Exception as error:
            # A crash of the backend or judge, or hypothesis giving up (a health check, an
            # unsatisfiable strategy): the campaign cannot go on, and must not end as if it
            # had simply found nothing.
            self.report.error = f"{type(error).__name__}: {error}"


def conform(
    session: LiveSession,
    *,
    seconds: float | None = None,
    max_examples: int | None = None,
    seed: int | None = None,
    level: str = "contract",
    save_dir: Path | None = None,
    parallel: bool = True,
    stop_after: int | None = None,
) -> ConformReport:
    """Run the campaign until `seconds` are spent or `max_examples` programs have run (or
    `stop_after` undeclared differences are found)."""
    report = ConformReport(level, seed, seconds, max_examples)
    campaign = _Campaign(session, report)
    threads = (2, 2) if parallel else None
    chunk = 0
    try:
        while not campaign.spent():
            before = set(campaign.smallest)
            try:
                campaign.chunk(seed, chunk, threads)
            except _Spent:
                break
            if report.error is not None:
                break
            new = set(campaign.smallest) - before
            if not new:
                break  # hypothesis ran out of examples without a failure
            campaign.ignored |= new
            if stop_after is not None and len(campaign.smallest) >= stop_after:
                break
            chunk += 1
    except KeyboardInterrupt:
        report.interrupted = True
    for cls in sorted(campaign.smallest):
        campaign.delete_ops(cls)
    report.seconds = time.monotonic() - campaign.started
    for cls, (program, judged) in sorted(campaign.smallest.items()):
        finding = ConformFinding(cls, program, judged, campaign.seen[cls] > 1)
        if save_dir is not None:
            finding.saved = save_finding(save_dir, finding)
        report.findings.append(finding)
    return report


def save_finding(directory: Path, finding: ConformFinding) -> Path:
    """The finding as a `.pte` file: the program, with a comment saying what differed."""
    from dataclasses import replace

    from ptediff.dsl.printer import format_program

    directory.mkdir(parents=True, exist_ok=True)
    comments = (
        f"Found by ptediff conform: the running kernel differs from the spec ({finding.cls}),",
        "at the contract level, and no declared difference explains it (docs/live-kernel.md).",
    )
    program = replace(finding.program, comments=comments, expects=())
    name = finding.cls.replace(":", "-")
    path = directory / f"live-{name}.pte"
    path.write_text(format_program(program))
    return path
