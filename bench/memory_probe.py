"""The child process of the memory benchmark: one hunt against every registered
implementation, then its memory figures as one JSON line on stdout.

`python -m bench.memory_probe SECONDS [--max-examples N] [--impl NAME]... [--tracemalloc]`
(no --impl: every registered implementation). Runs in its own
process so that the peak resident size is the hunt's alone (ru_maxrss never goes down).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import Sequence

SEED = 0


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def probe(
    seconds: float, max_examples: int | None, names: list[str] | None, trace: bool
) -> dict[str, object]:
    from ptediff import impls
    from ptediff.search.hunt import hunt

    baseline = max_rss_kib()  # interpreter, hypothesis and ptediff imported
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    report = hunt(names, seconds=seconds, max_examples=max_examples, seed=SEED)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return {
        "impls": list(names or impls.REGISTRY),
        "seconds": elapsed,
        "examples": report.examples,
        "findings": len(report.findings),
        "baseline_rss_kib": baseline,
        "max_rss_kib": max_rss_kib(),
        "tracemalloc_peak_bytes": peak,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_probe")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--max-examples", type=int)
    parser.add_argument("--impl", action="append", dest="impls")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.seconds, args.max_examples, args.impls, args.tracemalloc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
