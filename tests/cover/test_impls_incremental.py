"""The incremental invariant checker finds exactly what the full scan finds (audit defect 9:
the full scan after every step made `run` quadratic)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from ptediff.core.program import Program
from ptediff.dsl.parse import parse, parse_file
from ptediff.impls import REGISTRY, runner
from ptediff.impls.incremental import IncrementalChecker, TrackedPtes
from ptediff.impls.invariants import InvariantChecker
from ptediff.search.strategies import programs

REGRESSIONS = Path(__file__).resolve().parents[2] / "tests" / "regressions"


def violations(checker: type[InvariantChecker], impl: type, program: Program) -> list[tuple]:
    saved = runner.IncrementalChecker
    runner.IncrementalChecker = checker  # type: ignore[misc]
    try:
        outcome = runner.run(impl, program, check_invariants=True)
    finally:
        runner.IncrementalChecker = saved  # type: ignore[misc]
    # I4 lists the writers of a page; the incremental checker sorts them
    return sorted((v.name, v.op, "" if v.name == "I4" else v.detail) for v in outcome.violations)


def same_as_full_scan(program: Program) -> int:
    found = 0
    for kernel in REGISTRY.values():
        full = violations(InvariantChecker, kernel, program)
        assert violations(IncrementalChecker, kernel, program) == full, kernel.NAME
        found += bool(full)
    return found


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.pte")), ids=lambda p: p.name)
def test_regression_files_give_the_same_violations(path: Path) -> None:
    same_as_full_scan(parse_file(path))


def test_the_seeded_bugs_show_the_same_violations() -> None:
    # fix 3 reverted: I4 (two writable ptes to one page) shows on prefix-cow-fork-write
    assert same_as_full_scan(parse_file(REGRESSIONS / "fix3.pte")) > 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_programs_give_the_same_violations(program: Program) -> None:
    same_as_full_scan(program)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs())
def test_generated_programs_give_the_same_violations_long(program: Program) -> None:
    same_as_full_scan(program)


def test_tracked_ptes_note_every_write() -> None:
    written: set[int] = set()
    ptes = TrackedPtes([(0x1000, None)], written)
    ptes[0x2000] = None
    ptes.pop(0x1000)
    ptes.setdefault(0x3000, None)
    ptes.update({0x4000: None})
    del ptes[0x2000]
    assert written == {0x1000, 0x2000, 0x3000, 0x4000}
    ptes.clear()
    assert not ptes


def test_a_fork_chain_has_no_violations_under_the_incremental_checker() -> None:
    chain = "map p0 0x1000 4 rw\nfault p0 0x1000 write 0x1\n" + "".join(
        f"fork p{i} p{i + 1}\n" for i in range(60)
    )
    outcome = runner.run("postfix", parse(chain), check_invariants=True)
    assert outcome.violations == []
