"""The `evaluate` report: per task and strategy the solve rate, examples and seconds to
failure, reported size; the hunt's speed-up over the random peer; the task buckets; every
target with its figure. Text blocks here, the JSON document in `evaluate_json`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ptediff.report.blocks import Block, Heading, Text, table
from ptediff.search.evaluate import (
    BUCKETS,
    HUNT,
    PEER,
    SOLVE_TARGET_SECONDS,
    SPEEDUP_TARGET,
    Evaluation,
    Summary,
    speedup,
)


@dataclass(frozen=True)
class Target:
    what: str
    wanted: str
    got: str
    met: bool


def evaluate_blocks(ev: Evaluation, chart: str | None = None) -> list[Block]:
    seconds = sum(t.total_seconds for t in ev.trials)
    intro = (
        f"{len(ev.tasks)} task(s) x {len(ev.strategies)} strategies x {len(ev.seeds)} seed(s), "
        f"{ev.budget:g} s budget each (profile {ev.profile}, {ev.jobs} job(s)); "
        f"{len(ev.trials)} trial(s), {seconds:.0f} s of searching. Examples to failure are the "
        "same on any machine for a seed; seconds depend on the machine and its load."
    )
    if ev.interrupted:
        intro += " Interrupted: only the finished trials are reported."
    blocks: list[Block] = [Heading("evaluate"), Text(intro)]
    blocks.append(table(
        ("task", "strategy", "solved", "median ex.", "min ex.", "max ex.", "median s", "min s",
         "max s", "ops", "class"),
        [_summary_row(ev, s) for s in ev.summaries()],
        title="time to failure per task (max '>' budget: some seed unsolved)",
    ))
    if HUNT in ev.strategies and PEER in ev.strategies:
        blocks.append(table(
            ("task", "hunt median ex.", "peer median ex.", "x examples", "x seconds"),
            speedup_rows(ev),
            title=f"hunt vs the random peer (target: >= {SPEEDUP_TARGET:g}x where the peer "
                  "finds the bug)",
        ))
    counts = ev.buckets()
    blocks.append(table(
        ("strategy", *(f"<= {limit:g} s" for limit in BUCKETS), "tasks"),
        [[strategy, *counts[strategy], len(ev.tasks)] for strategy in ev.strategies],
        title="tasks solved within (median over seeds)",
    ))
    blocks.append(table(
        ("target", "wanted", "got", "met"),
        [[t.what, t.wanted, t.got, "yes" if t.met else "NO"] for t in targets(ev)],
        title="targets",
    ))
    misses = hunt_misses(ev)
    if misses:
        blocks.append(Text("hunt misses (unsolved in some seed): " + ", ".join(misses)))
    if chart:
        blocks.append(Text(f"task-bucket chart written to {chart}"))
    return blocks


def _summary_row(ev: Evaluation, s: Summary) -> list[str]:
    return [
        s.task,
        s.strategy,
        f"{s.solved}/{s.seeds}",
        _count(s.examples[0]),
        _count(s.examples[1]),
        _count(s.examples[2]) if s.solved == s.seeds or s.solved == 0 else ">",
        _secs(s.seconds[0]),
        _secs(s.seconds[1]),
        _secs(s.seconds[2]) if s.solved == s.seeds or s.solved == 0 else f">{ev.budget:g}",
        "-" if s.ops is None else f"{s.ops:g}",
        " ".join(s.classes) or "-",
    ]


def speedup_rows(ev: Evaluation) -> list[list[str]]:
    rows = []
    for task in ev.tasks:
        hunt, peer = ev.summary(task.impl, HUNT), ev.summary(task.impl, PEER)
        if hunt is None or peer is None:
            continue
        rows.append([
            task.impl,
            _count(hunt.examples[0]),
            _count(peer.examples[0]),
            _ratio(speedup(hunt, peer, "examples"), peer),
            _ratio(speedup(hunt, peer, "seconds"), peer),
        ])
    return rows


def targets(ev: Evaluation) -> list[Target]:
    """The evaluate targets of issue 14, each with its measured figure."""
    out = []
    if HUNT in ev.strategies:
        limit = min(SOLVE_TARGET_SECONDS, ev.budget)
        hunt_rows = [s for s in ev.summaries() if s.strategy == HUNT]
        mutants = [s for s in hunt_rows if s.task.startswith("mutant:")]
        within = [s for s in mutants if s.solved == s.seeds and (s.seconds[2] or 0) <= limit]
        out.append(Target(
            f"hunt solves every catalogue mutant within {limit:g} s, every seed",
            f"{len(mutants)}/{len(mutants)}",
            f"{len(within)}/{len(mutants)}",
            len(within) == len(mutants),
        ))
        trials = [t for t in ev.trials if t.strategy == HUNT and t.task.startswith("mutant:")]
        out.append(Target(
            "hunt trials (mutant, seed) solved",
            f"{len(trials)}/{len(trials)}",
            f"{sum(t.solved for t in trials)}/{len(trials)}",
            all(t.solved for t in trials),
        ))
    if HUNT in ev.strategies and PEER in ev.strategies:
        for task in ev.tasks:
            hunt, peer = ev.summary(task.impl, HUNT), ev.summary(task.impl, PEER)
            if peer is None or peer.solved == 0:
                continue
            ratio = speedup(hunt, peer, "examples")
            hunt_median = hunt is not None and hunt.examples[0] is not None
            # A peer that solves only a minority of seeds has no median: any solved hunt
            # median is ahead of it by more than the budget can show.
            met = hunt_median and (
                peer.examples[0] is None or (ratio is not None and ratio >= SPEEDUP_TARGET)
            )
            out.append(Target(
                f"hunt ahead of the peer on {task.impl} (median examples)",
                f">= {SPEEDUP_TARGET:g}x",
                _ratio(ratio, peer) if hunt_median else "hunt median unsolved",
                met,
            ))
    return out


def hunt_misses(ev: Evaluation) -> list[str]:
    return [
        f"{s.task} ({s.solved}/{s.seeds})"
        for s in ev.summaries()
        if s.strategy == HUNT and s.solved < s.seeds
    ]


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _ratio(value: float | None, peer: Summary) -> str:
    if value is None:
        return "-" if peer.examples[0] is not None else "peer unsolved (median)"
    return "inf" if math.isinf(value) else f"{value:.1f}x"
