"""Kernel-function coverage of a campaign: which modelled kernel functions the generated programs
reached, in how many programs and how many calls (`ptediff.impls.coverage` counts them).

A hunt keeps one `KernelCoverage`; workers of `--jobs` merge theirs; the hunt report shows the
figure and lists the functions no program reached, which is what the campaign did not exercise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ptediff.impls.coverage import kernel_functions


@dataclass
class KernelCoverage:
    """Per modelled kernel function: programs that reached it (on any implementation) and calls."""

    functions: dict[str, str] = field(default_factory=dict)  # name -> kernel file cited
    programs: int = 0  # programs run (each counted once, on all its implementations)
    reached: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, kernels: Iterable[type]) -> KernelCoverage:
        functions: dict[str, str] = {}
        for kernel in kernels:
            functions.update(kernel_functions(kernel))
        return cls(dict(sorted(functions.items(), key=lambda item: (item[1], item[0]))))

    def record(self, reached: Mapping[str, int]) -> None:
        """One program's runs: the functions it reached with their call counts."""
        self.programs += 1
        for name, calls in reached.items():
            self.reached[name] += 1
            self.calls[name] += calls

    def merge(self, other: KernelCoverage) -> None:
        for name, cited in other.functions.items():
            self.functions.setdefault(name, cited)
        self.programs += other.programs
        self.reached.update(other.reached)
        self.calls.update(other.calls)

    @property
    def unreached(self) -> list[str]:
        return [name for name in self.functions if not self.reached[name]]

    @property
    def fraction(self) -> float:
        """Share of the modelled kernel functions reached at least once."""
        if not self.functions:
            return 0.0
        return 1 - len(self.unreached) / len(self.functions)

    def rows(self) -> list[tuple[str, str, int, int]]:
        """(function, file, programs, calls) per modelled function, by file then name."""
        return [
            (name, cited, self.reached[name], self.calls[name])
            for name, cited in self.functions.items()
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "programs": self.programs,
            "functions": len(self.functions),
            "reached": len(self.functions) - len(self.unreached),
            "unreached": self.unreached,
            "by_function": [
                {"function": name, "file": cited, "programs": programs, "calls": calls}
                for name, cited, programs, calls in self.rows()
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KernelCoverage:
        coverage = cls()
        coverage.programs = int(data.get("programs", 0))
        for row in data.get("by_function", ()):
            coverage.functions[row["function"]] = row["file"]
            if row["programs"]:
                coverage.reached[row["function"]] = row["programs"]
            if row["calls"]:
                coverage.calls[row["function"]] = row["calls"]
        return coverage
