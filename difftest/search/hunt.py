"""The hunt engine behind `ptediff hunt`: search for divergences until the budget is spent.

The search runs hypothesis on the differential property (`ptediff.search.property`) in chunks of
examples. Each chunk ignores the (implementation, class) pairs already found, so a finding
never hides the next one, and every class is found on its own. Each new finding is shrunk by
hypothesis, simplified (`ptediff.search.simplify`), located (the op where it first shows),
classified against the post-fix model (`ptediff.judge.classify.classify`) and optionally saved as a
`.pte` file (`ptediff.search.regressions`).

Cost control: each generated program with a drawn schedule also runs under a few schedule
variants (`SCHEDULE_VARIANTS`, see `ptediff.search.property.schedule_variants`).
Hypothesis's shrinking gets `SHRINK_BUDGET` property runs per chunk and ends at the time budget:
the property then stops the hypothesis run (`BudgetSpent`) and the hunt takes the smallest failure
seen for each class; its own simplification takes over from there.

Determinism: with a `seed` every chunk gets a seed derived from it and no example database is
used, so the same seed and `max_examples` give the same findings (hypothesis itself stops
looking for more bugs 10 s after the first one in a run; chunks are small enough that this does
not bite). Without a seed hypothesis picks its own randomness (unless the profile derandomizes)
and the first chunk uses the profile's database as a cache of earlier failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import seed as with_seed
from hypothesis import strategies as st
from hypothesis.database import ExampleDatabase
from hypothesis.internal.observability import observability_enabled
from ptediff import impls as models
from ptediff.core.errors import PtediffError
from ptediff.core.program import Program
from ptediff.judge.differ import Judgement
from ptediff.search import profiles
from ptediff.search.campaign import Exchange, replay
from ptediff.search.coverage import KernelCoverage
from ptediff.search.database import campaign_keys, stored_programs, without_reuse
from ptediff.search.findings import Finding, HuntReport, ProgramSize
from ptediff.search.interrupts import raise_if_interrupted
from ptediff.search.property import (
    BudgetSpent,
    ClassKey,
    DifferentialProperty,
    DivergenceFound,
    ImplRef,
    Named,
    collect_failures,
    differential_test,
    resolve_impls,
)
from ptediff.search.recording import record, save_findings
from ptediff.search.regressions import check_writable
from ptediff.search.small_scope import small_scope_programs

CHUNK_EXAMPLES = 100  # examples per hypothesis run
SCHEDULE_VARIANTS = 4  # schedules each generated parallel program runs under
# Property runs a chunk may spend after its first failure (hypothesis's shrinking included):
# past it the property stops running new programs and the shrinking settles; the hunt's own
# simplification then finishes the job.
SHRINK_BUDGET = 300
# (examples run against the budget, classes found, seconds left or None): the example count
# never exceeds max_examples (runs while shrinking are not counted).
Progress = Callable[[int, int, float | None], None]


class HuntError(PtediffError):
    """A hunt that cannot start: a bad budget or an unknown profile."""


def hunt(
    impls: Sequence[ImplRef] | None = None,
    *,
    max_examples: int | None = None,
    seconds: float | None = None,
    seed: int | None = None,
    profile: str = profiles.DEFAULT_PROFILE,
    save_dir: str | Path | None = None,
    progress: Progress | None = None,
    check_invariants: bool | str = False,
    strategy: st.SearchStrategy[Program] | None = None,
    until: Collection[tuple[str, str]] = (),
    database: ExampleDatabase | None = None,
    exchange: Exchange | None = None,
    baseline: ImplRef | None = None,
    small_scope: bool = True,
) -> HuntReport:
    """Search the given implementations (default: every registered one) for divergences.

    Budget: `max_examples` generated examples and/or `seconds` of wall time; neither → the
    profile's max_examples. The hunt stops when either is spent, or as soon as every
    (implementation, signature class) pair in `until` has been found (class `ANY_CLASS`, "*":
    any class of that implementation).

    `database` (`ptediff.search.database`): a campaign database; the hunt first replays every
    failure stored there, then saves each new one. `exchange`: see `Exchange`.

    `baseline`: a model whose divergences are not findings: a program on which it diverges
    with the same class as a searched model does not count for that model (`ptediff
    evaluate` hunts each injected bug with `postfix` as baseline, so that postfix's latent
    bugs do not pass for the injected one).

    `small_scope`: first run the small-scope phase's fixed programs (`ptediff.search.
    small_scope`; counted as examples). Skipped with a custom `strategy` (its programs may lie
    outside it) and in campaigns (a `database`, an `exchange`, hypothesis observability on;
    `--jobs` workers skip it too):
    a campaign resumes from its database, and its observations record hypothesis's own test
    cases, one per example.
    """
    base = _profile(profile)
    if max_examples is None and seconds is None:
        max_examples = base.max_examples
    if max_examples is not None and max_examples < 1:
        raise HuntError(f"max_examples must be at least 1, not {max_examples}")
    if seconds is not None and seconds <= 0:
        raise HuntError(f"seconds must be positive, not {seconds}")
    named = resolve_impls(impls if impls is not None else list(models.REGISTRY))
    report = HuntReport(
        tuple(name for name, _ in named),
        seed=seed,
        profile=profile,
        max_examples=max_examples,
        budget_seconds=seconds,
    )
    target = None if save_dir is None else check_writable(save_dir)  # before, not at a finding
    report.coverage = KernelCoverage.of(kernel for _, kernel in named)
    search = _Search(named, report, progress, seconds, check_invariants, strategy)
    if baseline is not None:
        (search.baseline,) = resolve_impls([baseline])
    if database is not None:
        replayed = stored_programs(database, campaign_keys(database), strategy)
        report.replayed = len(replayed)
        for divergence in replay(
            replayed, search.named, frozenset(search.found), search.observe, report.coverage,
            check_invariants=check_invariants, schedule_variants=SCHEDULE_VARIANTS,
        ):
            if divergence.key in search.found:  # already found as another's twin
                continue
            search.found.add(divergence.key)
            start = len(report.findings)
            record(report, search, divergence, target, check_invariants)
            for finding in report.findings[start:]:
                finding.from_database = True
        if exchange is not None:
            exchange.announce(search.found)
    remaining = max_examples
    wanted = set(until)
    campaign = database is not None or exchange is not None or observability_enabled()
    if small_scope and strategy is None and not campaign:
        remaining = _small_scope(search, target, wanted, remaining)
    pending: list[DivergenceFound] = []  # the chunk's new divergences not yet recorded
    try:
        while (
            (remaining is None or remaining > 0)
            and not search.out_of_time()
            and not _all_found(wanted, search.found)
        ):
            if exchange is not None:
                search.found.update(exchange.found_elsewhere())
                if _all_found(wanted, search.found):
                    break
            size = CHUNK_EXAMPLES if remaining is None else min(CHUNK_EXAMPLES, remaining)
            chunk_settings = settings(
                base,
                max_examples=size,
                database=base.database if seed is None and report.chunks == 0 else None,
                verbosity=Verbosity.quiet,
                report_multiple_bugs=True,
                # programs over a tool limit are rejected (counted, never findings)
                suppress_health_check=[*base.suppress_health_check, HealthCheck.filter_too_much],
            )
            if database is not None:  # replayed above: save new failures, never prune shared ones
                chunk_settings = settings(
                    chunk_settings,
                    database=database,
                    derandomize=False,  # the chunk seed below keeps a derandomized profile's runs
                    phases=without_reuse(tuple(chunk_settings.phases)),
                )
            chunk_seed = _chunk_seed(seed, report.chunks, base.derandomize)
            raise_if_interrupted()
            pending = list(search.run_chunk(chunk_settings, chunk_seed))
            while pending:
                divergence = pending[0]
                if divergence.key not in search.found:  # else already found as another's twin
                    search.found.add(divergence.key)
                    record(report, search, divergence, target, check_invariants)
                    if exchange is not None:
                        exchange.announce(search.found)
                pending.pop(0)
            report.chunks += 1
            report.generated += size
            if remaining is not None:
                remaining -= size
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: end with what is found so far
        report.interrupted = True
        report.signal = getattr(stop, "signal", "SIGINT")
        in_flight = [*pending, *search.in_flight()]
        _keep_unsimplified(report, search, in_flight, target)
    finally:
        report.over_budget += search.over_budget()
    report.seconds = search.elapsed()
    return report


ANY_CLASS = "*"  # in `until`: any class of that implementation


def _small_scope(
    search: _Search, target: Path | None, wanted: set[tuple[str, str]], remaining: int | None
) -> int | None:
    """The small-scope phase: each fixed program once, before any draw, through the same
    property and recording as a drawn one; returns the examples left."""
    for program in small_scope_programs():
        if (
            (remaining is not None and remaining <= 0)
            or search.out_of_time()
            or _all_found(wanted, search.found)
        ):
            break
        raise_if_interrupted()
        prop = DifferentialProperty(
            search.named,
            check_invariants=search.check_invariants,
            ignore=frozenset(search.found),
            observer=search.observe,
            schedule_variants=SCHEDULE_VARIANTS,
            race=True,
            coverage=search.report.coverage,
            baseline=search.baseline,
        )
        search.report.generated += 1
        if remaining is not None:
            remaining -= 1
        try:
            prop(program)
        except DivergenceFound as divergence:
            if divergence.key not in search.found:
                search.found.add(divergence.key)
                record(search.report, search, divergence, target, search.check_invariants)
    return remaining


def _all_found(wanted: set[tuple[str, str]], found: set[ClassKey]) -> bool:
    """Whether every wanted (implementation, class) pair is found (class `*`: any class)."""
    return bool(wanted) and all(
        key in found or (key[1] == ANY_CLASS and any(impl == key[0] for impl, _ in found))
        for key in wanted
    )


def _keep_unsimplified(
    report: HuntReport,
    search: _Search,
    divergences: Sequence[DivergenceFound],
    save_dir: Path | None,
) -> None:
    """The findings an interrupt caught in flight, as hypothesis left them: reported (marked
    not simplified) and saved, not lost. Nothing is run: the user asked to stop."""
    for divergence in divergences:
        if report.finding(divergence.impl, divergence.cls) is not None:
            continue  # recorded in full before the interrupt
        search.found.add(divergence.key)
        judgement = divergence.judgement
        program = divergence.program
        first = search.first_seen.get(divergence.key, (report.examples, search.elapsed()))
        finding = Finding(
            impl=divergence.impl,
            signature=divergence.cls,
            op=divergence.op,
            examples_to_first=first[0],
            seconds_to_first=first[1],
            shrunk=program,
            program=program,
            judgement=judgement,
            size=ProgramSize.of(program, 0),
            concurrency="sequential" if not program.blocks() else "threads",
            detail=divergence.detail,
            simplified=False,
        )
        report.findings.append(finding)
        if save_dir is not None and judgement is not None:
            save_findings([finding], search, save_dir, False)


def _profile(name: str) -> settings:
    try:
        return profiles.profile(name)
    except KeyError as error:
        raise HuntError(str(error.args[0])) from None


def _chunk_seed(seed: int | None, chunk: int, derandomize: bool) -> int | None:
    if seed is None and not derandomize:
        return None
    return (seed or 0) * 1_000_003 + chunk


class _Search:
    """The running state of a hunt: counters for progress and first sightings, the ignore set."""

    def __init__(
        self,
        named: tuple[Named, ...],
        report: HuntReport,
        progress: Progress | None,
        seconds: float | None,
        check_invariants: bool | str,
        strategy: st.SearchStrategy[Program] | None,
    ) -> None:
        self.named = named
        self.report = report
        self.progress = progress
        self.seconds = seconds
        self.check_invariants = check_invariants
        self.strategy = strategy
        self.started = time.monotonic()
        self.first_seen: dict[ClassKey, tuple[int, float]] = {}
        self.chunk_calls = 0  # property runs in the current chunk
        self.chunk_size = 0
        self.found: set[ClassKey] = set()
        self.prop: DifferentialProperty | None = None  # the current chunk's
        self.baseline: Named | None = None  # see `hunt`
        self._over_budget = 0  # over-budget programs of the chunks done

    def in_flight(self) -> list[DivergenceFound]:
        """The smallest failure per class the running chunk has seen but not reported."""
        if self.prop is None:
            return []
        return [d for key, d in self.prop.smallest.items() if key not in self.found]

    def over_budget(self) -> int:
        return self._over_budget + (self.prop.over_budget if self.prop is not None else 0)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def out_of_time(self) -> bool:
        return self.seconds is not None and self.elapsed() >= self.seconds

    def seconds_left(self) -> float | None:
        return None if self.seconds is None else max(0.0, self.seconds - self.elapsed())

    def observe(self, program: Program, judged: Sequence[tuple[str, Judgement | None]]) -> None:
        self.report.examples += 1
        self.chunk_calls += 1
        for name, judgement in judged:
            if judgement is None:
                key = (name, "crash")
            elif judgement.divergence is not None:
                key = (name, judgement.divergence.primary.cls)
            else:
                continue
            self.first_seen.setdefault(key, (self.report.examples, self.elapsed()))
        if self.progress is not None:
            generated = self.report.generated + min(self.chunk_calls, self.chunk_size)
            self.progress(generated, len(self.found), self.seconds_left())

    def run_chunk(self, chunk_settings: settings, chunk_seed: int | None) -> list[DivergenceFound]:
        self.chunk_calls = 0
        self.chunk_size = chunk_settings.max_examples
        prop = DifferentialProperty(
            self.named,
            check_invariants=self.check_invariants,
            ignore=frozenset(self.found),
            observer=self.observe,
            deadline=None if self.seconds is None else self.started + self.seconds,
            schedule_variants=SCHEDULE_VARIANTS,
            race=True,
            shrink_budget=SHRINK_BUDGET,
            coverage=self.report.coverage,
            baseline=self.baseline,
        )
        if self.prop is not None:
            self._over_budget += self.prop.over_budget
        self.prop = prop
        test = differential_test(prop, self.strategy)
        if chunk_seed is not None:
            test = with_seed(chunk_seed)(test)
        test = chunk_settings(test)
        try:
            test()
        except BudgetSpent:  # hypothesis stopped mid-way: take the smallest failures seen
            divergences = list(prop.smallest.values())
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # the divergences hypothesis reports, and anything else
            collected = collect_failures(error)
            self.report.errors.extend(f"{type(e).__name__}: {e}" for e in collected.errors)
            divergences = collected.divergences
        else:
            return []
        new = {d.key: d for d in divergences if d.key not in self.found}
        return sorted(new.values(), key=lambda d: (self.report.impls.index(d.impl), d.cls))
