"""Benchmark 6, memory: the peak memory of a hunt against every registered implementation,
measured in a fresh process (`bench.memory_probe`): the peak resident set size, and in a
second run under tracemalloc (slower, so fewer examples) the peak of the Python heap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.results import BenchResult, render_table
from bench.settings import BenchError, BenchSettings

NAME = "memory"
ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def run_probe(settings: BenchSettings, trace: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.memory_probe", str(settings.memory_seconds)]
    if settings.memory_max_examples is not None:
        command += ["--max-examples", str(settings.memory_max_examples)]
    for impl in settings.memory_impls or ():
        command += ["--impl", impl]
    if trace:
        command.append("--tracemalloc")
    # From the checkout's root, so that `bench` resolves to this package whatever the caller's
    # working directory holds.
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise BenchError(f"the memory probe failed ({done.returncode}): {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["mode"] = "tracemalloc" if trace else "rss"
    return result


def report(settings: BenchSettings) -> BenchResult:
    rows = [run_probe(settings, trace=False)]
    if settings.memory_tracemalloc:
        rows.append(run_probe(settings, trace=True))
    table = render_table(
        [
            [
                r["mode"],
                f"{r['seconds']:.1f}",
                r["examples"],
                r["findings"],
                f"{r['baseline_rss_kib'] / 1024:.0f}",
                f"{r['max_rss_kib'] / 1024:.0f}",
                "-" if r["tracemalloc_peak_bytes"] is None
                else f"{r['tracemalloc_peak_bytes'] / MIB:.1f}",
            ]
            for r in rows
        ],
        headers=["run", "seconds", "examples", "findings", "RSS after imports MiB",
                 "peak RSS MiB", "Python heap peak MiB"],
    )
    table += f"\nimplementations: {', '.join(rows[0]['impls'])}"
    return BenchResult(NAME, table, rows, summary={"peak_rss_mib": rows[0]["max_rss_kib"] / 1024},
                       parameters={"hunt_seconds": settings.memory_seconds})
