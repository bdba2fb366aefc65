"""One benchmark search: `ptediff.search.hunt.hunt` on one implementation with a seed and a time
budget, read back per target divergence class.

The hunt itself runs, unchanged, so the figures are the engine's as it stands. It has no hook to
stop once the targets are found, so every search spends its whole budget (the hunt winds its
shrinking down at the deadline, then simplifies what it has).

Per target class:

* the reported finding: the first of the hunt's findings (one per primary class) whose
  simplified program shows the class among its signatures (`result:swapon` is reported under
  the primary `kernel-bug:sys_swapon`, for instance);
* time to failure: that finding's `seconds_to_first` / `examples_to_first`, the hunt's own
  record of the first example whose primary class was the finding's;
* shrink seconds: from that first example until the finding was complete (hypothesis's
  shrinking, simplification, location). The hunt reports its count of findings through the
  progress callback; the first callback showing this finding counted dates it (or the hunt's
  end, for a finding made in its last chunk).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ptediff.judge.check import clear_cache
from ptediff.search import profiles
from ptediff.search.findings import Finding, ProgramSize
from ptediff.search.hunt import hunt


@dataclass
class TargetRun:
    """What one search measured for one target class."""

    cls: str
    examples_to_first: int | None = None
    seconds_to_first: float | None = None
    shrink_seconds: float | None = None  # from the first failure to the finding's report
    reported_as: str | None = None  # primary class of the finding
    shrunk_size: ProgramSize | None = None  # as hypothesis left it (preemptions not counted)
    size: ProgramSize | None = None  # after simplification
    text: str | None = None  # the simplified program, printed

    @property
    def reported(self) -> bool:
        return self.size is not None


@dataclass
class SearchRun:
    impl: str
    seed: int
    budget: float
    targets: dict[str, TargetRun]
    examples: int = 0
    seconds: float = 0.0
    chunks: int = 0
    found: list[str] = field(default_factory=list)  # primary class of every finding, in order
    errors: list[str] = field(default_factory=list)

    def solved(self, cls: str) -> bool:
        """Reported, and first seen within the budget."""
        target = self.targets[cls]
        return (
            target.reported
            and target.seconds_to_first is not None
            and target.seconds_to_first <= self.budget
        )


class _FindingClock:
    """The hunt's progress callback: dates the moment each finding count is first reported."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.counted_at: list[float] = []  # [k]: when the count first reached k + 1

    def __call__(self, examples: int, found: int, seconds_left: float | None) -> None:
        while len(self.counted_at) < found:
            self.counted_at.append(time.monotonic() - self.started)


def search(
    impl: str,
    targets: Sequence[str],
    *,
    seed: int,
    budget: float,
    profile: str = profiles.DEFAULT_PROFILE,
) -> SearchRun:
    """Hunt `impl` for `budget` seconds with `seed` and read back each target class."""
    clear_cache()  # every search starts with a cold spec cache
    clock = _FindingClock()
    report = hunt([impl], seconds=budget, seed=seed, profile=profile, progress=clock)
    run = SearchRun(
        impl,
        seed,
        budget,
        {cls: TargetRun(cls) for cls in targets},
        examples=report.examples,
        seconds=report.seconds,
        chunks=report.chunks,
        found=[finding.signature for finding in report.findings],
        errors=list(report.errors),
    )
    for index, finding in enumerate(report.findings):
        ready = clock.counted_at[index] if index < len(clock.counted_at) else report.seconds
        for target in run.targets.values():
            if not target.reported and target.cls in _classes(finding):
                _record(target, finding, ready)
    return run


def _classes(finding: Finding) -> set[str]:
    if finding.judgement is None or finding.judgement.divergence is None:
        return set()  # a model crash
    return set(finding.judgement.divergence.classes)


def _record(target: TargetRun, finding: Finding, ready: float) -> None:
    target.examples_to_first = finding.examples_to_first
    target.seconds_to_first = finding.seconds_to_first
    target.shrink_seconds = max(0.0, ready - finding.seconds_to_first)
    target.reported_as = finding.signature
    target.shrunk_size = ProgramSize.of(finding.shrunk, 0)
    target.size = dataclasses.replace(finding.size)
    target.text = finding.text
