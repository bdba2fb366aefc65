"""Properties every spec outcome must have, on generated programs."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from ptediff import spec
from ptediff.core.canon import outcome_key
from ptediff.core.program import Parallel, Program
from ptediff.judge.differ import state_properties
from ptediff.search.strategies import programs

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(programs(max_ops=10))
def test_spec_outcomes_are_complete_and_cow_safe(program: Program) -> None:
    outcomes = spec.run(program)
    assert outcomes
    op_count = len(program.ops())
    for outcome in outcomes:
        assert sorted(outcome.results) == list(range(op_count))
        # Never a page writable through two ptes, never a write bit in a read-only vma,
        # never a migration pte.
        assert state_properties(outcome.state, outcome.vma_prot) == set()
        assert set(outcome.vma_prot) == set(outcome.state)
    # Deduplicated: an outcome appears once per minimal allowance set (two incomparable sets
    # can each reach it; a superset of another's is dropped).
    by_key: dict[object, list[frozenset[str]]] = {}
    for outcome in outcomes:
        by_key.setdefault(outcome_key(outcome), []).append(outcome.allowances)
    for sets in by_key.values():
        assert len(set(sets)) == len(sets)
        assert not any(a < b for a in sets for b in sets)


@SETTINGS
@given(programs(max_ops=10, threads=None))
def test_sequential_programs_have_one_outcome_and_no_allowance(program: Program) -> None:
    assert not any(isinstance(step, Parallel) for step in program.steps)
    outcomes = spec.run(program)
    assert len(outcomes) == 1 and outcomes[0].allowances == frozenset()
