"""Simplify a program on which a model crashes (raises a Python exception), like a divergence.

A crash has no judgement, but the rewriting passes of `ptediff.search.shrink_passes` need only
the program and the steps its run took (`ModelCrash.trace`, kept by the runner up to the
crash). A candidate is kept when it is valid and the model still raises the same exception
type on it; the passes run until none helps, then the canonical renaming.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import cast

from ptediff import impls
from ptediff.core.errors import DslValidationError, ModelCrash, PtediffError
from ptediff.core.outcome import Outcome
from ptediff.core.program import Program
from ptediff.dsl.validate import validate
from ptediff.judge.differ import Judgement
from ptediff.search.shrink_passes import (
    Best,
    canonical,
    fewer_processes,
    fewer_threads,
    sequential,
    simpler_config,
    simpler_ops,
    without_one_op,
)

MAX_RUNS = 2000  # model runs one crash simplification may take
PASSES: tuple[Callable[[Best], Iterator[Program]], ...] = (
    without_one_op,
    sequential,
    fewer_threads,
    fewer_processes,
    simpler_ops,
    simpler_config,
)


def simplify_crash(
    program: Program, kernel: type, type_name: str, *, check_invariants: bool | str = False
) -> tuple[Program, ModelCrash | None]:
    """The simplest program found on which `kernel` still raises `type_name`, with that crash
    (None, and `program` itself, when `program` does not crash that way)."""
    runs = 0

    def crash_on(candidate: Program) -> ModelCrash | None:
        nonlocal runs
        try:
            validate(candidate)
        except DslValidationError:
            return None
        runs += 1
        try:
            impls.run(kernel, candidate, check_invariants=check_invariants)
        except ModelCrash as crash:
            return crash if crash.type_name == type_name else None
        except PtediffError:  # a tool limit: not the crash
            return None
        return None

    crash = crash_on(program)
    if crash is None:
        return program, None
    best = _best(program, crash)
    for passes in (PASSES, (canonical,)):
        progress = True
        while progress and runs < MAX_RUNS:
            progress = False
            for candidates in passes:
                for candidate in candidates(best):
                    if candidate == best.program or runs >= MAX_RUNS:
                        continue
                    found = crash_on(candidate)
                    if found is not None:
                        best, crash = _best(candidate, found), found
                        progress = True
                        break
                if progress:
                    break
    return best.program, crash


def _best(program: Program, crash: ModelCrash) -> Best:
    # The passes read the program and its trace; a crash has no judgement to give them.
    return Best(program, Outcome(trace=list(crash.trace)), cast(Judgement, None))


__all__ = ["simplify_crash"]
