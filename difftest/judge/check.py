"""Run a program on the spec and on one implementation, and judge the result.

The spec's outcomes depend only on the program, so they are cached per program (and per
checkpoint flag): checking several implementations, or re-running one, costs one spec run.
"""

from __future__ import annotations

from collections import OrderedDict

from ptediff import impls, spec
from ptediff.core.outcome import Outcome
from ptediff.core.program import Program
from ptediff.judge.differ import Judgement, judge

ImplRef = str | type  # a registered name, `package.module:Class`, or a Kernel subclass

_CACHE_SIZE = 256
_spec_cache: OrderedDict[tuple[Program, bool], list[Outcome]] = OrderedDict()


def spec_outcomes(program: Program, *, checkpoints: bool = False) -> list[Outcome]:
    """`spec.run(program)`, remembered for the most recent programs."""
    key = (program, checkpoints)
    if key in _spec_cache:
        _spec_cache.move_to_end(key)
        return _spec_cache[key]
    outcomes = spec.run(program, checkpoints=checkpoints)
    _spec_cache[key] = outcomes
    if len(_spec_cache) > _CACHE_SIZE:
        _spec_cache.popitem(last=False)
    return outcomes


def run_impl(
    program: Program,
    impl: ImplRef,
    *,
    check_invariants: bool | str = True,
    checkpoints: bool = False,
) -> Outcome:
    kernel = impls.load(impl) if isinstance(impl, str) else impl
    return impls.run(kernel, program, check_invariants=check_invariants, checkpoints=checkpoints)


def check(
    program: Program, impl: ImplRef, *, check_invariants: bool | str = True, level: str = "all"
) -> Judgement:
    """Run `program` on the spec and on `impl` and judge the implementation's outcome
    (`level`: `all`, or `contract` for what a program can see: `ptediff.judge.signature`)."""
    outcome = run_impl(program, impl, check_invariants=check_invariants)
    return judge(program, spec_outcomes(program), outcome, level=level)


def check_located(
    program: Program, impl: ImplRef, *, check_invariants: bool | str = True, level: str = "all"
) -> Judgement:
    """Like `check`, with checkpoints on both sides, so state signatures carry their first op."""
    outcome = run_impl(program, impl, check_invariants=check_invariants, checkpoints=True)
    return judge(program, spec_outcomes(program, checkpoints=True), outcome, level=level)


def locate(
    program: Program,
    impl: ImplRef,
    judgement: Judgement,
    *,
    check_invariants: bool | str = True,
    level: str = "all",
) -> Judgement:
    """A diverging judgement re-run with checkpoints (an agreeing one is returned as is)."""
    if judgement.agrees:
        return judgement
    return check_located(program, impl, check_invariants=check_invariants, level=level)


def clear_cache() -> None:
    _spec_cache.clear()
