"""`explore --impl linux --runs N`: a program's parallel blocks run N times on the real kernel.

herd7's litmus7 manner: the kernel's scheduler picks each interleaving, and the campaign reports
the set of outcomes it saw against the set the spec allows, each outcome with its count, and per
signature class of an undeclared difference Never / Sometimes / Always. Outcomes are compared at
the requested level, so at the contract level two runs that differ only in frames or write bits
are one outcome.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from ptediff.core.outcome import Outcome, format_result
from ptediff.core.program import Fault, Program
from ptediff.judge.check import spec_outcomes
from ptediff.judge.differ import contract_view
from ptediff.live.compare import LiveJudgement, judge_live
from ptediff.live.guard import LiveSession
from ptediff.live.runner import run_live
from ptediff.search.tally import canonical_outcome


@dataclass
class LiveOutcome:
    description: str
    count: int
    allowed: bool  # the spec allows it (with the declared differences applied)
    classes: tuple[str, ...]  # signature classes of an undeclared difference
    fired: tuple[str, ...]  # declared differences that applied


@dataclass
class LiveExploration:
    level: str
    runs: int
    seconds: float = 0.0
    spec_outcomes: tuple[str, ...] = ()  # the spec's allowed outcomes, described at the level
    outcomes: list[LiveOutcome] = field(default_factory=list)
    class_runs: Counter[str] = field(default_factory=Counter)  # class -> runs showing it
    fired: Counter[str] = field(default_factory=Counter)

    def observation(self, cls: str) -> str:
        hits = self.class_runs[cls]
        return "Never" if hits == 0 else "Always" if hits == self.runs else "Sometimes"

    @property
    def unexpected(self) -> bool:
        return any(not outcome.allowed for outcome in self.outcomes)

    @property
    def spec_seen(self) -> int:
        """How many of the spec's outcomes the live runs produced."""
        seen = {o.description for o in self.outcomes if o.allowed}
        return sum(1 for description in self.spec_outcomes if description in seen)


def describe(program: Program, outcome: Outcome, level: str) -> str:
    """One line per outcome: results (values read in hex), then each page's state at `level`."""
    reads = {i for i, op in enumerate(program.ops()) if isinstance(op, Fault) and not op.write}
    results = " ".join(f"#{op}={format_result(r, value=op in reads)}"
                       for op, r in sorted(outcome.results.items()))
    if level == "contract":
        state = contract_view(outcome)
        pages = " ".join(f"{proc}:{addr:#x}={pte.data:#x}"
                         for (proc, addr), pte in sorted(state.items()) if pte.data)
        return f"{results}; {pages}" if pages else results
    return canonical_outcome(outcome).describe(reads)


def explore_live(
    session: LiveSession, program: Program, *, runs: int, level: str = "all"
) -> LiveExploration:
    report = LiveExploration(level, runs)
    started = time.monotonic()
    allowed = spec_outcomes(program)
    report.spec_outcomes = tuple(dict.fromkeys(describe(program, o, level) for o in allowed))
    seen: dict[str, tuple[int, LiveJudgement]] = {}
    for _ in range(runs):
        run = run_live(session, program)
        judged = judge_live(program, run, level=level)
        # an allowed outcome is counted as the spec outcome it matched (declared differences
        # applied); an undeclared one as what the kernel did
        matched = judged.judgement.matched
        key = describe(program, matched if matched is not None else run.outcome, level)
        count, first = seen.get(key, (0, judged))
        seen[key] = (count + 1, first)
        report.fired.update(judged.fired.keys())
        if not judged.agrees:
            report.class_runs.update(set(judged.judgement.divergence.classes))  # type: ignore[union-attr]
    for key, (count, judged) in sorted(seen.items(), key=lambda item: -item[1][0]):
        classes = judged.judgement.divergence.classes if not judged.agrees else ()  # type: ignore[union-attr]
        report.outcomes.append(LiveOutcome(key, count, judged.agrees, classes,
                                           tuple(sorted(judged.fired))))
    report.seconds = time.monotonic() - started
    return report
