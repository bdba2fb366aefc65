"""ptediff.report.report: block rendering, the interleaving timeline, the divergence tables."""

from __future__ import annotations

import textwrap

from ptediff.core.outcome import Outcome, PteState, TraceStep
from ptediff.dsl.parse import parse
from ptediff.judge.differ import Judgement, PteRow
from ptediff.report.blocks import Heading, Listing, Table, Text, render, table
from ptediff.report.divergence import divergence_blocks, pte_table
from ptediff.report.timeline import timeline_blocks

PROGRAM = parse(
    textwrap.dedent(
        """\
        map      p0 0x1000 1 rw
        fault    p0 0x1000 write 0xaa
        parallel {
          thread { migrate p0 0x1000 1 unlocked }
          thread { fork p0 p1 }
        }
        """
    )
)


def test_plain_rendering_of_every_block_kind() -> None:
    text = render(
        [
            Heading("file.pte"),
            Heading("postfix", level=2),
            Text("a sentence"),
            table(("a", "b"), [[1, None], ["x", "y"]], title="numbers"),
            Listing("map p0 0x1000 1 rw\n\nexit p0\n"),
        ]
    )
    assert text == textwrap.dedent(
        """\
        file.pte
        ========

        postfix
        -------

        a sentence

        numbers:
        a    b
        ---  ---
        1
        x    y

            map p0 0x1000 1 rw

            exit p0
        """
    )


def test_markdown_rendering_escapes_cells_and_fences_listings() -> None:
    text = render(
        [Heading("file.pte"), table(("a",), [["x|y"], ["two\nlines"]]), Listing("exit p0")],
        "markdown",
    )
    assert text == textwrap.dedent(
        """\
        ## file.pte

        | a            |
        |--------------|
        | x\\|y         |
        | two<br>lines |

        ```
        exit p0
        ```
        """
    )


def test_numbers_are_not_reformatted() -> None:
    # tabulate would otherwise right-align and reformat "0x10" or "1.50" cells as numbers
    rendered = render([Table(("v",), (("1.50",), ("0x10",)))])
    assert "1.50" in rendered
    assert "0x10" in rendered


def _step(thread: int, function: str, op: int, runnable: tuple[int, ...]) -> TraceStep:
    return TraceStep(block=0, thread=thread, function=function, op=op, runnable=runnable)


def test_timeline_collapses_runs_names_operations_and_marks_preemptions() -> None:
    trace = [
        _step(0, "sys_move_pages", 2, (0, 1)),
        _step(0, "unmap_and_move", 2, (0, 1)),
        _step(0, "unmap_and_move", 2, (0, 1)),
        _step(1, "dup_mmap", 3, (0, 1)),  # thread 0 could have gone on: a preemption
        _step(1, "dup_mmap", 3, (1,)),
        _step(0, "remove_migration_pte", 2, (0,)),  # thread 1 finished: no preemption
    ]
    [block] = timeline_blocks(PROGRAM, trace)
    assert isinstance(block, Table)
    assert block.title == "parallel block 0 (executed schedule 0 0 0 1 1 0)"
    assert block.headers == ("step", "thread 0", "thread 1", "switch")
    assert block.rows == (
        ("0", "L4 migrate p0 0x1000 1 unlocked: sys_move_pages", "", ""),
        ("1-2", "unmap_and_move", "", ""),
        ("3-4", "", "L5 fork p0 p1: dup_mmap", "preempts thread 0"),
        ("5", "remove_migration_pte", "", ""),
    )


def test_timeline_of_a_sequential_run_is_empty() -> None:
    assert timeline_blocks(PROGRAM, []) == []


def test_pte_table_puts_both_sides_next_to_each_other_and_marks_differences() -> None:
    row = PteRow(
        key=("p0", 0x1000),
        spec=PteState("present", writable=False, frame=7, node=1, data=0xAA),
        model=PteState("present", writable=True, frame=9, node=1, data=0xBB),
        spec_frame="P0",
        model_frame="P0",
        fields=("writable", "sharing", "data"),
    )
    missing = PteRow(("p1", 0x2000), None, PteState("migration", frame=3), None, "P1", ("kind",))
    rendered = pte_table([row, missing], "prefix")
    assert rendered.headers[:2] == ("process", "address")
    assert rendered.headers[2:8] == tuple(
        f"spec {f}" for f in ("kind", "writable", "frame", "node", "data", "swap")
    )
    assert rendered.headers[8:] == tuple(
        f"impl {f}" for f in ("kind", "writable", "frame", "node", "data", "swap")
    )
    assert rendered.rows[0] == (
        "p0", "0x1000", "present", "no", "P0", 1, "0xaa", None,
        "present", "yes*", "P0*", 1, "0xbb*", None,
    )
    # a differing kind marks every field of the implementation's side
    assert rendered.rows[1][2] == "-"
    assert rendered.rows[1][8:] == ("migration*", "no*", "P1*", "-*", "-*", "-*")
    assert "impl = prefix" in (rendered.title or "")


def test_an_agreeing_judgement_names_its_allowances() -> None:
    judgement = Judgement(Outcome(), None, frozenset({"migrate-busy"}), Outcome())
    [block] = divergence_blocks(PROGRAM, judgement, "postfix")
    assert block == Text("postfix agrees with the spec (using the allowance migrate-busy).")
