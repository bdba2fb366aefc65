"""The judge's exact-match shortcut (`ptediff.judge.match`) gives the judgement the full
ranking gives: on generated programs, against every registered model (the pre-fix variants
diverge often, so both the agreeing and the diverging path are exercised), and on outcomes
edited to hit the shortcut's edge cases.
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from ptediff import impls, spec
from ptediff.core.outcome import Outcome, PteState
from ptediff.core.program import Program
from ptediff.dsl.parse import parse
from ptediff.impls.registry import REGISTRY
from ptediff.judge.differ import judge
from ptediff.judge.match import MatchIndex, match_key
from ptediff.search.strategies import programs

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _both_ways(program: Program, allowed: list[Outcome], outcome: Outcome) -> bool:
    fast = judge(program, allowed, outcome)
    full = judge(program, allowed, outcome, exact_match=False)
    assert fast == full
    assert fast.matched is full.matched  # the same allowed outcome, not merely an equal one
    return fast.agrees


@SETTINGS
@given(programs(max_ops=10))
def test_shortcut_judges_generated_programs_as_the_ranking_does(program: Program) -> None:
    allowed = spec.run(program)
    for kernel in REGISTRY.values():
        _both_ways(program, allowed, impls.run(kernel, program, check_invariants=False))


PROGRAM = parse("""
map   p0 0x1000 2 rw
fault p0 0x1000 write 0x1
fork  p0 p1
fault p0 0x2000 write 0x2
""")


def test_shortcut_agrees_and_finds_the_fewest_allowances_first() -> None:
    allowed = spec.run(PROGRAM)
    outcome = impls.run("postfix", PROGRAM, check_invariants=False)
    assert _both_ways(PROGRAM, allowed, outcome)
    # an equal outcome needing an allowance, listed first: the ranking still takes the plain one
    extra = dataclasses.replace(allowed[0], allowances=frozenset({"migrate-busy"}))
    assert _both_ways(PROGRAM, [extra, *allowed], outcome)
    assert judge(PROGRAM, [extra, *allowed], outcome).matched is allowed[0]


def test_shortcut_edge_cases_match_the_ranking() -> None:
    allowed = spec.run(PROGRAM)
    outcome = impls.run("postfix", PROGRAM, check_invariants=False)
    key = next(k for k, p in outcome.state.items() if p.kind == "present")
    pte = outcome.state[key]
    edited = [
        # a none pte present as a key counts as a missing one
        {**outcome.state, ("p1", 0x9000): PteState("none")},
        # the same frames renamed: agrees
        {k: dataclasses.replace(p, frame=p.frame + 100) if p.frame is not None else p
         for k, p in outcome.state.items()},
        # one pte moved to a frame of its own: a sharing difference
        {**outcome.state, key: dataclasses.replace(pte, frame=999)},
        # a field the differ compares, and a present pte without a frame (no shortcut)
        {**outcome.state, key: dataclasses.replace(pte, node=1)},
        {**outcome.state, key: dataclasses.replace(pte, frame=None)},
    ]
    verdicts = [_both_ways(PROGRAM, allowed, dataclasses.replace(outcome, state=state))
                for state in edited]
    assert verdicts == [True, True, False, False, False]
    assert match_key(dataclasses.replace(outcome, state=edited[-1])) is None
    # a result of another type (False for 0) is a result row; a None result a missing one
    op = next(op for op, r in outcome.results.items() if r == 0)
    assert not _both_ways(PROGRAM, allowed, dataclasses.replace(
        outcome, results={**outcome.results, op: False}))
    assert _both_ways(PROGRAM, allowed, dataclasses.replace(
        outcome, results={**outcome.results, 99: None}))
    assert not MatchIndex([dataclasses.replace(allowed[0], state=edited[-1])]).usable
