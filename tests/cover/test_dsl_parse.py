"""Parsing `.pte` text into the AST: the two reference examples, positions, comments, results."""

from __future__ import annotations

from pathlib import Path

import pytest
from ptediff.core.errors import DslValidationError
from ptediff.core.program import (
    Config,
    Exit,
    Expect,
    Fault,
    Fork,
    Map,
    Migrate,
    Mprotect,
    Munmap,
    Pageout,
    Parallel,
    Pos,
    Program,
    Prot,
    Swapon,
    Thread,
)
from ptediff.dsl.parse import parse, parse_file
from ptediff.dsl.validate import validate

EXAMPLE_FORK = """\
# Fix 3: COW mappings not write-protected on fork, shown with three processes.
config swap_bits=5 highpte=off nodes=2
expect postfix agrees
expect prefix-cow-fork-write diverges shared-writable

map      p0 0x1000 1 rw              # map PROC ADDR NPAGES PROT   (PROT: none | r | rw)
fault    p0 0x1000 write 0xaa        # fault PROC ADDR write VALUE
fork     p0 p1                       # fork PARENT CHILD           (p0 exists at the start)
parallel {
  thread { migrate p0 0x1000 1 }     # migrate PROC ADDR NODE
  thread { fork p1 p2 }
} schedule 0 0 0 1 1 0 0 1
fault    p2 0x1000 write 0xbb
fault    p1 0x1000 read => 0xaa      # an expected result
"""

EXAMPLE_SWAP = """\
config swap_bits=2
swapon   4                           # swapon NSLOTS [prio=N]
swapon   4 prio=5 => 0
swapon   4 => -EPERM
map      p0 0x2000 2 r
fault    p0 0x2000 write 0x1 => SIGSEGV
mprotect p0 0x2000 2 rw              # mprotect PROC ADDR NPAGES PROT
fault    p0 0x3000 write 0x7
pageout  p0 0x3000                   # reclaim one page to swap
fault    p0 0x3000 read => 0x7
parallel {
  thread {
    migrate p0 0x3000 1
    fault   p0 0x3000 read
  }
  thread { mprotect p0 0x2000 1 r }
}
parallel {
  thread { migrate p0 0x3000 0 unlocked }   # kernel-initiated: holds no mmap_sem
  thread { mprotect p0 0x3000 1 r }
}
munmap   p0 0x2000 1                 # munmap PROC ADDR NPAGES
exit     p0
"""


def test_fork_example_gives_the_expected_ast() -> None:
    program = parse(EXAMPLE_FORK)
    assert program == Program(
        steps=(
            Map("p0", 0x1000, 1, Prot.RW),
            Fault("p0", 0x1000, write=True, value=0xAA),
            Fork("p0", "p1"),
            Parallel(
                (Thread((Migrate("p0", 0x1000, 1),)), Thread((Fork("p1", "p2"),))),
                schedule=(0, 0, 0, 1, 1, 0, 0, 1),
            ),
            Fault("p2", 0x1000, write=True, value=0xBB),
            Fault("p1", 0x1000, write=False, expect=0xAA),
        ),
        config=Config(swap_bits=5, highpte=False, nodes=2),
        expects=(
            Expect("postfix", "agrees"),
            Expect("prefix-cow-fork-write", "diverges", ("shared-writable",)),
        ),
        comments=("Fix 3: COW mappings not write-protected on fork, shown with three processes.",),
    )
    assert program.source == EXAMPLE_FORK


def test_swap_example_gives_the_expected_ast() -> None:
    program = parse(EXAMPLE_SWAP)
    assert program.config == Config(swap_bits=2)
    assert program.comments == ()
    assert program.steps[:3] == (
        Swapon(4),
        Swapon(4, prio=5, expect=0),
        Swapon(4, expect=-1),
    )
    assert program.steps[4] == Fault("p0", 0x2000, write=True, value=1, expect="SIGSEGV")
    assert program.steps[7] == Pageout("p0", 0x3000)
    first_block, second_block = program.blocks()
    assert first_block == Parallel(
        (
            Thread((Migrate("p0", 0x3000, 1), Fault("p0", 0x3000, write=False))),
            Thread((Mprotect("p0", 0x2000, 1, Prot.R),)),
        )
    )
    assert second_block.threads[0].ops == (Migrate("p0", 0x3000, 0, unlocked=True),)
    assert program.steps[-2:] == (Munmap("p0", 0x2000, 1), Exit("p0"))


def test_every_node_carries_its_position() -> None:
    program = parse(EXAMPLE_FORK)
    assert program.expects[1].pos == Pos(4, 1)
    assert program.steps[0].pos == Pos(6, 1)
    block = program.steps[3]
    assert isinstance(block, Parallel)
    assert block.pos == Pos(9, 1)
    assert [thread.pos for thread in block.threads] == [Pos(10, 3), Pos(11, 3)]
    assert block.threads[1].ops[0].pos == Pos(11, 12)
    assert program.steps[-1].pos == Pos(14, 1)


def test_positions_do_not_take_part_in_equality() -> None:
    assert parse("map p0 0x1000 1 rw\n") == parse("\n\n   map   p0 4096 1 rw")


def test_numbers_are_hex_or_decimal() -> None:
    assert parse("map p0 0X1000 16 r").steps == (Map("p0", 0x1000, 16, Prot.R),)
    assert parse("map p0 8192 0x2 r").steps == (Map("p0", 0x2000, 2, Prot.R),)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("0x7", 7),
        ("0", 0),
        ("12", 12),
        ("-EPERM", -1),
        ("- ENOMEM", -12),
        ("-22", -22),
        ("SIGSEGV", "SIGSEGV"),
        ("BUG", "BUG"),
    ],
)
def test_results(written: str, stored: int | str) -> None:
    (op,) = parse(f"fault p0 0x1000 read => {written}").steps
    assert op.expect == stored


def test_swapon_priority_may_be_negative() -> None:
    assert parse("swapon 2 prio=-3").steps == (Swapon(2, prio=-3),)


def test_only_leading_comment_lines_are_kept() -> None:
    program = parse(
        "#!first\n"
        "#   indented\n"
        "\n"
        "#\n"
        "   # second paragraph   \n"
        "map p0 0x1000 1 rw   # trailing: dropped\n"
        "# among the operations: dropped\n"
        "exit p0\n"
    )
    assert program.comments == ("!first", "  indented", "", "second paragraph")


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing to run\n\n# really\n",
                                  "config nodes=3\nexpect postfix agrees\n"])
def test_a_text_without_operations_is_a_validation_error(text: str) -> None:
    # A regression file that runs nothing would pass vacuously (audit defect 13, r12).
    with pytest.raises(DslValidationError, match=r"the file is empty|has no operation") as error:
        parse(text, "empty.pte")
    assert (error.value.filename, error.value.line, error.value.column) == ("empty.pte", 1, 1)


def test_windows_line_ends_are_accepted() -> None:
    assert parse("# c\r\nmap p0 0x1000 1 rw\r\nexit p0\r\n") == Program(
        (Map("p0", 0x1000, 1, Prot.RW), Exit("p0")), comments=("c",)
    )


def test_a_thread_may_hold_several_lines_and_blank_lines() -> None:
    program = parse(
        "parallel {\n\n  thread {\n\n    fault p0 0x1000 read\n    # note\n"
        "    fault p0 0x2000 read\n  }   thread { fault p0 0x3000 read }\n}\n"
    )
    (block,) = program.blocks()
    assert [len(thread.ops) for thread in block.threads] == [2, 1]
    assert block.schedule is None


def test_processes_created_in_a_block_exist_after_it() -> None:
    program = parse(
        "parallel {\n  thread { fork p0 p1 }\n  thread { fork p0 p2 }\n}\nexit p1\nexit p2\n"
    )
    assert program.steps[-1] == Exit("p2")


def test_a_thread_may_use_the_process_it_forked() -> None:
    parse("parallel {\n  thread {\n fork p0 p1\n exit p1\n }\n  thread { fault p0 0x1000 read }\n}")


def test_a_process_exited_in_a_block_is_gone_after_it() -> None:
    with pytest.raises(DslValidationError, match="process p1 has exited"):
        parse(
            "fork p0 p1\nparallel {\n  thread { exit p1 }\n  thread { fault p0 0x1000 read }\n}\n"
            "fault p1 0x1000 read\n"
        )


def test_two_threads_may_not_fork_the_same_name() -> None:
    with pytest.raises(DslValidationError, match="the name p1 is already taken") as caught:
        parse("parallel {\n  thread { fork p0 p1 }\n  thread { fork p0 p1 }\n}\n")
    assert (caught.value.line, caught.value.column) == (3, 20)


def test_nodes_follow_the_config() -> None:
    assert parse("config nodes=4\nmigrate p0 0x1000 3").steps == (Migrate("p0", 0x1000, 3),)
    with pytest.raises(DslValidationError, match="node 1 does not exist"):
        parse("config nodes=1\nmigrate p0 0x1000 1")


def test_class_paths_are_accepted_as_implementations() -> None:
    program = parse("expect mypkg.kernels:MyKernel diverges data kernel-bug:copy_one_pte\nexit p0")
    assert program.expects == (
        Expect("mypkg.kernels:MyKernel", "diverges", ("data", "kernel-bug:copy_one_pte")),
    )


def test_validate_checks_programs_built_in_python() -> None:
    validate(Program((Map("p0", 0x1000, 1, Prot.RW),)))
    with pytest.raises(DslValidationError, match="unknown process p3") as caught:
        validate(Program((Exit("p3"),)))
    assert caught.value.line == 0
    with pytest.raises(DslValidationError, match="swap_bits must be"):
        validate(Program((), config=Config(swap_bits=1)))
    with pytest.raises(DslValidationError, match="at least 2 threads"):
        validate(Program((Parallel((Thread((Exit("p0"),)),)),)))


def test_parse_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "prog.pte"
    path.write_text("map p0 0x1000 1 rw\nexit p9\n", encoding="utf-8")
    with pytest.raises(DslValidationError) as caught:
        parse_file(path)
    assert str(caught.value).startswith(f"{path}:2:6: unknown process p9")
