"""State checks (`expect PROC ADDR STATE`): grammar, errors, printing, spec and model results."""

from __future__ import annotations

import pytest
from ptediff import impls, spec
from ptediff.core.errors import DslError, SpecError
from ptediff.core.program import HOLDS, StateCheck
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.judge.verdict import evaluate

SWAP_TOUR = """\
map      p0 0x1000 2 rw
expect   p0 0x1000 none
fault    p0 0x1000 write 0x5
expect   p0 0x1000 present writable
fork     p0 p1
expect   p1 0x1000 present readonly
expect   p0 0x1000 present
swapon   4
pageout  p0 0x1000
expect   p0 0x1000 swapped
expect   p1 0x1000 swapped
expect   p0 0x2000 none
"""


def test_parses_to_state_checks_and_prints_back_canonically() -> None:
    program = parse(SWAP_TOUR)
    checks = [op for op in program.ops() if isinstance(op, StateCheck)]
    assert [(c.proc, c.addr, c.state, c.writable) for c in checks] == [
        ("p0", 0x1000, "none", None),
        ("p0", 0x1000, "present", True),
        ("p1", 0x1000, "present", False),
        ("p0", 0x1000, "present", None),
        ("p0", 0x1000, "swapped", None),
        ("p1", 0x1000, "swapped", None),
        ("p0", 0x2000, "none", None),
    ]
    assert format_program(program) == SWAP_TOUR
    assert parse(format_program(program)) == program


def test_every_check_holds_on_the_spec_and_on_postfix() -> None:
    program = parse(SWAP_TOUR)
    check_ids = [i for i, op in enumerate(program.ops()) if isinstance(op, StateCheck)]
    (outcome,) = spec.run(program)
    assert [outcome.results[i] for i in check_ids] == [HOLDS] * len(check_ids)
    model = impls.run("postfix", program)
    assert [model.results[i] for i in check_ids] == [HOLDS] * len(check_ids)
    assert evaluate(program, "postfix").passed


def test_a_check_that_fails_reports_the_pte_found() -> None:
    program = parse("map p0 0x1000 1 rw\nfault p0 0x1000 write 0x5\nexpect p0 0x1000 swapped\n")
    (outcome,) = spec.run(program)
    assert outcome.results[2] == "present writable"
    assert impls.run("postfix", program).results[2] == "present writable"
    with pytest.raises(SpecError, match=r"line 3: `expect p0 0x1000 swapped` does not hold: "
                       r"the pte is present writable"):
        evaluate(program, "postfix")


def test_in_a_parallel_block_a_check_must_hold_in_every_linearization() -> None:
    racy = parse(
        "map p0 0x1000 1 rw\n"
        "parallel {\n  thread { expect p0 0x1000 none }\n  thread { fault p0 0x1000 read }\n}\n"
    )
    results = {outcome.results[1] for outcome in spec.run(racy)}
    assert results == {HOLDS, "present readonly"}
    with pytest.raises(SpecError, match="line 3"):
        evaluate(racy, "postfix")


def test_a_check_racing_a_migration_waits_for_its_migration_entry() -> None:
    # The schedule stops the migration with its migration entry installed, then runs the check:
    # it must see the pte the migration leaves, not the entry.
    program = parse(
        "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x5\n"
        "parallel {\n  thread { migrate p0 0x1000 1 }\n"
        "  thread { expect p0 0x1000 present writable }\n} schedule " + "0 " * 6 + "1 1 1 1\n"
    )
    outcome = impls.run("postfix", program)
    assert outcome.results[3] == HOLDS
    functions = [step.function for step in outcome.trace if step.thread == 1]
    assert functions.count("state_check") > 3  # it waited, then looked again
    assert evaluate(program, "postfix").passed


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("expect p0 0x1000 presnt\n", "1:18", "unknown pte state 'presnt' (did you mean present?)"),
        ("expect p0 0x1000 swapped writable\n", "1:26", "a swapped pte has no 'writable' mode"),
        ("expect p0 0x1000 present rw\n", "1:26", "unknown mode 'rw'"),
        ("expect p0 0x1000 present writable x\n", "1:35", "unexpected 'x' after the state"),
        ("expect q0 0x1000 none\n", "1:8", "q0 is not a process name"),
        ("expect p0 0x1001 none\n", "1:11", "not a multiple of the page size"),
        ("expect p3 0x1000 none\n", "1:8", "unknown process p3"),
        ("expect p0 0x1000\n", "1:17", "unexpected end of line"),
    ],
)
def test_bad_state_checks_name_line_and_column(text: str, where: str, message: str) -> None:
    with pytest.raises(DslError) as caught:
        parse(text, "t.pte")
    shown = str(caught.value)
    assert f"t.pte:{where}" in shown
    assert message in shown
    assert caught.value.hint
