"""The knobs of a benchmark run, with the full and `--quick` presets.

Every size is fixed in advance (repeat counts, example counts, budgets), never adapted to how
fast the machine is, so two runs of one preset do the same work and their figures compare.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ptediff.core.errors import PtediffError


class BenchError(PtediffError):
    """A benchmark run that cannot be carried out: bad settings, an unwritable output dir."""


@dataclass(frozen=True)
class BenchSettings:
    mode: str  # "full", "quick", or "custom" once a preset was overridden
    seeds: int  # time to failure / shrink quality: seeds per seeded bug
    budget: float  # seconds of search per (implementation, seed)
    jobs: int  # searches run side by side (separate processes)
    impls: tuple[str, ...] | None  # restrict the searches to these variants (None: all)
    throughput_examples: int  # programs drawn (and checked) per throughput pass
    throughput_ops: tuple[int, int]  # (fewest, most) operations of a throughput program
    scaling_sizes: tuple[int, ...]
    scaling_ops: int  # operations run per size and side (programs = scaling_ops // size)
    explore_unbounded: bool
    explore_files: tuple[str, ...]  # under tests/regressions/
    memory_seconds: float
    memory_max_examples: int | None  # cap for tiny runs (tests); None: the time budget only
    memory_tracemalloc: bool  # a second hunt under tracemalloc for the Python-heap peak
    memory_impls: tuple[str, ...] | None  # None: every registered implementation
    profile_examples: int
    hypothesis_profile: str = "dev"  # the hunt's default profile

    def replace(self, **changes: object) -> BenchSettings:
        changed = {k: v for k, v in changes.items() if v is not None}
        if not changed:
            return self
        updated = dataclasses.replace(self, **changed)  # type: ignore[arg-type]
        updated.check()
        return dataclasses.replace(updated, mode="custom")

    def check(self) -> None:
        if self.seeds < 1:
            raise BenchError(f"seeds must be at least 1, not {self.seeds}")
        if not self.budget > 0:
            raise BenchError(f"the search budget must be positive, not {self.budget}")
        if self.jobs < 1:
            raise BenchError(f"jobs must be at least 1, not {self.jobs}")
        low, high = self.throughput_ops
        if not 1 <= low <= high:
            raise BenchError(f"throughput program sizes must satisfy 1 <= low <= high: {low, high}")
        if any(size < 1 for size in self.scaling_sizes):
            raise BenchError("scaling sizes must be at least 1 operation")


EXPLORE_FILES = ("fix1.pte", "fix1-unlocked.pte", "fix3.pte", "fix3-unlocked.pte")

FULL = BenchSettings(
    mode="full",
    seeds=10,
    budget=60.0,
    jobs=2,
    impls=None,
    throughput_examples=400,
    throughput_ops=(18, 24),
    scaling_sizes=(10, 100, 1000),
    scaling_ops=5000,
    explore_unbounded=True,
    explore_files=EXPLORE_FILES,
    memory_seconds=60.0,
    memory_max_examples=None,
    memory_tracemalloc=True,
    memory_impls=None,
    profile_examples=200,
)

QUICK = dataclasses.replace(
    FULL,
    mode="quick",
    seeds=3,
    budget=20.0,
    throughput_examples=120,
    scaling_ops=2000,
    explore_unbounded=False,
    memory_seconds=15.0,
    memory_tracemalloc=False,
    profile_examples=60,
)
