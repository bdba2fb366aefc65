"""madvise PROC ADDR NPAGES dontneed: DSL, spec rule, kernel model, generator."""

from __future__ import annotations

import pytest
from dsl_support import assert_dsl_error, drawn_programs
from ptediff import impls, spec
from ptediff.core.outcome import ERRNO, NONE_PTE
from ptediff.core.program import Madvise
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.judge.check import check

ENOMEM = -ERRNO["ENOMEM"]
EINVAL = -ERRNO["EINVAL"]

BASE = (
    "swapon   2\nmap      p0 0x1000 3 rw\nfault    p0 0x1000 write 0x1\n"
    "fault    p0 0x2000 write 0x2\npageout  p0 0x2000\n"
)


def both(text: str) -> tuple[dict, dict]:
    """(spec outcome, postfix outcome) of a sequential program: results and final state."""
    program = parse(text)
    (allowed,) = spec.run(program)
    model = impls.run("postfix", program)
    assert check(program, "postfix").agrees
    return allowed.results, model.state


def test_parses_and_prints_back() -> None:
    text = "map      p0 0x1000 2 rw\nmadvise  p0 0x1000 2 dontneed => 0\n"
    program = parse(text)
    assert program.ops()[1] == Madvise("p0", 0x1000, 2, "dontneed", expect=0)
    assert format_program(program) == text


def test_dontneed_drops_present_and_swap_ptes_and_keeps_the_vma() -> None:
    results, state = both(BASE + "madvise p0 0x1000 3 dontneed\n")
    assert results[5] == 0
    assert [state[("p0", a)] for a in (0x1000, 0x2000, 0x3000)] == [NONE_PTE] * 3
    results, _ = both(BASE + "madvise p0 0x1000 1 dontneed\nfault p0 0x1000 read\n"
                      "fault p0 0x2000 read\n")
    assert (results[6], results[7]) == (0, 2)  # zero-fill on demand; the swapped page stays


def test_the_swap_slot_is_released() -> None:
    # swapon 1: the only slot is free again after the swap pte is zapped, so a second pageout
    # can use it.
    text = ("swapon 1\nmap p0 0x1000 2 rw\nfault p0 0x1000 write 0x1\npageout p0 0x1000\n"
            "madvise p0 0x1000 1 dontneed\nfault p0 0x2000 write 0x2\npageout p0 0x2000\n"
            "expect p0 0x2000 swapped\n")
    results, state = both(text)
    assert state[("p0", 0x2000)].kind == "swap"
    assert results[7] == 0


def test_a_page_shared_with_a_child_stays_the_childs() -> None:
    results, state = both(BASE + "fork p0 p1\nmadvise p0 0x1000 2 dontneed\n"
                          "fault p1 0x1000 read\nfault p1 0x2000 read\n")
    assert (results[7], results[8]) == (1, 2)
    assert state[("p0", 0x1000)] == NONE_PTE and state[("p1", 0x1000)].kind == "present"


def test_a_hole_does_not_stop_the_walk_but_gives_enomem() -> None:
    text = ("map p0 0x1000 1 rw\nmap p0 0x3000 1 rw\nfault p0 0x1000 write 0x1\n"
            "fault p0 0x3000 write 0x3\nmadvise p0 0x1000 3 dontneed\n")
    results, state = both(text)
    assert results[4] == ENOMEM
    assert state[("p0", 0x1000)] == NONE_PTE and state[("p0", 0x3000)] == NONE_PTE
    results, _ = both("madvise p0 0x1000 1 dontneed\n")
    assert results[0] == ENOMEM


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("madvise p0 0x1000 1 dontned\n", "1:21", "unknown advice 'dontned' (did you mean"),
        ("madvise p0 0x1000 1 pageout\n", "1:21", "unknown advice 'pageout'"),
        ("madvise p0 0x1001 1 dontneed\n", "1:12", "not a multiple of the page size"),
        ("madvise p0 0x1000 0 dontneed\n", "1:19", "the page count must be in 1..4096"),
        ("madvise p0 0x1000 1\n", "1:20", "unexpected end of line"),
    ],
)
def test_bad_madvise_names_line_and_column(text: str, where: str, message: str) -> None:
    assert_dsl_error(text, where, message)


def test_the_generator_draws_madvise_at_top_level_and_in_threads() -> None:
    drawn = drawn_programs()
    top = [op for p in drawn for op in p.steps if isinstance(op, Madvise)]
    threaded = [
        op
        for p in drawn
        for block in p.blocks()
        for thread in block.threads
        for op in thread.ops
        if isinstance(op, Madvise)
    ]
    assert top and threaded
    for program in drawn:
        assert parse(format_program(program)) == program
