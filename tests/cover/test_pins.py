"""Pins: pin / unpin / pinread / pinwrite in the DSL, the spec and the kernel model."""

from __future__ import annotations

import pytest
from dsl_support import assert_dsl_error, drawn_programs
from ptediff import impls, spec
from ptediff.core.outcome import ERRNO
from ptediff.core.program import Pin, Pinread, Pinwrite, Program, Unpin, renumber_pins
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.judge.check import check

EAGAIN, EFAULT, EINVAL = -ERRNO["EAGAIN"], -ERRNO["EFAULT"], -ERRNO["EINVAL"]
PAGE = "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\n"


def run(text: str) -> dict[int, object]:
    """Results of a sequential program on the spec, after checking postfix agrees."""
    program = parse(text)
    (outcome,) = spec.run(program)
    model = impls.run("postfix", program)
    assert model.results == outcome.results
    assert check(program, "postfix").agrees
    return outcome.results


def test_pins_are_numbered_in_program_order_and_print_back() -> None:
    text = (
        "map      p0 0x1000 2 rw\npin      p0 0x1000 write\nparallel {\n"
        "  thread { pin p0 0x2000 }\n  thread { pinread 0 => 0x0 }\n}\n"
        "pinwrite 0 0x5\nunpin    1\n"
    )
    program = parse(text)
    ops = program.ops()
    assert ops[1] == Pin("p0", 0x1000, write=True, id=0)
    assert ops[2] == Pin("p0", 0x2000, id=1)
    assert ops[3:] == [Pinread(0, expect=0), Pinwrite(0, 5), Unpin(1)]
    assert format_program(program) == text


def test_a_write_pin_breaks_cow_and_the_device_writes_the_pinned_page() -> None:
    results = run(PAGE + "fork p0 p1\npin p0 0x1000 write\npinwrite 0 0x2\n"
                  "fault p0 0x1000 read\nfault p1 0x1000 read\nexpect p0 0x1000 present writable\n")
    assert [results[i] for i in (3, 4, 5, 6, 7)] == [0, 0, 2, 1, 0]


def test_a_read_pin_shares_the_page_and_sees_later_writes_of_its_only_mapper() -> None:
    results = run(PAGE + "pin p0 0x1000\nfault p0 0x1000 write 0x3\npinread 0\n")
    assert results[4] == 3


def test_migration_sees_the_pin_and_gives_eagain_until_unpin() -> None:
    results = run(PAGE + "pin p0 0x1000\nmigrate p0 0x1000 1\nunpin 0\nmigrate p0 0x1000 1\n")
    assert [results[i] for i in (3, 4, 5)] == [EAGAIN, 0, 1]


def test_a_pinned_page_survives_munmap_and_reclaim() -> None:
    results = run("swapon 2\n" + PAGE + "pin p0 0x1000 write\npageout p0 0x1000\n"
                  "expect p0 0x1000 swapped\npinwrite 0 0x7\nfault p0 0x1000 read\n"
                  "munmap p0 0x1000 1\npinread 0\nunpin 0\n")
    assert results[7] == 7  # the swap cache page is the pinned one
    assert results[9] == 7 and results[10] == 0


def test_after_fork_the_parents_write_copies_away_from_the_pin() -> None:
    results = run(PAGE + "pin p0 0x1000 write\nfork p0 p1\nfault p0 0x1000 write 0x2\n"
                  "pinread 0\nfault p1 0x1000 read\n")
    assert results[5] == 1 and results[6] == 1


def test_failed_pins_and_read_pins_without_a_page_table() -> None:
    results = run("map p0 0x1000 1 r\npin p0 0x1000 write\npin p0 0x5000\npinread 0\n"
                  "unpin 0\npin p0 0x1000\nexpect p0 0x1000 none\npinread 2\n")
    assert [results[i] for i in (1, 2, 3, 4, 5, 6, 7)] == [EFAULT, EFAULT, EINVAL, EINVAL, 0, 0, 0]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("pinread 0\n", "1:9", "no pin 0 here"),
        (PAGE + "pin p0 0x1000\npinwrite 0 0x1\n", "4:10", "pin 0 is a read pin"),
        (PAGE + "pin p0 0x1000\nunpin 0\nunpin 0\n", "5:7", "pin 0 is already unpinned (line 4)"),
        (PAGE + "parallel {\n  thread { pin p0 0x1000 }\n  thread { pinread 0 }\n}\n", "5:20",
         "pin 0 is made by another thread of this parallel block"),
        (PAGE + "pin p0 0x1000\nparallel {\n  thread { unpin 0 }\n  thread { pinread 0 }\n}\n",
         "6:20", "pin 0 is unpinned by another thread of this parallel block"),
        ("pin p0 0x1001\n", "1:8", "not a multiple of the page size"),
        ("pin p0 0x1000 read\n", "1:15", "unexpected"),
    ],
)
def test_bad_pin_programs_name_line_and_column(text: str, where: str, message: str) -> None:
    assert_dsl_error(text, where, message)


def test_renumber_pins_follows_an_edit_that_drops_a_pin() -> None:
    program = Program((Pin("p0", 0x1000, id=0), Pin("p0", 0x2000, id=1), Pinread(1), Unpin(1)))
    edited = Program(program.steps[1:])
    assert renumber_pins(edited) == Program((Pin("p0", 0x2000, id=0), Pinread(0), Unpin(0)))


def test_the_generator_draws_pins_among_all_kinds() -> None:
    drawn = drawn_programs(500)
    assert any(isinstance(op, Pin) for p in drawn for op in p.ops())
    for program in drawn:
        assert parse(format_program(program)) == program


def test_the_generator_draws_every_pin_operation_validly_in_blocks_too() -> None:
    drawn = drawn_programs(2000, ops={"map", "fault", "fork", "migrate", "pin"})
    kinds = {type(op) for p in drawn for op in p.ops()}
    assert {Pin, Unpin, Pinread, Pinwrite} <= kinds
    threaded = {type(op) for p in drawn for b in p.blocks() for t in b.threads for op in t.ops}
    assert Pin in threaded  # (pins made before a block are used in it: validity checked below)
    for program in drawn:
        assert parse(format_program(program)) == program


def test_a_device_write_through_a_pin_races_the_process_write_both_ways() -> None:
    # pinwrite names no process but writes the page p0 maps: both orders are outcomes (the
    # spec's partial-order reduction must not take them as commuting).
    program = parse(PAGE + "pin p0 0x1000 write\nparallel {\n"
                    "  thread { fault p0 0x1000 write 0x2 }\n  thread { pinwrite 0 0x3 }\n}\n")
    assert {o.state[("p0", 0x1000)].data for o in spec.run(program)} == {2, 3}
