"""Benchmark results: one JSON document per benchmark, and the statistics the tables show.

A document holds the machine (`bench.machine.machine_info`), the date, the exact settings, the
rows of the table, a summary and the targets with their measured values. The date is recorded,
never used.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.machine import machine_info
from bench.settings import BenchError, BenchSettings

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


@dataclass
class Target:
    """A figure the issue asks for, against the value measured (never asserted)."""

    figure: str
    target: str
    measured: str
    met: bool | None  # None: not measured in this run

    def row(self) -> list[str]:
        verdict = "n/a" if self.met is None else ("met" if self.met else "MISSED")
        return [self.figure, self.target, self.measured, verdict]


@dataclass
class BenchResult:
    benchmark: str
    table: str  # the tabulate rendering printed to the terminal
    rows: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)  # benchmark-specific settings

    def document(self, settings: BenchSettings) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "settings": dataclasses.asdict(settings),
            "parameters": self.parameters,
            "summary": self.summary,
            "targets": [dataclasses.asdict(t) for t in self.targets],
            "rows": self.rows,
            "table": self.table,
        }


def prepare(out: Path, settings: BenchSettings) -> Path:
    """Create `<out>/<mode>/` before anything runs: a bad --out fails at once, not after an
    hour of benchmarks."""
    directory = out / settings.mode
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BenchError(f"cannot create {directory}: {error.strerror}") from None
    if not os.access(directory, os.W_OK):
        raise BenchError(f"cannot write to {directory}")
    return directory


def write(result: BenchResult, settings: BenchSettings, out: Path) -> Path:
    """Write `<out>/<mode>/<benchmark>.json`; an unusable directory is a BenchError."""
    directory = prepare(out, settings)
    path = directory / f"{result.benchmark}.json"
    try:
        path.write_text(json.dumps(result.document(settings), indent=2, default=str) + "\n")
    except OSError as error:
        raise BenchError(f"cannot write results to {directory}: {error.strerror}") from None
    return path


# ---------------------------------------------------------------------------------------------
# Statistics over seeds: unsolved runs count as "more than the budget" (censored), so a median
# over a half-unsolved set is honestly "> budget" instead of the median of the lucky seeds.


def censored_median(values: Sequence[float | None]) -> float | None:
    """Median with None as +infinity; None when the median itself is unsolved or no values."""
    if not values:
        return None
    median = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(median) else median


def solved(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def fmt_seconds(value: float | None, budget: float | None = None) -> str:
    if value is None:
        return f"> {budget:g}" if budget is not None else "-"
    return f"{value:.2f}"


def fmt_rate(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def render_table(rows: Iterable[Sequence[object]], headers: Sequence[str]) -> str:
    """A plain table; cells are printed as formatted here (tabulate would re-read "0.50" as a
    number and print 0.5)."""
    return tabulate(list(rows), headers=list(headers), disable_numparse=True)
