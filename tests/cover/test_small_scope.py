"""The hunt's small-scope phase: a fixed list of the shortest programs, run before any draw."""

from __future__ import annotations

from ptediff.core.program import Parallel, Swapon
from ptediff.dsl.validate import validate
from ptediff.search.hunt import ANY_CLASS, hunt
from ptediff.search.small_scope import small_scope_programs


def test_the_list_is_fixed_valid_and_small() -> None:
    programs = small_scope_programs()
    assert programs == small_scope_programs()  # the same for every seed and run
    assert len(set(programs)) == len(programs) <= 100
    for program in programs:
        validate(program)
    # First the limits, in the smallest swap type field: one swapon past the last swap type.
    first = programs[0]
    assert first.config.swap_bits == 2 and all(isinstance(s, Swapon) for s in first.steps)
    assert any(program.blocks() for program in programs)
    assert all(len(program.ops()) <= 5 for program in programs)
    assert all(len(b.threads) == 2 for p in programs for b in p.steps if isinstance(b, Parallel))


def test_a_two_op_bug_is_found_inside_the_phase_and_shrunk() -> None:
    impl = "mutant:mprotect_keeps_write"
    report = hunt([impl], profile="ci", seed=1, max_examples=200, until={(impl, ANY_CLASS)})
    (finding,) = report.findings
    assert finding.signature == "writable-in-readonly-vma"
    assert finding.examples_to_first <= len(small_scope_programs())
    assert finding.text == (
        "map      p0 0x1000 1 rw\nfault    p0 0x1000 write 0x1\nmprotect p0 0x1000 1 r\n"
    )


def test_the_phase_can_be_switched_off() -> None:
    impl = "mutant:swapon_off_by_one"
    until = {(impl, ANY_CLASS)}
    with_scope = hunt([impl], profile="ci", seed=1, max_examples=50, until=until)
    assert [f.examples_to_first for f in with_scope.findings] == [1]
    without = hunt([impl], profile="ci", seed=1, max_examples=1, until=until,
                   small_scope=False)
    assert without.examples == 1 and without.findings == []
