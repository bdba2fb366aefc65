"""The executed interleaving: one table per parallel block, a column per thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ptediff.core.outcome import TraceStep
from ptediff.core.program import Op, Program
from ptediff.report.blocks import Block, Cell, table
from ptediff.report.operations import describe_op


def timeline_blocks(program: Program, trace: Sequence[TraceStep]) -> list[Block]:
    """One table per parallel block: a row per run of steps, a column per thread.

    Consecutive steps of one thread in one kernel function collapse into one row (`3-5`), the
    first step of each operation names the operation, and a step that switches away from a
    thread that could still run is marked as a preemption: that is what a reader looks for.
    """
    ops = program.ops()
    parallels = program.blocks()
    out: list[Block] = []
    for block_index in sorted({step.block for step in trace}):
        steps = [s for s in trace if s.block == block_index]
        nthreads = (
            len(parallels[block_index].threads)
            if block_index < len(parallels)
            else max(s.thread for s in steps) + 1
        )
        rows = [
            _timeline_row(run, nthreads, ops, first_of_op)
            for run, first_of_op in _collapse(steps)
        ]
        schedule = " ".join(str(s.thread) for s in steps)
        out.append(
            table(
                ("step", *(f"thread {t}" for t in range(nthreads)), "switch"),
                rows,
                title=f"parallel block {block_index} (executed schedule {schedule})",
            )
        )
    return out


@dataclass(frozen=True)
class _Run:
    first: int  # step index within the block
    last: int
    step: TraceStep
    preempts: int | None  # the still-runnable thread this run switched away from


def _collapse(steps: Sequence[TraceStep]) -> list[tuple[_Run, bool]]:
    runs: list[tuple[_Run, bool]] = []
    seen_ops: set[int] = set()
    previous: TraceStep | None = None
    for index, step in enumerate(steps):
        preempts = (
            previous.thread
            if previous is not None
            and previous.thread != step.thread
            and previous.thread in step.runnable
            else None
        )
        same = (
            runs
            and previous is not None
            and (previous.thread, previous.op, previous.function)
            == (step.thread, step.op, step.function)
        )
        if same:
            run, first_of_op = runs[-1]
            runs[-1] = (_Run(run.first, index, run.step, run.preempts), first_of_op)
        else:
            runs.append((_Run(index, index, step, preempts), step.op not in seen_ops))
        seen_ops.add(step.op)
        previous = step
    return runs


def _timeline_row(run: _Run, nthreads: int, ops: Sequence[Op], first_of_op: bool) -> list[Cell]:
    steps = str(run.first) if run.first == run.last else f"{run.first}-{run.last}"
    cell = run.step.function
    if first_of_op:
        cell = f"{describe_op(ops, run.step.op)}: {cell}"
    row: list[Cell] = [steps, *("" for _ in range(nthreads))]
    row[1 + run.step.thread] = cell
    row.append(f"preempts thread {run.preempts}" if run.preempts is not None else "")
    return row
