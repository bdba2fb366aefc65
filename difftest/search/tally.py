"""Judging and tallying explored executions: canonical outcomes, verdicts, per-impl counts.

Executions are grouped into canonical outcomes (frames renamed), each outcome is judged once
against the spec's allowed outcomes, and each divergence signature gets a herd7-style
observation: Never, Sometimes or Always. `tally` folds the executions of one implementation into
an `ImplReport`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from ptediff.core.canon import canonical_state
from ptediff.core.outcome import Key, Outcome, PteState, format_result
from ptediff.core.program import Fault, Program, Result
from ptediff.search.schedules import Execution, Schedule

Observation = Literal["Never", "Sometimes", "Always"]


# --------------------------------------------------------------------------------------------
# Canonical outcomes


@dataclass(frozen=True)
class CanonicalOutcome:
    """What makes two runs' outcomes the same: frames renamed, bugs and violations unordered.

    Page frames and swap slots are renamed apart by `ptediff.core.canon`, as the differ compares
    them. Bug reasons and deadlock descriptions are left out: they quote raw frame numbers, and
    the differ's signatures do not depend on them.
    """

    results: tuple[tuple[int, Result], ...]
    state: tuple[tuple[Key, PteState], ...]
    vma_prot: tuple[tuple[Key, str], ...]
    bugs: tuple[tuple[str, int | None], ...]
    violations: tuple[tuple[str, int | None], ...]
    deadlock: bool

    def describe(self, read_ops: Collection[int] = ()) -> str:
        """One line: results (values read in hex), ptes, bugs, violations, deadlock."""
        parts = [
            " ".join(f"#{op}={format_result(r, value=op in read_ops)}" for op, r in self.results)
        ]
        parts.append(
            " ".join(f"{proc}:{addr:#x}={describe_pte(pte)}" for (proc, addr), pte in self.state)
        )
        parts.extend(f"{cls}@#{op}" for cls, op in self.bugs)
        parts.extend(f"{name}@#{op}" for name, op in self.violations)
        if self.deadlock:
            parts.append("deadlock")
        return "; ".join(part for part in parts if part)


def describe_pte(pte: PteState) -> str:
    if pte.kind == "none":
        return "none"
    fields = [f"{'P' if pte.kind != 'swap' else 'S'}{pte.frame}"]
    if pte.node is not None:
        fields.append(f"n{pte.node}")
    if pte.swap is not None:
        fields.append(f"swap{pte.swap}")
    if pte.data is not None:
        fields.append(f"{pte.data:#x}")
    return f"{pte.kind}{'+w' if pte.writable else ''}({','.join(fields)})"


def canonical_outcome(outcome: Outcome) -> CanonicalOutcome:
    def by_op(item: tuple[str, int | None]) -> tuple[int, str]:
        return (-1 if item[1] is None else item[1], item[0])

    return CanonicalOutcome(
        results=tuple(sorted(outcome.results.items())),
        state=canonical_state(outcome.state),
        vma_prot=tuple(sorted(outcome.vma_prot.items())),
        bugs=tuple(sorted({(b.signature_class, b.op) for b in outcome.bugs}, key=by_op)),
        violations=tuple(sorted({(v.name, v.op) for v in outcome.violations}, key=by_op)),
        deadlock=outcome.deadlock is not None,
    )


def read_ops(program: Program) -> frozenset[int]:
    """Op ids of read faults, whose results are values (shown in hex)."""
    return frozenset(
        i for i, op in enumerate(program.ops()) if isinstance(op, Fault) and not op.write
    )


# --------------------------------------------------------------------------------------------
# Judging and tallying


class SignatureKey(NamedTuple):
    """A divergence signature: its class and the op id where it first shows (None: no op)."""

    cls: str
    op: int | None

    def __str__(self) -> str:
        return self.cls if self.op is None else f"{self.cls}@#{self.op}"


@dataclass(frozen=True)
class Verdict:
    """The differ's judgement of one canonical outcome, reduced to what a report counts."""

    signatures: tuple[SignatureKey, ...]  # empty: the spec allows the outcome
    allowances: frozenset[str] = frozenset()

    @property
    def agrees(self) -> bool:
        return not self.signatures


Judge = Callable[[Outcome], Verdict]


def spec_judge(program: Program, *, level: str = "all") -> tuple[Judge, int]:
    """A judge against the spec's allowed outcomes (computed once), and how many there are
    (`level`: `all` or `contract`, as for `ptediff.judge.differ.judge`)."""
    from ptediff import spec
    from ptediff.judge import differ

    allowed = spec.run(program)

    def judge(outcome: Outcome) -> Verdict:
        judgement = differ.judge(program, allowed, outcome, level=level)
        divergence = judgement.divergence
        signatures = () if divergence is None else divergence.signatures
        return Verdict(
            tuple(SignatureKey(s.cls, s.op) for s in signatures),
            frozenset(judgement.allowances),
        )

    return judge, len(allowed)


@dataclass
class OutcomeClass:
    """Every explored schedule that ended in one canonical outcome."""

    outcome: CanonicalOutcome
    verdict: Verdict
    count: int = 0
    witness: Schedule = ()  # the first schedule found (shortest replayable form)


@dataclass
class SignatureTally:
    count: int = 0  # schedules showing it
    witness: Schedule | None = None  # the first one found


def observation(hits: int, total: int) -> Observation:
    if hits == 0:
        return "Never"
    return "Always" if hits == total else "Sometimes"


@dataclass
class ImplReport:
    """Exploration of one implementation."""

    impl: str
    schedules: int = 0  # schedules judged (PCT: runs, repeats included)
    distinct_schedules: int = 0
    model_runs: int = 0  # runs of the model, replays included
    complete: bool = False  # exhaustive mode: every schedule within the bound was explored
    elapsed: float = 0.0  # seconds
    outcomes: dict[CanonicalOutcome, OutcomeClass] = field(default_factory=dict)
    signatures: dict[SignatureKey, SignatureTally] = field(default_factory=dict)
    classes: dict[str, SignatureTally] = field(default_factory=dict)  # any op
    max_preemptions: int = 0

    @property
    def agreeing(self) -> int:
        return sum(c.count for c in self.outcomes.values() if c.verdict.agrees)

    @property
    def schedules_per_second(self) -> float:
        return self.schedules / self.elapsed if self.elapsed > 0 else float("inf")

    def observe(self, signature: str | SignatureKey) -> Observation:
        """Never / Sometimes / Always for a signature (a bare class name: at any op)."""
        return observation(self.hits(signature), self.schedules)

    def hits(self, signature: str | SignatureKey) -> int:
        if isinstance(signature, SignatureKey):
            tally = self.signatures.get(signature)
        else:
            tally = self.classes.get(signature)
        return tally.count if tally else 0

    def witness(self, signature: str | SignatureKey) -> Schedule | None:
        """The first schedule found that shows a signature (a bare class name: at any op)."""
        if isinstance(signature, SignatureKey):
            tally = self.signatures.get(signature)
        else:
            tally = self.classes.get(signature)
        return tally.witness if tally else None

    def record(self, execution: Execution, judge: Judge) -> None:
        key = canonical_outcome(execution.outcome)
        outcome_class = self.outcomes.get(key)
        if outcome_class is None:
            verdict = judge(execution.outcome)
            outcome_class = self.outcomes[key] = OutcomeClass(key, verdict, 0, execution.witness)
        outcome_class.count += 1
        self.schedules += 1
        self.max_preemptions = max(self.max_preemptions, execution.preemptions)
        signatures = outcome_class.verdict.signatures
        for signature in dict.fromkeys(signatures):
            _count(self.signatures, signature, execution.witness)
        for cls in dict.fromkeys(s.cls for s in signatures):
            _count(self.classes, cls, execution.witness)


def _count(table: dict[Any, SignatureTally], key: object, witness: Schedule) -> None:
    tally = table.setdefault(key, SignatureTally())
    tally.count += 1
    if tally.witness is None:
        tally.witness = witness


def tally(impl: str, executions: Iterable[Execution], judge: Judge) -> ImplReport:
    """Judge and count every execution of one implementation."""
    report = ImplReport(impl)
    started = time.perf_counter()
    seen: set[Schedule] = set()
    for execution in executions:
        report.record(execution, judge)
        seen.add(execution.schedule)
    report.distinct_schedules = len(seen)
    report.elapsed = time.perf_counter() - started
    return report


__all__ = [
    "CanonicalOutcome",
    "ImplReport",
    "Judge",
    "Observation",
    "OutcomeClass",
    "SignatureKey",
    "SignatureTally",
    "Verdict",
    "canonical_outcome",
    "describe_pte",
    "observation",
    "read_ops",
    "spec_judge",
    "tally",
]
