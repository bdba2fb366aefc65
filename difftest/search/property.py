"""The differential property: a program run on the spec and on an implementation gives no
divergence.

A divergence raises an exception whose *type* is specific to the implementation and the primary
signature class (`DivergenceFound` → one cached subclass per pair). Hypothesis tells failures
apart by exception type, so with `report_multiple_bugs` it shrinks and reports every class on
its own instead of one blended failure. A model that crashes (a Python exception, not a modelled
kernel BUG) raises the same way under the class `crash:<exception type>`.

The property also feeds `hypothesis.target` with quantities that lead toward the races the
folded fixes cure (see `race_targets`).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

import hypothesis
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.internal.observability import observability_enabled
from ptediff import impls
from ptediff.core.errors import BudgetExceeded, ModelCrash, PtediffError
from ptediff.core.outcome import Outcome
from ptediff.core.program import Parallel, Program
from ptediff.impls import coverage as kernel_coverage
from ptediff.judge.check import spec_outcomes
from ptediff.judge.differ import Judgement, judge
from ptediff.search import features
from ptediff.search.coverage import KernelCoverage
from ptediff.search.interrupts import raise_if_interrupted
from ptediff.search.race import RACE_TARGETS, promising, race_runs, race_targets
from ptediff.search.strategies import normalize_schedule, programs

ImplRef = str | type  # a registered name, `package.module:Class`, or a Kernel subclass
Named = tuple[str, type]  # (display name, Kernel subclass)
ClassKey = tuple[str, str]  # (implementation name, primary signature class)
Observer = Callable[[Program, Sequence[tuple[str, "Judgement | None"]]], None]

RUN_CACHE_SIZE = 1024  # programs whose runs a property remembers


class DivergenceFound(AssertionError):
    """An implementation diverged from the spec on a program.

    Concrete failures are instances of `divergence_type(impl, cls)`; catch this base class.
    """

    impl: str = ""
    cls: str = ""

    def __init__(self, program: Program, judgement: Judgement | None, detail: str = "") -> None:
        self.program = program
        self.judgement = judgement
        self.detail = detail
        super().__init__(self.describe())

    @property
    def key(self) -> ClassKey:
        return (self.impl, self.cls)

    @property
    def op(self) -> int | None:
        """The op id where the primary signature first shows (None when unknown)."""
        if self.judgement is None or self.judgement.divergence is None:
            return None
        return self.judgement.divergence.primary.op

    def describe(self) -> str:
        where = "" if self.op is None else f" at op {self.op}"
        text = f"{self.impl} diverges from the spec: {self.cls}{where}"
        return f"{text} ({self.detail})" if self.detail else text


@cache
def divergence_type(impl: str, cls: str) -> type[DivergenceFound]:
    """The exception type for divergences of `impl` whose primary signature class is `cls`."""
    name = "Divergence_" + _identifier(impl) + "__" + _identifier(cls)
    return type(name, (DivergenceFound,), {"impl": impl, "cls": cls, "__module__": __name__})


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text)


def resolve_impls(refs: Iterable[ImplRef]) -> tuple[Named, ...]:
    """(name, Kernel subclass) per implementation; unknown names raise ImplLoadError."""
    resolved = []
    for ref in refs:
        kernel = impls.load(ref) if isinstance(ref, str) else ref
        name = ref if isinstance(ref, str) else getattr(kernel, "NAME", "") or kernel.__name__
        resolved.append((name, kernel))
    return tuple(resolved)


@dataclass
class DifferentialProperty:
    """Callable property over programs: raises the divergence of the first implementation (in
    the given order) whose primary class is not in `ignore`; returns when everything agrees.

    The spec runs once per program for all implementations (and all schedules: the spec's
    outcomes never depend on a schedule). `observer`, when set, sees every program with each
    implementation's judgements (None for a crash), for progress reports.

    `schedule_variants` > 1 also runs each program whose blocks carry a drawn schedule under
    that many variants of it (`schedule_variants`): model runs are cheap next to generating a
    program and running the spec, and a race's window is narrow. The variants are a fixed
    function of the program, so the property stays deterministic; a divergence carries the
    variant that showed it.
    """

    impls: tuple[Named, ...]
    check_invariants: bool | str = False
    ignore: frozenset[ClassKey] = frozenset()
    observer: Observer | None = None
    targets: bool = True
    schedule_variants: int = 1
    # Also explore a promising program's schedules on each model (`ptediff.search.race`).
    race: bool = False
    # A reference model whose own divergences are not the searched models' bugs: a run that
    # diverges with the class the baseline also shows on the same program (and schedule) is
    # inherited, and counts as agreeing. `ptediff evaluate` searches each injected bug with
    # postfix as baseline, so that postfix's documented latent bugs do not pass for it.
    baseline: Named | None = None
    # Past this `time.monotonic()` value, or after `shrink_budget` calls following the first
    # failure, a new program raises BudgetSpent, which stops the hypothesis run; the smallest
    # failure seen for each class is then in `smallest` (the hunt simplifies it further).
    # Programs already run keep giving their result, so nothing turns flaky before that.
    deadline: float | None = None
    shrink_budget: int | None = None
    smallest: dict[ClassKey, DivergenceFound] = field(default_factory=dict, repr=False)
    over_budget: int = 0  # programs skipped because a tool limit gave no verdict
    # When set, every program run counts the modelled kernel functions it reached (the hunt's
    # coverage figure); under hypothesis observability they also become test-case features.
    coverage: KernelCoverage | None = None
    _reached: dict[Program, dict[str, int]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _calls_since_failure: int | None = field(default=None, repr=False, compare=False)
    # Different choices often give the same program: remember the last runs (all deterministic),
    # and every failing one for good, so that replaying a failure after a budget is spent (or
    # after the cache moved on) fails again: hypothesis would call that flaky otherwise.
    _runs: OrderedDict[Program, tuple[_Run, ...]] = field(
        default_factory=OrderedDict, repr=False, compare=False
    )
    _failing: dict[Program, tuple[_Run, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __call__(self, program: Program) -> None:
        raise_if_interrupted()
        if self._calls_since_failure is not None:
            self._calls_since_failure += 1
        known = program in self._runs or program in self._failing
        if not known and self._spent():
            raise BudgetSpent
        try:
            runs = self._failing.get(program) or self.runs(program)
        except BudgetExceeded:
            # A tool limit (spec states, scheduler steps): no verdict on this program, so no
            # finding either; it is counted and hypothesis told to look elsewhere.
            self.over_budget += 1
            if hypothesis.currently_in_test_context():
                hypothesis.reject()
            return
        if self.observer is not None:
            self.observer(program, [(run.name, run.judgement) for run in runs if not run.inherited])
        if observability_enabled() and hypothesis.currently_in_test_context():
            found = features.program_features(program, runs, self._reached.get(program))
            features.emit(program, found)
        if self.targets and hypothesis.currently_in_test_context():
            outcomes = [run.outcome for run in runs if run.outcome is not None]
            for label in RACE_TARGETS:
                best = max((race_targets(o)[label] for o in outcomes), default=0.0)
                hypothesis.target(best, label=label)
        for run in runs:
            cls = run.cls
            if cls is not None and (run.name, cls) not in self.ignore:
                if self._calls_since_failure is None:
                    self._calls_since_failure = 0
                self._failing[program] = runs
                error = divergence_type(run.name, cls)(run.program, run.judgement, run.crash)
                smallest = self.smallest.get(error.key)
                if smallest is None or _size(error.program) < _size(smallest.program):
                    self.smallest[error.key] = error
                raise error

    def _spent(self) -> bool:
        """Whether the time or shrink budget is spent."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            return True
        return (
            self.shrink_budget is not None
            and self._calls_since_failure is not None
            and self._calls_since_failure > self.shrink_budget
        )

    def runs(self, program: Program) -> tuple[_Run, ...]:
        """Each implementation's run of `program` (and of its schedule variants), judged against
        the spec, in order up to the first divergence that is not ignored (the one the property
        raises: the rest would not change anything); computed once per program."""
        if program in self._runs:
            self._runs.move_to_end(program)
            return self._runs[program]
        allowed = spec_outcomes(without_schedules(program))
        runs: list[_Run] = []
        counting = self.coverage is not None or observability_enabled()
        if counting:
            kernel_coverage.begin()
        for variant in schedule_variants(program, self.schedule_variants):
            for name, model in self.impls:
                kernel = kernel_coverage.counted(model) if counting else model
                try:
                    outcome = impls.run(kernel, variant, check_invariants=self.check_invariants)
                except ModelCrash as crash:  # a model bug: its own class, not a traceback
                    runs.append(_Run(name, variant, None, None, crash.describe()))
                except PtediffError:  # a tool limit (BudgetExceeded): no verdict at all
                    raise
                except Exception as crash:  # raised outside the model run proper
                    error = ModelCrash.of(name, crash).describe()
                    runs.append(_Run(name, variant, None, None, error))
                else:
                    runs.append(_Run(name, variant, judge(variant, allowed, outcome), outcome))
                runs[-1] = self._unless_inherited(runs[-1], allowed)
                if self._raises(runs[-1]):
                    break
            else:
                continue
            break
        else:
            if self.race and promising(program):
                runs += self._race(without_schedules(program), allowed)
        if counting:
            reached = kernel_coverage.end()
            self._reached[program] = reached
            if self.coverage is not None:
                self.coverage.record(reached)
        self._runs[program] = result = tuple(runs)
        if len(self._runs) > RUN_CACHE_SIZE:
            evicted, _ = self._runs.popitem(last=False)
            self._reached.pop(evicted, None)
        return result

    def _raises(self, run: _Run) -> bool:
        return run.cls is not None and (run.name, run.cls) not in self.ignore

    def _unless_inherited(self, run: _Run, allowed: list[Outcome]) -> _Run:
        """The run, marked inherited when the baseline diverges the same way on its program."""
        if self.baseline is None or run.cls is None or run.judgement is None:
            return run
        try:
            outcome = impls.run(self.baseline[1], run.program,
                                check_invariants=self.check_invariants)
        except (ModelCrash, PtediffError):  # no verdict from the baseline: the run stands
            return run
        judgement = judge(run.program, allowed, outcome)
        shown = judgement.divergence.primary.cls if judgement.divergence is not None else None
        return dataclasses.replace(run, inherited=True) if shown == run.cls else run

    def _race(self, program: Program, allowed: list[Outcome]) -> list[_Run]:
        """The race phase (`ptediff.search.race`): the first divergence it finds, if any."""
        for name, kernel in self.impls:

            def run(candidate: Program, kernel: type = kernel) -> Outcome:
                return impls.run(kernel, candidate, check_invariants=self.check_invariants)

            try:
                for variant, outcome in race_runs(program, run):
                    found = _Run(name, variant, judge(variant, allowed, outcome), outcome)
                    found = self._unless_inherited(found, allowed)
                    if self._raises(found):
                        return [found]
            except ModelCrash as crash:  # a model bug: its own class, as in `runs`
                found = _Run(name, program, None, None, crash.describe())
                if self._raises(found):
                    return [found]
            except PtediffError:  # a tool limit on some schedule: the drawn runs stand
                continue
        return []


class BudgetSpent(BaseException):
    """The property's time or shrink budget is spent. Not an Exception: hypothesis does not
    record it as a failure but stops the whole run."""


def _size(program: Program) -> tuple[int, int, int]:
    """Smaller is simpler: operations, then threads, then schedule steps."""
    blocks = program.blocks()
    return (
        len(program.ops()),
        sum(len(block.threads) for block in blocks),
        sum(len(block.schedule or ()) for block in blocks),
    )


@dataclass(frozen=True)
class _Run:
    name: str
    program: Program  # the program as run (a schedule variant of the drawn one)
    judgement: Judgement | None  # None: the model crashed
    outcome: Outcome | None
    crash: str = ""
    inherited: bool = False  # diverges as the property's baseline does: not this model's bug

    @property
    def cls(self) -> str | None:
        """The primary class of a divergence (crash:<type> for a crash), None when agreeing
        (or when the divergence is inherited from the baseline)."""
        if self.inherited:
            return None
        if self.judgement is None:
            return "crash:" + self.crash.split(":", 1)[0]
        if self.judgement.divergence is None:
            return None
        return self.judgement.divergence.primary.cls


def without_schedules(program: Program) -> Program:
    """`program` with every parallel block's schedule dropped."""
    steps = tuple(
        dataclasses.replace(step, schedule=None) if isinstance(step, Parallel) else step
        for step in program.steps
    )
    return dataclasses.replace(program, steps=steps)


def schedule_variants(program: Program, count: int) -> list[Program]:
    """`program` itself, then up to `count - 1` variants of its drawn schedules: thread roles
    rotated (t -> t+1), then rotated on every other step, then on every other pair of steps.
    A program without any drawn schedule is sequential by choice and has no variants."""
    variants = [program]
    if not any(block.schedule for block in program.blocks()):
        return variants
    for shift in VARIANT_SHIFTS[: max(count - 1, 0)]:
        steps = tuple(
            dataclasses.replace(step, schedule=_shifted(step, shift))
            if isinstance(step, Parallel) and step.schedule
            else step
            for step in program.steps
        )
        variants.append(dataclasses.replace(program, steps=steps))
    return variants


# Per variant: how much to rotate the thread at scheduler step i.
VARIANT_SHIFTS: tuple[Callable[[int], int], ...] = (
    lambda i: 1,
    lambda i: i % 2,
    lambda i: i // 2 % 2,
)


def _shifted(block: Parallel, shift: Callable[[int], int]) -> tuple[int, ...] | None:
    assert block.schedule is not None
    n = len(block.threads)
    return normalize_schedule((t + shift(i)) % n for i, t in enumerate(block.schedule))


def differential_test(
    prop: DifferentialProperty | Iterable[ImplRef],
    strategy: st.SearchStrategy[Program] | None = None,
) -> Callable[[], None]:
    """A hypothesis test (apply settings and seed to it, then call it) checking `prop`.

    `prop` is a `DifferentialProperty`, or the implementations to check (registered names,
    `package.module:Class` paths or Kernel subclasses) for the default one.
    """
    if not isinstance(prop, DifferentialProperty):
        prop = DifferentialProperty(resolve_impls(prop))
    checked = prop

    @given(strategy if strategy is not None else programs())
    def test_spec_and_models_agree(program: Program) -> None:
        checked(program)

    return test_spec_and_models_agree


@dataclass
class Collected:
    """Divergences taken out of a finished hypothesis run, and anything else it raised."""

    divergences: list[DivergenceFound] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def collect_failures(error: BaseException) -> Collected:
    """Flatten the exception (group) a hypothesis run raised into divergences and other errors."""
    collected = Collected()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        elif isinstance(current, DivergenceFound):
            collected.divergences.append(current)
        else:
            collected.errors.append(current)
    return collected
