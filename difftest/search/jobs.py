"""`ptediff hunt --jobs N`: N worker processes, each an ordinary hunt with its own seed, sharing
one example database and one `--save` directory; one merged report.

Each worker runs `ptediff.search.hunt.hunt` unchanged. What this module adds:

* **Seeds.** Worker 0 keeps the hunt's seed (so `--jobs 1` is the plain hunt); worker i > 0
  gets `seed + i * WORKER_SEED_STRIDE`. Without a seed every worker draws its own randomness
  (a derandomized profile gets 0, 1, ... so its workers still differ).
* **Sharing.** The database (`--db`, or the profile's) is hypothesis's, opened by each worker;
  `--save` writes go through the same atomic, deduplicating save as a single hunt. Under a time
  budget the workers also tell each other which classes they found (through this process), so
  none keeps searching or shrinking a class another already has. With `--max-examples` alone
  they do not: each worker then runs exactly what it would alone, and the merged report is
  the same on every run with the same seed.
* **Budget.** `--seconds` applies to each worker; `--max-examples` is split between them.
* **Merge.** One finding per (implementation, class): the smallest minimal program any worker
  found, with the earliest first sighting — seconds since the campaign started, and examples
  run by all workers up to then. Examples, coverage and errors add up.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue
import signal
import sys
import time
import traceback
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptediff.search.coverage import KernelCoverage
from ptediff.search.findings import Finding, HuntReport
from ptediff.search.property import ClassKey

WORKER_SEED_STRIDE = 1_000_000_007
POLL_SECONDS = 0.2
PROGRESS_INTERVAL = 0.25  # seconds between a worker's progress messages
Progress = Callable[[int, int, float | None], None]


def default_jobs() -> int:
    """`--jobs auto`: one worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def worker_seed(seed: int | None, index: int, derandomize: bool) -> int | None:
    if seed is None:
        return index if derandomize else None
    return seed + index * WORKER_SEED_STRIDE


def split_examples(max_examples: int | None, jobs: int) -> list[int | None]:
    if max_examples is None:
        return [None] * jobs
    return [max_examples // jobs + (i < max_examples % jobs) for i in range(jobs)]


@dataclass(frozen=True)
class Campaign:
    """What every worker is told: the hunt's arguments, in picklable form."""

    impls: tuple[str, ...] | None
    max_examples: int | None
    seconds: float | None
    seed: int | None
    profile: str
    save_dir: Path | None
    check_invariants: bool | str
    database: str | None  # a --db spec; each worker opens its own connection
    observe: Path | None
    until: tuple[ClassKey, ...] = ()
    small_scope: bool = True  # `hunt`'s small-scope phase (a lone hunt only)


class _QueueExchange:
    """A worker's side of the found-class exchange (`ptediff.search.hunt.Exchange`)."""

    def __init__(self, index: int, outbox: Any, inbox: Any) -> None:
        self.index, self.outbox, self.inbox = index, outbox, inbox
        self.announced: set[ClassKey] = set()

    def found_elsewhere(self) -> Collection[ClassKey]:
        keys: set[ClassKey] = set()
        while True:
            try:
                keys.update(self.inbox.get_nowait())
            except queue.Empty:
                return keys

    def announce(self, keys: Collection[ClassKey]) -> None:
        new = set(keys) - self.announced
        if new:
            self.announced |= new
            self.outbox.put(("found", self.index, tuple(sorted(new))))


def _worker(index: int, campaign: Campaign, max_examples: int | None, outbox: Any,
            inbox: Any, share: bool) -> None:
    """One worker process: an ordinary hunt reporting progress and its result to the parent."""
    from contextlib import nullcontext

    from ptediff.search import profiles
    from ptediff.search.database import open_database
    from ptediff.search.hunt import hunt
    from ptediff.search.observe import observing

    last = [0.0]
    parent = os.getppid()

    def progress(examples: int, found: int, _left: float | None) -> None:
        if os.getppid() != parent:  # the parent is gone (killed): nobody reads the report
            raise KeyboardInterrupt
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL:
            last[0] = now
            outbox.put(("progress", index, now, examples, found))

    from ptediff.search.interrupts import on_signal

    signal.signal(signal.SIGINT, on_signal)  # not the parent's handlers
    signal.signal(signal.SIGTERM, on_signal)
    try:
        base = profiles.profile(campaign.profile)
        database = open_database(campaign.database) if campaign.database else None
        outbox.put(("start", index, time.monotonic()))
        context = (observing(campaign.observe, worker=index) if campaign.observe
                   else nullcontext())
        with context:
            report = hunt(
                list(campaign.impls) if campaign.impls else None,
                max_examples=max_examples,
                seconds=campaign.seconds,
                seed=worker_seed(campaign.seed, index, base.derandomize),
                profile=campaign.profile,
                save_dir=campaign.save_dir,
                progress=progress,
                check_invariants=campaign.check_invariants,
                until=campaign.until,
                database=database,
                exchange=_QueueExchange(index, outbox, inbox) if share else None,
                small_scope=False,  # every worker would repeat the same fixed programs
            )
        outbox.put(("progress", index, time.monotonic(), report.examples, len(report.findings)))
        outbox.put(("done", index, report))
    except KeyboardInterrupt:
        outbox.put(("error", index, "interrupted before its hunt began"))
    except BaseException as error:  # reported by the parent; the other workers go on
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        if not isinstance(error, Exception):
            detail = type(error).__name__
        outbox.put(("error", index, detail))
        if not getattr(error, "__module__", "").startswith("ptediff"):
            traceback.print_exc(file=sys.stderr)


@dataclass
class _Progress:
    """The parent's view of the workers: their example counts over time and their findings."""

    started: float
    jobs: int
    worker_start: dict[int, float] = field(default_factory=dict)
    timeline: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    found: set[ClassKey] = field(default_factory=set)

    def examples(self) -> int:
        return sum(points[-1][1] for points in self.timeline.values() if points)

    def examples_at(self, worker: int, moment: float) -> int:
        """A worker's examples at a moment (campaign time): its last report before then."""
        count = 0
        for at, examples in self.timeline.get(worker, ()):
            if at > moment:
                break
            count = examples
        return count


def run_campaign(jobs: int, campaign: Campaign, progress: Progress | None = None) -> HuntReport:
    """The hunt `ptediff hunt` runs: in this process for one job, else on worker processes."""
    if jobs > 1:
        return hunt_jobs(jobs, campaign, progress)
    from contextlib import nullcontext

    from ptediff.search.database import open_database
    from ptediff.search.hunt import hunt
    from ptediff.search.observe import observing, start_file

    database = open_database(campaign.database) if campaign.database else None
    if campaign.observe is not None:
        start_file(campaign.observe)
    with observing(campaign.observe) if campaign.observe else nullcontext():
        return hunt(
            list(campaign.impls) if campaign.impls else None,
            max_examples=campaign.max_examples,
            seconds=campaign.seconds,
            seed=campaign.seed,
            profile=campaign.profile,
            save_dir=campaign.save_dir,
            progress=progress,
            check_invariants=campaign.check_invariants,
            until=campaign.until,
            database=database,
            small_scope=campaign.small_scope,
        )


def hunt_jobs(jobs: int, campaign: Campaign, progress: Progress | None = None) -> HuntReport:
    """Run the campaign on `jobs` worker processes and merge their reports."""
    if campaign.database:  # a bad --db is a usage error here, not one per worker
        from ptediff.search.database import open_database

        open_database(campaign.database)
    context: Any = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    outbox = context.Queue()
    inboxes = [context.Queue() for _ in range(jobs)]
    share = campaign.seconds is not None
    if campaign.observe is not None:
        from ptediff.search.observe import start_file

        start_file(campaign.observe)
    state = _Progress(time.monotonic(), jobs)
    workers = [
        context.Process(
            target=_worker,
            args=(i, campaign, examples, outbox, inboxes[i], share),
            name=f"ptediff-hunt-{i}",
            daemon=True,
        )
        for i, examples in enumerate(split_examples(campaign.max_examples, jobs))
    ]
    reports: dict[int, HuntReport] = {}
    errors: dict[int, str] = {}
    stops: list[str] = []  # signals received, first one first
    # From before the first fork: a signal during start-up is noted and relayed like any other
    # (raised here, it would leave workers blocked on reports nobody reads).
    relayed: set[int] = set()
    with _stopping_on_signals(
        stops, lambda: _interrupt_workers(workers, reports, errors, relayed)
    ):
        for worker in workers:
            worker.start()
        if stops and (len(stops) > 1 or stops[0] != "SIGINT"):
            _interrupt_workers(workers, reports, errors, relayed)  # some started after it
        while len(reports) + len(errors) < jobs:
            try:
                message = outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                for i, worker in enumerate(workers):  # a worker that died without a word
                    if i not in reports and i not in errors and worker.exitcode not in (None, 0):
                        errors[i] = f"worker exited with status {worker.exitcode}"
                continue
            _handle(message, state, inboxes, reports, errors, progress, campaign)
    interrupted = stops[0] if stops else None
    for worker in workers:
        worker.join(timeout=5)
    merged = merge(campaign, [reports[i] for i in sorted(reports)], state)
    merged.errors.extend(f"worker {i}: {errors[i]}" for i in sorted(errors))
    merged.interrupted = merged.interrupted or interrupted is not None
    merged.signal = interrupted or merged.signal  # what stopped the campaign, not its relay
    merged.jobs = jobs
    return merged


def _handle(message: tuple, state: _Progress, inboxes: Sequence[Any], reports: dict,
            errors: dict, progress: Progress | None, campaign: Campaign) -> None:
    kind, index, *rest = message
    if kind == "start":
        state.worker_start[index] = rest[0] - state.started
    elif kind == "progress":
        at, examples, _found = rest
        state.timeline.setdefault(index, []).append((at - state.started, examples))
    elif kind == "found":
        state.found.update(rest[0])
        for i, inbox in enumerate(inboxes):
            if i != index:
                inbox.put(rest[0])
    elif kind == "done":
        reports[index] = rest[0]
        state.found.update((f.impl, f.signature) for f in rest[0].findings)
    elif kind == "error":
        errors[index] = rest[0]
    if progress is not None and kind in ("progress", "found"):
        left = None
        if campaign.seconds is not None:
            left = max(0.0, campaign.seconds - (time.monotonic() - state.started))
        progress(state.examples(), len(state.found), left)


@contextmanager
def _stopping_on_signals(stops: list[str], relay: Callable[[], None]) -> Iterator[None]:
    """While the parent waits for its workers, Ctrl-C and SIGTERM only note the signal (an
    exception there could leave a worker's report unread). Ctrl-C at a terminal reaches the
    workers too (one process group), and each ends its hunt with what it found; a second signal
    there could cut that short. SIGTERM (timeout, CI) or a second Ctrl-C reaches this process
    alone, which relays it to the workers as Ctrl-C."""

    def note(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        stops.append(name)
        if len(stops) > 1 or name != "SIGINT":
            relay()

    try:
        previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt_workers(
    workers: Sequence[Any], reports: dict, errors: dict, relayed: set[int]
) -> None:
    """End the hunts of workers still running, as Ctrl-C would (once each: a second signal
    could cut short the report it is finishing)."""
    for i, worker in enumerate(workers):
        if i in relayed or worker.pid is None:  # relayed already, or not started yet
            continue
        if i not in reports and i not in errors and worker.is_alive():
            relayed.add(i)
            os.kill(worker.pid, signal.SIGINT)


def merge(campaign: Campaign, reports: Sequence[HuntReport], state: _Progress) -> HuntReport:
    """One report for the campaign (see the module docstring)."""
    first = reports[0] if reports else None
    merged = HuntReport(
        first.impls if first else tuple(campaign.impls or ()),
        seed=campaign.seed,
        profile=campaign.profile,
        max_examples=campaign.max_examples,
        budget_seconds=campaign.seconds,
    )
    merged.seconds = time.monotonic() - state.started
    groups: dict[ClassKey, list[tuple[float, int, Finding]]] = {}
    for index, report in enumerate(reports):
        merged.examples += report.examples
        merged.generated += report.generated
        merged.chunks += report.chunks
        merged.replayed = max(merged.replayed, report.replayed)
        merged.interrupted = merged.interrupted or report.interrupted
        merged.signal = merged.signal or report.signal
        merged.over_budget += report.over_budget
        merged.errors.extend(report.errors)
        if report.coverage is not None:
            if merged.coverage is None:
                merged.coverage = KernelCoverage()
            merged.coverage.merge(report.coverage)
        start = state.worker_start.get(index, 0.0)
        for finding in report.findings:
            moment = start + finding.seconds_to_first
            groups.setdefault((finding.impl, finding.signature), []).append(
                (moment, index, finding)
            )
    for _key, sightings in groups.items():
        moment, index, earliest = min(sightings, key=lambda s: (s[0], s[1]))
        _, _, best = min(sightings, key=lambda s: (_size(s[2]), s[0], s[1]))
        others = sum(
            state.examples_at(i, moment) for i in range(state.jobs) if i != index
        )
        merged.findings.append(dataclasses.replace(
            best,
            examples_to_first=earliest.examples_to_first + others,
            seconds_to_first=moment,
            from_database=any(s[2].from_database for s in sightings),
            saved=best.saved or next((s[2].saved for s in sightings if s[2].saved), None),
        ))
    merged.findings.sort(key=lambda f: (f.seconds_to_first, f.impl, f.signature))
    return merged


def _size(finding: Finding) -> tuple[int, int, int]:
    return (finding.size.ops, finding.size.lines, finding.size.preemptions)
