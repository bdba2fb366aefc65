"""Exhaustive schedule exploration of a program's parallel blocks, with herd7-style reports.

Exploration works by *replay*: a kernel model runs the whole program from the start with a
schedule prefix per parallel block, and its trace says, at every step, which threads could have
run. Each step where more than one thread was runnable is a branch point; the explorer re-runs the
program once per alternative. Several blocks are explored jointly: their steps form one sequence
of choices, block after block.

A *preemption* is a switch, inside one block, away from a thread that could still have run; a
switch forced because the running thread blocked or finished is free. With a preemption bound the
explorer visits exactly the schedules with at most that many preemptions, summed over all blocks
(CHESS-style context bounding); `None` means every schedule.

Every explored schedule is one *execution*; executions are grouped into canonical outcomes
(frames renamed), each outcome is judged once against the spec's allowed outcomes, and each
divergence signature gets a herd7-style observation: Never, Sometimes or Always.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from ptediff.core.canon import canonical_state
from ptediff.core.errors import PtediffError
from ptediff.core.outcome import Key, Outcome, PteState, TraceStep, format_result
from ptediff.core.program import Fault, Parallel, Program, Result

Schedule = tuple[tuple[int, ...], ...]  # one tuple of thread indices per parallel block
Runner = Callable[[Program], Outcome]  # one deterministic run of a kernel model
Choice = tuple[int, int]  # (block, thread) of one scheduler step
Observation = Literal["Never", "Sometimes", "Always"]

# Padding appended to the last scheduled block of a replay, as a multiple of the longest block
# seen so far: it keeps the replayed thread running after the prefix instead of falling back to
# the lowest-numbered one, so fewer replays overshoot the preemption bound and get discarded.
PAD_FACTOR = 2
PAD_MINIMUM = 8


class ExploreError(PtediffError):
    """An exploration that cannot be carried out: a bad bound or budget, an unreplayable model."""


# --------------------------------------------------------------------------------------------
# Schedules and traces


def with_schedules(program: Program, schedules: Sequence[tuple[int, ...]]) -> Program:
    """The program with its parallel blocks' schedules replaced, block by block."""
    replaced = iter(schedules)
    steps = tuple(
        dataclasses.replace(step, schedule=next(replaced, ()))
        if isinstance(step, Parallel)
        else step
        for step in program.steps
    )
    return dataclasses.replace(program, steps=steps)


def choices_of(trace: Sequence[TraceStep]) -> tuple[Choice, ...]:
    return tuple((step.block, step.thread) for step in trace)


def schedule_of(trace: Sequence[TraceStep], nblocks: int) -> Schedule:
    """The full schedule a trace followed: the thread of every step, per block."""
    per_block: list[list[int]] = [[] for _ in range(nblocks)]
    for step in trace:
        per_block[step.block].append(step.thread)
    return tuple(tuple(threads) for threads in per_block)


def witness_schedule(trace: Sequence[TraceStep], nblocks: int) -> Schedule:
    """The shortest per-block schedule that replays `trace`.

    Trailing steps that took the lowest-numbered runnable thread are dropped: that is what the
    scheduler does anyway once a schedule is exhausted.
    """
    per_block: list[list[TraceStep]] = [[] for _ in range(nblocks)]
    for step in trace:
        per_block[step.block].append(step)
    witness = []
    for steps in per_block:
        end = len(steps)
        while end and steps[end - 1].thread == min(steps[end - 1].runnable, default=-1):
            end -= 1
        witness.append(tuple(step.thread for step in steps[:end]))
    return tuple(witness)


def is_preemption(trace: Sequence[TraceStep], index: int, thread: int) -> bool:
    """Whether running `thread` at step `index` switches away from a thread that could go on."""
    if index == 0:
        return False
    previous, current = trace[index - 1], trace[index]
    return (
        previous.block == current.block
        and previous.thread != thread
        and previous.thread in current.runnable
    )


def count_preemptions(trace: Sequence[TraceStep]) -> int:
    return sum(is_preemption(trace, i, step.thread) for i, step in enumerate(trace))


def format_schedule(schedule: Schedule) -> str:
    """`0 0 1 | 1 0`: one group of thread indices per parallel block, in program order."""
    return " | ".join(" ".join(map(str, block)) or "-" for block in schedule)


# --------------------------------------------------------------------------------------------
# Enumeration


@dataclass(frozen=True)
class Execution:
    """One complete run of the program under one schedule."""

    schedule: Schedule  # the full schedule followed (every step)
    witness: Schedule  # the shortest schedule that replays it
    preemptions: int
    outcome: Outcome


def check_replay(prefix: Sequence[Choice], trace: Sequence[TraceStep]) -> None:
    """A model must follow a replayed prefix exactly, or the enumeration would be unsound."""
    followed = choices_of(trace[: len(prefix)])
    if followed != tuple(prefix):
        raise ExploreError(
            "the model did not replay a schedule deterministically: "
            f"asked for {list(prefix)}, ran {list(followed)}"
        )


def prefix_schedules(prefix: Sequence[Choice], nblocks: int, pad: int) -> list[tuple[int, ...]]:
    """Per-block schedules that replay `prefix`, the last scheduled thread padded to keep going."""
    per_block: list[list[int]] = [[] for _ in range(nblocks)]
    for block, thread in prefix:
        per_block[block].append(thread)
    if prefix:
        block, thread = prefix[-1]
        per_block[block].extend([thread] * pad)
    return [tuple(threads) for threads in per_block]


def check_limits(preemption_bound: int | None, max_schedules: int | None) -> None:
    if preemption_bound is not None and preemption_bound < 0:
        raise ExploreError(f"the preemption bound must be >= 0, not {preemption_bound}")
    if max_schedules is not None and max_schedules < 1:
        raise ExploreError(f"the schedule budget must be >= 1, not {max_schedules}")


class ScheduleEnumerator:
    """Depth-first enumeration of a program's schedules by replay.

    Iterating yields each schedule within the preemption bound exactly once, in a deterministic
    order. `model_runs` counts every run of the model, including runs whose continuation went
    past the bound (they only serve as a source of branch points and are not yielded).
    """

    def __init__(
        self,
        program: Program,
        run: Runner,
        *,
        preemption_bound: int | None = 2,
        max_schedules: int | None = None,
    ) -> None:
        check_limits(preemption_bound, max_schedules)
        self.program = program
        self.run = run
        self.preemption_bound = preemption_bound
        self.max_schedules = max_schedules
        self.nblocks = len(program.blocks())
        self.model_runs = 0
        self.schedules = 0
        self.complete = False  # every schedule within the bound was yielded

    def _within_bound(self, preemptions: int) -> bool:
        return self.preemption_bound is None or preemptions <= self.preemption_bound

    def __iter__(self) -> Iterator[Execution]:
        pending: list[tuple[Choice, ...]] = [()]
        longest_block = 0
        while pending:
            if self.max_schedules is not None and self.schedules >= self.max_schedules:
                return
            prefix = pending.pop()
            pad = PAD_FACTOR * longest_block + PAD_MINIMUM
            outcome = self.run(
                with_schedules(self.program, prefix_schedules(prefix, self.nblocks, pad))
            )
            self.model_runs += 1
            trace = outcome.trace
            check_replay(prefix, trace)
            schedule = schedule_of(trace, self.nblocks)
            longest_block = max(longest_block, *map(len, schedule), 0)
            pending.extend(self._branches(prefix, trace))
            preemptions = count_preemptions(trace)
            if self._within_bound(preemptions):
                self.schedules += 1
                yield Execution(
                    schedule, witness_schedule(trace, self.nblocks), preemptions, outcome
                )
        self.complete = True

    def _branches(
        self, prefix: tuple[Choice, ...], trace: Sequence[TraceStep]
    ) -> list[tuple[Choice, ...]]:
        """Prefixes of the unexplored siblings of `trace`, deepest and lowest thread on top."""
        branches: list[tuple[Choice, ...]] = []
        choices = choices_of(trace)
        preemptions_before = 0
        for index, step in enumerate(trace):
            if index >= len(prefix):
                for thread in sorted(step.runnable, reverse=True):
                    if thread == step.thread:
                        continue
                    taken = preemptions_before + is_preemption(trace, index, thread)
                    if self._within_bound(taken):
                        branches.append((*choices[:index], (step.block, thread)))
            preemptions_before += is_preemption(trace, index, step.thread)
            if not self._within_bound(preemptions_before):
                break  # every deeper prefix is already past the bound
        return branches


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
        parts.extend(f"BUG {function}@#{op}" for function, op in self.bugs)
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
        bugs=tuple(sorted({(b.function, b.op) for b in outcome.bugs}, key=by_op)),
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


def spec_judge(program: Program) -> tuple[Judge, int]:
    """A judge against the spec's allowed outcomes (computed once), and how many there are."""
    from ptediff import spec
    from ptediff.judge import differ

    allowed = spec.run(program)

    def judge(outcome: Outcome) -> Verdict:
        judgement = differ.judge(program, allowed, outcome)
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


# --------------------------------------------------------------------------------------------
# The whole report


@dataclass(frozen=True)
class PctParameters:
    """A PCT campaign (Burckhardt et al., ASPLOS 2010): `runs` schedules of bug depth `depth`."""

    runs: int
    depth: int
    seed: int
    threads: int  # n: threads over all parallel blocks
    steps: int  # k: scheduler steps of a run (measured on the default schedule)

    @property
    def probability_bound(self) -> float:
        """PCT's per-run lower bound 1/(n·k^(d−1)) on hitting a given depth-d bug."""
        return 1.0 / (max(self.threads, 1) * max(self.steps, 1) ** (self.depth - 1))


@dataclass
class ExploreReport:
    mode: Literal["exhaustive", "pct"]
    impls: list[ImplReport]
    spec_outcomes: int
    preemption_bound: int | None = None  # exhaustive mode
    pct: PctParameters | None = None  # pct mode
    elapsed: float = 0.0
    program: Program | None = None  # for op-aware formatting (values read in hex)

    def impl(self, name: str) -> ImplReport:
        for report in self.impls:
            if report.impl == name:
                return report
        raise KeyError(name)

    def observe(self, impl: str, signature: str | SignatureKey) -> Observation:
        return self.impl(impl).observe(signature)

    def signature_rows(self) -> list[SignatureKey]:
        """Every signature any implementation showed, in a stable order."""
        keys = {key for report in self.impls for key in report.signatures}
        return sorted(keys, key=lambda k: (k.cls, -1 if k.op is None else k.op))

    def render(self) -> str:
        """Plain-text report in the manner of herd7's outcome listing."""
        return "\n".join(render_lines(self))


def render_lines(report: ExploreReport) -> list[str]:
    if report.mode == "pct" and report.pct is not None:
        p = report.pct
        lines = [
            f"PCT: {p.runs} runs, depth {p.depth}, seed {p.seed}; n={p.threads} threads, "
            f"k={p.steps} steps; per-run bound 1/(n·k^(d-1)) = {p.probability_bound:.3g}"
        ]
    else:
        bound = "unbounded" if report.preemption_bound is None else report.preemption_bound
        lines = [f"exhaustive exploration, preemption bound {bound}"]
    lines.append(f"spec: {report.spec_outcomes} allowed outcome(s)")
    reads = read_ops(report.program) if report.program is not None else frozenset()
    for impl in report.impls:
        state = "complete" if impl.complete else "partial"
        if report.mode == "pct":
            state = f"{impl.distinct_schedules} distinct"
        lines.append("")
        lines.append(
            f"{impl.impl}: {impl.schedules} schedules ({state}, up to {impl.max_preemptions} "
            f"preemptions), {impl.model_runs} model runs, {impl.elapsed:.2f} s, "
            f"{impl.schedules_per_second:.0f} schedules/s"
        )
        lines.append(f"  outcomes {len(impl.outcomes)}:")
        for outcome_class in sorted(impl.outcomes.values(), key=lambda c: -c.count):
            verdict = outcome_class.verdict
            mark = "ok  " if verdict.agrees else "DIFF"
            names = " ".join(map(str, verdict.signatures))
            lines.append(f"    {outcome_class.count:>7} {mark} {names}")
            lines.append(f"            {outcome_class.outcome.describe(reads)}")
            lines.append(f"            witness: {format_schedule(outcome_class.witness)}")
        lines.append(f"  Positive: {impl.schedules - impl.agreeing} Negative: {impl.agreeing}")
        for key in report.signature_rows():
            hits = impl.hits(key)
            witness = impl.witness(key)
            shown = f"  witness {format_schedule(witness)}" if witness is not None else ""
            lines.append(
                f"  Observation {key!s:<40} {impl.observe(key):<9} {hits} {impl.schedules - hits}"
                f"{shown}"
            )
    return lines


# --------------------------------------------------------------------------------------------
# Entry points


ImplSpec = str | type


def resolve_impls(impls: ImplSpec | Sequence[ImplSpec]) -> list[tuple[str, type]]:
    """(display name, Kernel class) for each implementation given by name, path or class."""
    from ptediff import impls as models

    if isinstance(impls, str | type):
        impls = [impls]
    if not impls:
        raise ExploreError("no implementation to explore")
    resolved = []
    for impl in impls:
        kernel = models.load(impl) if isinstance(impl, str) else impl
        name = impl if isinstance(impl, str) else getattr(kernel, "NAME", "") or kernel.__name__
        resolved.append((name, kernel))
    return resolved


def model_runner(kernel: type, *, check_invariants: bool = True) -> Runner:
    from ptediff import impls as models

    def run(program: Program) -> Outcome:
        return models.run(kernel, program, check_invariants=check_invariants)

    return run


def explore(
    program: Program,
    impls: ImplSpec | Sequence[ImplSpec],
    *,
    preemption_bound: int | None = 2,
    max_schedules: int | None = None,
    check_invariants: bool = True,
) -> ExploreReport:
    """Run every schedule of `program` (up to the preemption bound) on each implementation.

    `impls`: registered names, `package.module:Class` paths or Kernel classes. `max_schedules`
    caps the schedules per implementation; the report then says the exploration is partial.
    `check_invariants=False` runs the models about four times faster but reports no
    `invariant:*` signatures.
    """
    started = time.perf_counter()
    check_limits(preemption_bound, max_schedules)
    resolved = resolve_impls(impls)
    judge, spec_outcomes = spec_judge(program)
    reports = []
    for name, kernel in resolved:
        enumerator = ScheduleEnumerator(
            program,
            model_runner(kernel, check_invariants=check_invariants),
            preemption_bound=preemption_bound,
            max_schedules=max_schedules,
        )
        impl_report = tally(name, enumerator, judge)
        impl_report.model_runs = enumerator.model_runs
        impl_report.complete = enumerator.complete
        reports.append(impl_report)
    return ExploreReport(
        mode="exhaustive",
        impls=reports,
        spec_outcomes=spec_outcomes,
        preemption_bound=preemption_bound,
        elapsed=time.perf_counter() - started,
        program=program,
    )
