"""Benchmark `peer`: the hunt against a naive random peer, per seeded bug.

The peer is `ptediff evaluate`'s: uniform random programs over the same operations
(`ptediff.search.peer.draw_valid`, seeded; an invalid draw is redrawn and not counted), each
judged with the same oracle, the spec and the model (`ptediff.judge.check.check`; no schedule
exploration, no shrinking). Until the end of the session that added `ptediff evaluate` this
benchmark had a generator of its own; the figures in docs/benchmarks.md measured with it are
marked as such.

Per (bug, seed) both sides count examples to the first program showing the bug's class
(among its signatures, for the peer; the hunt stops at its first finding of the class, with
`until`). Examples are the load-independent figure; seconds are examples divided by each
side's own examples/s, measured in the same run.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from ptediff import impls as models
from ptediff.dsl.parse import parse
from ptediff.judge.check import check
from ptediff.search.hunt import hunt
from ptediff.search.peer import draw_valid

from bench.bugs import SEEDED_BUGS, SeededBug, minimal_variants
from bench.results import BenchResult, Target, censored_median, render_table
from bench.settings import BenchSettings

NAME = "peer"
TARGET_FACTOR = 10.0
# the hunt's primary class for a bug whose expected class is a secondary signature
PRIMARY = {"result:swapon": "kernel-bug:sys_swapon"}


def peer_search(impl: str, cls: str, seed: int, max_examples: int) -> dict[str, Any]:
    """Examples (and seconds) the peer needs to show `cls` on `impl`; None: not within
    `max_examples`."""
    rng = random.Random(seed)
    kernel = models.load(impl)
    started = time.perf_counter()
    examples = 0
    while examples < max_examples:
        program = draw_valid(rng)
        examples += 1
        judgement = check(program, kernel, check_invariants=False)
        if judgement.divergence is not None and any(
            s.cls == cls for s in judgement.divergence.signatures
        ):
            return {"examples": examples, "seconds": time.perf_counter() - started}
    return {"examples": None, "seconds": time.perf_counter() - started, "tried": examples}


def hunt_search(impl: str, cls: str, seed: int, max_examples: int) -> dict[str, Any]:
    primary = PRIMARY.get(cls, cls)
    started = time.perf_counter()
    report = hunt([impl], max_examples=max_examples, seed=seed, until={(impl, primary)})
    finding = report.finding(impl, primary)
    return {
        "examples": None if finding is None else finding.examples_to_first,
        "seconds": None if finding is None else finding.seconds_to_first,
        "wall": time.perf_counter() - started,
        "hunt_examples": report.examples,
        "exact": finding is not None and finding.program.steps and _exact(finding.text, impl),
    }


def _exact(text: str, impl: str) -> bool:
    bug = next(b for b in SEEDED_BUGS if b.variant == impl)
    program = parse(text)
    return any(program.ops() == m.ops() and program.config == m.config
               for m in minimal_variants(bug))


def report(settings: BenchSettings) -> BenchResult:
    seeds = range(settings.seeds)
    peer_budget = 3000 if settings.mode == "full" else 1000
    rows = []
    targets = []
    for bug in SEEDED_BUGS:
        rows.append(_row(bug, seeds, peer_budget))
    table = render_table(
        [[r["bug"], r["impl"], r["expected"], f"{r['peer_solved']}/{r['seeds']}",
          _fmt(r["peer_median_examples"]), f"{r['peer_rate']:.0f}",
          f"{r['hunt_solved']}/{r['seeds']}", _fmt(r["hunt_median_examples"]),
          _fmt(r["hunt_median_seconds"], 2), _fmt(r["factor"], 1)]
         for r in rows],
        headers=["bug", "variant", "class", "peer solved", "peer median ex.", "peer ex/s",
                 "hunt solved", "hunt median ex.", "hunt median s", "examples factor"],
    )
    for r in rows:
        if r["peer_solved"]:
            targets.append(Target(
                f"hunt ahead of the random peer, {r['bug']} on {r['impl']}",
                f">= {TARGET_FACTOR:g}x fewer examples",
                "-" if r["factor"] is None else f"{r['factor']:.1f}x",
                r["factor"] is not None and r["factor"] >= TARGET_FACTOR,
            ))
    return BenchResult(NAME, table, rows, targets=targets,
                       parameters={"seeds": list(seeds), "peer_budget": peer_budget})


def _row(bug: SeededBug, seeds: range, peer_budget: int) -> dict[str, Any]:
    peer = [peer_search(bug.variant, bug.expected, seed, peer_budget) for seed in seeds]
    ours = [hunt_search(bug.variant, bug.expected, seed, peer_budget) for seed in seeds]
    peer_ex = [p["examples"] for p in peer]
    hunt_ex = [h["examples"] for h in ours]
    tried = sum(p.get("tried", p["examples"] or 0) for p in peer)
    peer_rate = tried / max(sum(p["seconds"] for p in peer), 1e-9)
    peer_median = censored_median(peer_ex)
    hunt_median = censored_median(hunt_ex)
    factor = None
    if hunt_median:
        # an unsolved peer median counts as its budget: the factor is then a lower bound
        factor = (peer_median if peer_median is not None else peer_budget) / hunt_median
    return {
        "bug": bug.label, "impl": bug.variant, "expected": bug.expected, "seeds": len(seeds),
        "peer_solved": sum(e is not None for e in peer_ex),
        "peer_median_examples": peer_median, "peer_rate": peer_rate,
        "hunt_solved": sum(e is not None for e in hunt_ex),
        "hunt_median_examples": hunt_median,
        "hunt_median_seconds": censored_median([h["seconds"] for h in ours]),
        "hunt_exact": sum(bool(h["exact"]) for h in ours),
        "factor": factor, "peer": peer, "hunt": ours,
        "peer_mean_examples_solved": statistics.mean(e for e in peer_ex if e) if any(peer_ex)
        else None,
    }


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
