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
from ptediff import impls as models
from ptediff.core.errors import BudgetExceeded, ModelCrash, PtediffError
from ptediff.core.program import Program
from ptediff.judge.check import check, check_located
from ptediff.judge.classify import classify
from ptediff.judge.differ import Judgement
from ptediff.search import profiles
from ptediff.search.campaign import Exchange, replay
from ptediff.search.coverage import KernelCoverage
from ptediff.search.crash_shrink import simplify_crash
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
    divergence_type,
    resolve_impls,
)
from ptediff.search.regressions import SaveError, check_writable, save
from ptediff.search.simplify import Simplified, simplify

POSTFIX = "postfix"
PREFIX = "prefix"
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
) -> HuntReport:
    """Search the given implementations (default: every registered one) for divergences.

    Budget: `max_examples` generated examples and/or `seconds` of wall time; neither → the
    profile's max_examples. The hunt stops when either is spent, or as soon as every
    (implementation, signature class) pair in `until` has been found (class `ANY_CLASS`, "*":
    any class of that implementation).

    `database` (`ptediff.search.database`): a campaign database; the hunt first replays every
    failure stored there, then saves each new one. `exchange`: see `Exchange`.
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
            _record(report, search, divergence, target, check_invariants)
            for finding in report.findings[start:]:
                finding.from_database = True
        if exchange is not None:
            exchange.announce(search.found)
    remaining = max_examples
    wanted = set(until)
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
                    _record(report, search, divergence, target, check_invariants)
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
            _save([finding], search, save_dir, False)


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


def _record(
    report: HuntReport,
    search: _Search,
    divergence: DivergenceFound,
    save_dir: str | Path | None,
    check_invariants: bool | str,
) -> None:
    """Findings for a new divergence and for the same class on the other implementations
    (hypothesis raises only the first implementation that shows a class on a program, so each
    class is shrunk once); then save them, one file per distinct minimal program."""
    findings = [_finding(report, search, divergence, check_invariants)]
    if divergence.judgement is not None:
        for name, kernel in search.named:
            if (name, divergence.cls) in search.found:
                continue
            try:
                judgement = check(divergence.program, kernel, check_invariants=check_invariants)
            except (BudgetExceeded, ModelCrash):  # no verdict for this twin: not a finding
                continue
            if _shows(judgement, divergence.cls):
                search.found.add((name, divergence.cls))
                twin = divergence_type(name, divergence.cls)(divergence.program, judgement)
                findings.append(_finding(report, search, twin, check_invariants))
    report.findings.extend(findings)
    if save_dir is not None:
        _save(findings, search, save_dir, check_invariants)


def _finding(
    report: HuntReport, search: _Search, divergence: DivergenceFound, check_invariants: bool | str
) -> Finding:
    kernel = dict(search.named)[divergence.impl]
    first = search.first_seen.get(
        divergence.key,
        search.first_seen.get((divergence.impl, "crash"), (report.examples, search.elapsed())),
    )
    if divergence.judgement is None:  # a model crash: simplified by crash alone
        type_name = divergence.cls.partition(":")[2]
        program, crash = simplify_crash(
            divergence.program, kernel, type_name, check_invariants=check_invariants
        )
        return Finding(
            divergence.impl,
            divergence.cls,
            None,
            first[0],
            first[1],
            divergence.program,
            program,
            None,
            ProgramSize.of(program, 0),
            "sequential" if not program.blocks() else "threads",
            detail=crash.describe() if crash is not None else divergence.detail,
        )
    try:
        simplified = simplify(
            divergence.program, kernel, divergence.cls, check_invariants=check_invariants
        )
        located = check_located(simplified.program, kernel, check_invariants=check_invariants)
    except BudgetExceeded as limit:  # a candidate over a tool limit: keep it as found
        assert divergence.judgement is not None
        return Finding(
            impl=divergence.impl,
            signature=divergence.cls,
            op=divergence.op,
            examples_to_first=first[0],
            seconds_to_first=first[1],
            shrunk=divergence.program,
            program=divergence.program,
            judgement=divergence.judgement,
            size=ProgramSize.of(divergence.program, 0),
            concurrency="sequential" if not divergence.program.blocks() else "threads",
            detail=f"not simplified: {limit}",
            simplified=False,
        )
    judgement = located if _shows(located, divergence.cls) else simplified.judgement
    assert judgement.divergence is not None
    return Finding(
        impl=divergence.impl,
        signature=divergence.cls,
        op=judgement.divergence.primary.op,
        examples_to_first=first[0],
        seconds_to_first=first[1],
        shrunk=divergence.program,
        program=simplified.program,
        judgement=judgement,
        size=ProgramSize.of(simplified.program, simplified.preemptions),
        concurrency=simplified.concurrency,
        classification=_classification(
            search, divergence.impl, simplified, check_invariants, divergence.cls
        ),
    )


def _save(
    findings: list[Finding], search: _Search, save_dir: str | Path, check_invariants: bool | str
) -> None:
    """One file per (class, minimal program), with an expect line for every implementation
    that found it."""
    groups: dict[tuple[str, Program], list[Finding]] = {}
    for finding in findings:
        if finding.judgement is not None:
            groups.setdefault((finding.signature, finding.program), []).append(finding)
    kernels = dict(search.named)
    for (_, program), group in groups.items():
        lead = group[0]
        assert lead.judgement is not None
        impl_names = [f.impl for f in group]
        postfix = None
        if POSTFIX in kernels and POSTFIX not in impl_names:
            try:
                postfix = check(program, kernels[POSTFIX], check_invariants=check_invariants)
            except (BudgetExceeded, ModelCrash):
                postfix = None
        try:
            path = save(
                program,
                lead.judgement,
                lead.impl,
                save_dir,
                also=impl_names[1:],
                postfix_judgement=postfix,
                check_invariants=check_invariants,
            )
        except SaveError as error:  # the finding stays in the report, marked unsaved
            for finding in group:
                finding.save_error = str(error)
            continue
        for finding in group:
            finding.saved = path


def _shows(judgement: Judgement, cls: str) -> bool:
    return judgement.divergence is not None and judgement.divergence.primary.cls == cls


def _classification(
    search: _Search,
    impl: str,
    simplified: Simplified,
    check_invariants: bool | str,
    cls: str | None = None,
) -> str | None:
    """fixed / fix-incomplete / latent / spec-gap / agree, when post-fix and a pre-fix ran."""
    try:
        return _classify(search, impl, simplified, check_invariants, cls)
    except (BudgetExceeded, ModelCrash):  # a model without a verdict: no classification
        return None


def _classify(
    search: _Search,
    impl: str,
    simplified: Simplified,
    check_invariants: bool | str,
    cls: str | None,
) -> str | None:
    kernels = dict(search.named)
    if POSTFIX not in kernels:
        return None
    if impl == POSTFIX:
        pre_name = (
            PREFIX
            if PREFIX in kernels
            else next((name for name in kernels if name != POSTFIX), None)
        )
        if pre_name is None:
            return None
        post = simplified.judgement
        pre = check(simplified.program, kernels[pre_name], check_invariants=check_invariants)
    else:
        pre = simplified.judgement
        post = check(simplified.program, kernels[POSTFIX], check_invariants=check_invariants)
    return classify(post, pre, cls=cls)
