"""What a hunt needs to take part in a campaign: replaying a database's stored failures before
it searches, and the `Exchange` through which `--jobs` workers share the classes they found."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from ptediff.core.program import Program
from ptediff.search.coverage import KernelCoverage
from ptediff.search.property import (
    ClassKey,
    DifferentialProperty,
    DivergenceFound,
    Named,
    Observer,
)


class Exchange(Protocol):
    """How parallel workers of one campaign (`ptediff.search.jobs`) share what each found."""

    def found_elsewhere(self) -> Collection[ClassKey]:
        """Classes other workers found since the last call: this worker stops looking."""
        ...

    def announce(self, keys: Collection[ClassKey]) -> None:
        """Classes this worker has just found."""
        ...


def replay(
    programs: Sequence[Program],
    named: tuple[Named, ...],
    found: frozenset[ClassKey],
    observe: Observer | Callable[..., None] | None,
    coverage: KernelCoverage | None,
    *,
    check_invariants: bool | str,
    schedule_variants: int,
) -> list[DivergenceFound]:
    """Run stored failures (a campaign database's) before any search: each divergence class
    they show that is not in `found` is a finding, first seen at its program (in `named` order,
    then by class). Each program is observed and counted once."""
    new: dict[ClassKey, DivergenceFound] = {}
    for program in programs:
        first = True
        while True:  # the property raises one class per run: go on until none is new
            prop = DifferentialProperty(
                named,
                check_invariants=check_invariants,
                ignore=found | set(new),
                observer=observe if first else None,
                schedule_variants=schedule_variants,
                race=True,
                coverage=coverage if first else None,
            )
            first = False
            try:
                prop(program)
            except DivergenceFound as divergence:
                new[divergence.key] = divergence
                continue
            break
    order = [name for name, _ in named]
    return sorted(new.values(), key=lambda d: (order.index(d.impl), d.cls))
