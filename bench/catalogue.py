"""Examples to the first failure on the mutant catalogue, under an examples budget.

    python -m bench.catalogue                            # every task, seeds 1-3, 3000 examples
    python -m bench.catalogue --impl mutant:unmap_drops_dirty --seeds 1-10 --examples 5000
    python -m bench.catalogue --fixes --seeds 1-10       # the four folded fixes, own variants
    python -m bench.catalogue --strategy peer --impl mutant:zero_page_writable

`ptediff evaluate` gives each trial a budget in seconds, which on a shared machine measures the
load as much as the search. This one gives each trial a budget in *examples* (hunt: property
runs; peer: programs), so a miss means the same thing on any machine, and reports per task the
examples to the first divergence of any class that postfix does not show too (the hunt:
`hunt(..., max_examples=N, until={(impl, "*")}, baseline="postfix")`, as `evaluate` does;
`--fixes`: the fix's own class), the class, and the reported program's size. Seconds are
printed too, but only examples are comparable.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence

from ptediff.judge.check import clear_cache
from ptediff.search.evaluate import BASELINE, default_tasks
from ptediff.search.hunt import ANY_CLASS, hunt
from ptediff.search.peer import peer_search

# Each folded fix on its own variant, with the class it must show (bench/bugs.py).
FIX_CLASSES = {
    "prefix-anon-vma-head": "orphan-migration-entry",
    "prefix-pte-unmap-arg": "kmap-leak:remove_migration_pte",
    "prefix-cow-fork-write": "shared-writable",
    "prefix-swapon-range": "kernel-bug:sys_swapon",
}


def hunt_trial(impl: str, seed: int, examples: int, cls: str = ANY_CLASS) -> dict:
    clear_cache()
    started = time.monotonic()
    report = hunt([impl], max_examples=examples, seed=seed, profile="dev",
                  until={(impl, cls)}, baseline=BASELINE)
    found = [f for f in report.findings if cls == ANY_CLASS or f.signature == cls]
    row: dict = {"impl": impl, "seed": seed, "strategy": "hunt", "solved": bool(found),
                 "examples": None, "cls": None, "ops": None,
                 "seconds": round(time.monotonic() - started, 2)}
    if found:
        first = min(found, key=lambda f: f.examples_to_first)
        row.update(examples=first.examples_to_first, cls=first.signature, ops=first.size.ops,
                   program=first.text)
    return row


def peer_trial(impl: str, seed: int, examples: int) -> dict:
    clear_cache()
    started = time.monotonic()
    run = peer_search(impl, seed=seed, max_examples=examples, reduce_found=False,
                      baseline=BASELINE)
    return {"impl": impl, "seed": seed, "strategy": "peer", "solved": run.solved,
            "examples": run.examples_to_first, "cls": run.cls, "ops": None,
            "seconds": round(time.monotonic() - started, 2)}


def seed_range(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(part) for part in text.split(",")]


def median_examples(rows: Sequence[dict]) -> float | None:
    """Median with unsolved trials counted as infinitely slow (None when that is the median)."""
    ranked = sorted(float("inf") if r["examples"] is None else r["examples"] for r in rows)
    median = statistics.median(ranked)
    return None if median == float("inf") else median


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.catalogue")
    parser.add_argument("--impl", action="append", help="task (repeatable; default: all)")
    parser.add_argument("--fixes", action="store_true",
                        help="the four folded fixes on their variants, each its own class")
    parser.add_argument("--seeds", default="1-3", help="e.g. 1-10 or 1,4,7 (default 1-3)")
    parser.add_argument("--examples", type=int, default=3000, help="budget per trial")
    parser.add_argument("--strategy", choices=("hunt", "peer"), default="hunt")
    parser.add_argument("--json", metavar="FILE", help="also write every row there")
    args = parser.parse_args(argv)
    if args.fixes:
        tasks = [(impl, cls) for impl, cls in FIX_CLASSES.items()]
    else:
        names = args.impl or [t.impl for t in default_tasks()]
        tasks = [(name, ANY_CLASS) for name in names]
    rows: list[dict] = []
    for impl, cls in tasks:
        trials = []
        for seed in seed_range(args.seeds):
            if args.strategy == "hunt":
                row = hunt_trial(impl, seed, args.examples, cls)
            else:
                row = peer_trial(impl, seed, args.examples)
            trials.append(row)
            rows.append(row)
        shown = ["-" if r["examples"] is None else str(r["examples"]) for r in trials]
        median = median_examples(trials)
        solved = sum(r["solved"] for r in trials)
        print(f"{impl:36s} {args.strategy} solved {solved}/{len(trials)}  median "
              f"{'-' if median is None else f'{median:g}'}  examples {' '.join(shown)}  "
              f"ops {[r['ops'] for r in trials]}  s {[r['seconds'] for r in trials]}",
              flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
