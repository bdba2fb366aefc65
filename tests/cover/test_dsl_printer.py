"""The canonical text the printer writes."""

from __future__ import annotations

from pathlib import Path

from ptediff.core.program import (
    Config,
    Expect,
    Fault,
    Fork,
    Map,
    Migrate,
    Parallel,
    Program,
    Prot,
    Swapon,
    Thread,
)
from ptediff.dsl.parse import parse, parse_file
from ptediff.dsl.printer import format_config, format_op, format_program

REGRESSIONS = Path(__file__).parents[1] / "regressions"


def test_fork_example_canonical_text() -> None:
    assert format_program(parse_file(REGRESSIONS / "example-fork.pte"), notes=False) == (
        "# Fix 3: COW mappings not write-protected on fork, shown with three processes.\n"
        "# (The DSL reference example; its schedule lets the migration unmap both ptes before p1 "
        "forks.)\n"
        "expect postfix agrees\n"
        "expect prefix-cow-fork-write diverges shared-writable\n"
        "\n"
        "map      p0 0x1000 1 rw\n"
        "fault    p0 0x1000 write 0xaa\n"
        "fork     p0 p1\n"
        "parallel {\n"
        "  thread { migrate p0 0x1000 1 }\n"
        "  thread { fork p1 p2 }\n"
        "} schedule 0 0 0 0 0 1 1 1 1 1 1 1 1\n"
        "fault    p2 0x1000 write 0xbb\n"
        "fault    p1 0x1000 read => 0xaa\n"
    )


def test_swap_example_canonical_text() -> None:
    text = format_program(parse_file(REGRESSIONS / "example-swap.pte"), notes=False)
    assert "config swap_bits=2\n\nswapon   4\nswapon   4 prio=5 => 0\n" in text
    assert (
        "parallel {\n"
        "  thread {\n"
        "    migrate  p0 0x3000 1\n"
        "    fault    p0 0x3000 read\n"
        "  }\n"
        "  thread { mprotect p0 0x2000 1 r }\n"
        "}\n"
    ) in text
    assert "  thread { migrate p0 0x3000 0 unlocked }\n" in text
    assert text.endswith("munmap   p0 0x2000 1\nexit     p0\n")


def test_config_line_names_only_what_differs_from_the_defaults() -> None:
    assert format_config(Config()) == ""
    assert format_config(Config(highpte=True, nodes=3)) == "config highpte=on nodes=3"
    assert format_program(Program((), config=Config(swap_bits=5))) == ""


def test_format_op() -> None:
    assert (
        format_op(Fault("p1", 0x2000, write=False, expect=0xAB)) == "fault p1 0x2000 read => 0xab"
    )
    assert format_op(Fault("p1", 0x2000, write=True, value=255, expect=0)) == (
        "fault p1 0x2000 write 0xff => 0"
    )
    assert format_op(Fault("p1", 0x2000, write=False, expect=-14)) == (
        "fault p1 0x2000 read => -EFAULT"
    )
    assert (
        format_op(Map("p0", 0x1000, 2, Prot.NONE, expect=-17)) == "map p0 0x1000 2 none => -EEXIST"
    )
    assert format_op(Migrate("p0", 0x1000, 1, unlocked=True, expect=1)) == (
        "migrate p0 0x1000 1 unlocked => 1"
    )
    assert format_op(Swapon(3, prio=-2, expect="BUG")) == "swapon 3 prio=-2 => BUG"
    assert format_op(Swapon(3, expect=0), with_expect=False) == "swapon 3"
    assert format_op(Fork("p0", "p1"), pad=True) == "fork     p0 p1"


def test_empty_comment_and_expect_lines() -> None:
    program = Program(
        (Parallel((Thread((Fork("p0", "p1"),)), Thread((Swapon(1),))), schedule=(1,)),),
        expects=(Expect("prefix", "diverges"),),
        comments=("", "title"),
    )
    assert format_program(program) == (
        "#\n# title\nexpect prefix diverges\n\n"
        "parallel {\n  thread { fork p0 p1 }\n  thread { swapon 1 }\n} schedule 1\n"
    )
    assert parse(format_program(program)) == program
