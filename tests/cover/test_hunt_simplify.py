"""Simplifying a failing program: fewer operations and threads, sequential when possible,
fewest preemptions, canonical names, values and addresses."""

from __future__ import annotations

import pytest
from ptediff import impls
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.search.simplify import simplify

MESSY_COW_RACE = """\
config swap_bits=3
map      p0 0x3000 2 rw
fault    p0 0x3000 write 0x5
swapon   1
parallel {
  thread {
    migrate  p0 0x3000 1 unlocked
    fault    p0 0x4000 read
  }
  thread { fork p0 p4 }
  thread { map p0 0x6000 1 r }
} schedule 0 0 0 0 0 0 1 1 1 1 1 1 1 0 1 0 1
"""

MINIMAL_COW_RACE = """\
map      p0 0x1000 1 rw
fault    p0 0x1000 write 0x1
parallel {
  thread { migrate p0 0x1000 1 unlocked }
  thread { fork p0 p1 }
} schedule 0 0 0 0 0 1 1 1 1 1 1
"""


def test_a_race_keeps_its_block_with_the_fewest_preemptions() -> None:
    kernel = impls.load("prefix-cow-fork-write")
    result = simplify(parse(MESSY_COW_RACE), kernel, "shared-writable")
    assert format_program(result.program) == MINIMAL_COW_RACE
    assert result.preemptions == 1 and result.threads == 2
    assert result.concurrency == "preemptions"
    assert result.judgement.divergence is not None
    assert result.judgement.divergence.primary.cls == "shared-writable"


def test_a_sequential_bug_leaves_its_block() -> None:
    program = parse(
        "config highpte=on swap_bits=3\n"
        "parallel {\n"
        "  thread {\n    map p0 0x2000 1 rw\n    fault p0 0x2000 write 0x7\n  }\n"
        "  thread { swapon 2 prio=3 }\n"
        "} schedule 1 0 1 0\n"
        "migrate p0 0x2000 1 unlocked\n"
    )
    result = simplify(
        program, impls.load("prefix-pte-unmap-arg"), "kmap-leak:remove_migration_pte"
    )
    assert format_program(result.program) == (
        "config highpte=on\n\n"
        "map      p0 0x1000 1 rw\n"
        "fault    p0 0x1000 write 0x1\n"
        "migrate  p0 0x1000 1\n"
    )
    assert result.concurrency == "sequential" and result.preemptions == 0
    assert result.threads == 1


def test_a_program_that_does_not_show_the_class_is_refused() -> None:
    with pytest.raises(ValueError, match="does not show shared-writable on postfix"):
        simplify(parse(MESSY_COW_RACE), impls.load("postfix"), "shared-writable")


def test_a_third_process_folds_into_its_parent_as_an_unlocked_migration() -> None:
    three_processes = parse(
        "map p0 0x1000 1 rw\n"
        "fault p0 0x1000 write 0x1\n"
        "fork p0 p1\n"
        "parallel {\n"
        "  thread { fork p0 p2 }\n"
        "  thread { migrate p1 0x1000 1 }\n"
        "} schedule 0 0 0 0 1 1 1 1 1 1 1 1 1\n"
    )
    kernel = impls.load("prefix-anon-vma-head")
    result = simplify(three_processes, kernel, "orphan-migration-entry")
    assert format_program(result.program) == (
        "map      p0 0x1000 1 rw\n"
        "fault    p0 0x1000 write 0x1\n"
        "parallel {\n"
        "  thread { fork p0 p1 }\n"
        "  thread { migrate p0 0x1000 1 unlocked }\n"
        "} schedule 0 0 0 0 1 1 1 1 1 1 1\n"
    )
    assert result.preemptions == 2
