"""The program rewriting passes of `ptediff.search.simplify`: candidate simpler programs.

Each pass takes the current best program (with the run that shows its divergence) and yields
candidate programs, simplest first; `ptediff.search.simplify` keeps the first that still shows
the same class. Edits keep the interleaving: a block's executed steps (from the model's trace)
are edited along with its threads and become its new explicit schedule.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ptediff.core.outcome import Outcome
from ptediff.core.program import (
    INITIAL_PROC,
    PAGE_SIZE,
    Config,
    Fault,
    Fork,
    Migrate,
    Op,
    Parallel,
    Program,
    Step,
    Swapon,
    Thread,
)
from ptediff.judge.differ import Judgement
from ptediff.search.schedules import witness_schedule
from ptediff.search.strategies import normalize_schedule


@dataclass
class Best:
    """The simplest program so far, with the run that shows its divergence and its judgement."""

    program: Program
    outcome: Outcome
    judgement: Judgement


# ---------------------------------------------------------------------------------------------
# The editable form of a program: op ids and, per block, the executed steps


@dataclass
class _Block:
    threads: list[list[tuple[int, Op]]]  # per thread: (op id in the original, op)
    steps: list[tuple[int, int]]  # executed steps: (thread index, op id)


_Layout = list["tuple[int, Op] | _Block"]


def _layout(program: Program, outcome: Outcome) -> _Layout:
    layout: _Layout = []
    op_id = 0
    block_index = 0
    for step in program.steps:
        if isinstance(step, Parallel):
            threads = []
            for thread in step.threads:
                threads.append([(op_id + i, op) for i, op in enumerate(thread.ops)])
                op_id += len(thread.ops)
            steps = [(s.thread, s.op) for s in outcome.trace if s.block == block_index]
            layout.append(_Block(threads, steps))
            block_index += 1
        else:
            layout.append((op_id, step))
            op_id += 1
    return layout


def _program(base: Program, layout: _Layout) -> Program:
    steps: list[Step] = []
    for item in layout:
        if not isinstance(item, _Block):
            steps.append(item[1])
            continue
        keep = [index for index, ops in enumerate(item.threads) if ops]
        if len(keep) < 2:
            steps.extend(op for index in keep for _, op in item.threads[index])
            continue
        renumber = {old: new for new, old in enumerate(keep)}
        schedule = [renumber[thread] for thread, _ in item.steps if thread in renumber]
        threads = tuple(Thread(tuple(op for _, op in item.threads[i])) for i in keep)
        steps.append(Parallel(threads, normalize_schedule(schedule)))
    return dataclasses.replace(base, steps=tuple(steps))


def _copy(layout: _Layout) -> _Layout:
    return [
        _Block([list(ops) for ops in item.threads], list(item.steps))
        if isinstance(item, _Block)
        else item
        for item in layout
    ]


# ---------------------------------------------------------------------------------------------
# Candidate generators (each yields programs, simplest first)


def without_one_op(best: Best) -> Iterator[Program]:
    """Each operation dropped, the last first. A dropped migration also gets a second try with
    the later migrations' nodes swapped (0 <-> 1): they then still move the page away from
    where it is."""
    layout = _layout(best.program, best.outcome)
    program_ops = best.program.ops()
    for victim in reversed(range(len(program_ops))):
        edited = _copy(layout)
        for index, item in enumerate(edited):
            if isinstance(item, _Block):
                item.threads = [[(i, op) for i, op in ops if i != victim] for ops in item.threads]
                item.steps = [(t, i) for t, i in item.steps if i != victim]
            elif item[0] == victim:
                del edited[index]
                break
        candidate = _program(best.program, edited)
        yield candidate
        if isinstance(program_ops[victim], Migrate) and best.program.config.nodes == 2:
            yield _nodes_swapped_after(candidate, victim)


def _nodes_swapped_after(program: Program, first: int) -> Program:
    """Migrations from op id `first` on move to the other of two nodes."""

    def swap(op_id: int, op: Op, in_block: bool) -> Op:
        if op_id >= first and isinstance(op, Migrate):
            return dataclasses.replace(op, node=1 - op.node)
        return op

    return _map_ops(program, swap)


def sequential(best: Best) -> Iterator[Program]:
    """Every block unpacked (thread order first, then the other orders), then one at a time."""
    layout = _layout(best.program, best.outcome)
    blocks = [index for index, item in enumerate(layout) if isinstance(item, _Block)]
    if not blocks:
        return
    yield _program(best.program, _unpacked(layout, blocks, None))
    for index in blocks:
        block = layout[index]
        assert isinstance(block, _Block)
        for order in itertools.permutations(range(len(block.threads))):
            yield _program(best.program, _unpacked(layout, [index], order))


def _unpacked(layout: _Layout, blocks: list[int], order: tuple[int, ...] | None) -> _Layout:
    result: _Layout = []
    for index, item in enumerate(layout):
        if isinstance(item, _Block) and index in blocks:
            threads = item.threads if order is None else [item.threads[i] for i in order]
            result.extend(op for ops in threads for op in ops)
        else:
            result.append(item)
    return result


def fewer_threads(best: Best) -> Iterator[Program]:
    """Hoist a thread or a thread's end operation out of its block, or merge two threads."""
    layout = _layout(best.program, best.outcome)
    for index, item in enumerate(layout):
        if not isinstance(item, _Block):
            continue
        n = len(item.threads)
        for thread in range(n):
            ops = item.threads[thread]
            yield _program(best.program, _hoisted(layout, index, thread, ops, before=True))
            yield _program(best.program, _hoisted(layout, index, thread, ops, before=False))
        for thread in range(n):
            ops = item.threads[thread]
            if len(ops) > 1:
                yield _program(best.program, _hoisted(layout, index, thread, ops[:1], True))
                yield _program(best.program, _hoisted(layout, index, thread, ops[-1:], False))
        if n > 2:
            for source, target in itertools.permutations(range(n), 2):
                yield _program(best.program, _merged(layout, index, source, target))


def _hoisted(
    layout: _Layout, index: int, thread: int, ops: list[tuple[int, Op]], before: bool
) -> _Layout:
    edited = _copy(layout)
    block = edited[index]
    assert isinstance(block, _Block)
    moved = {op_id for op_id, _ in ops}
    block.threads[thread] = [(i, op) for i, op in block.threads[thread] if i not in moved]
    block.steps = [(t, i) for t, i in block.steps if i not in moved]
    position = index if before else index + 1
    edited[position:position] = list(ops)
    return edited


def _merged(layout: _Layout, index: int, source: int, target: int) -> _Layout:
    """Thread `source`'s operations appended to thread `target`; its steps become target's."""
    edited = _copy(layout)
    block = edited[index]
    assert isinstance(block, _Block)
    block.threads[target] = block.threads[target] + block.threads[source]
    block.threads[source] = []
    block.steps = [(target if t == source else t, i) for t, i in block.steps]
    return edited


def fewer_processes(best: Best) -> Iterator[Program]:
    """A forked process folded into its parent: the fork goes, the child's operations become
    the parent's, and the migrations of parallel blocks become unlocked. A migration under one
    process's mmap_sem racing a fork of another is, once they are one process, a migration
    that holds no mmap_sem racing the fork: what `unlocked` means."""
    program = best.program
    for op_id, op in enumerate(program.ops()):
        if isinstance(op, Fork):
            folded = without_op(program, op_id)
            yield _renamed(folded, {op.child: op.parent}, unlock=True)


def _renamed(program: Program, names: dict[str, str], *, unlock: bool = False) -> Program:
    """Processes renamed; with `unlock`, the migrations in parallel blocks become unlocked."""

    def rewrite(op_id: int, op: Op, in_block: bool) -> Op:
        changes: dict[str, Any] = {
            name: names.get(getattr(op, name), getattr(op, name))
            for name in ("proc", "parent", "child")
            if hasattr(op, name)
        }
        if unlock and in_block and isinstance(op, Migrate):
            changes["unlocked"] = True
        return dataclasses.replace(op, **changes)

    return _map_ops(program, rewrite)


def simpler_ops(best: Best) -> Iterator[Program]:
    """One operation made simpler: one page, a locked migration, one swap slot, no priority."""
    program = best.program
    ops = program.ops()
    for op_id, op in enumerate(ops):
        for simpler in _simpler_forms(op):
            yield _replace_op(program, op_id, simpler)


def _simpler_forms(op: Op) -> list[Op]:
    forms: list[Op] = []
    if getattr(op, "npages", 1) > 1:
        one_page: dict[str, Any] = {"npages": 1}  # a field of some Op subclasses only
        forms.append(dataclasses.replace(op, **one_page))
    if isinstance(op, Migrate) and op.unlocked:
        forms.append(dataclasses.replace(op, unlocked=False))
    if isinstance(op, Swapon) and (op.nslots, op.prio) != (1, None):
        forms.append(dataclasses.replace(op, nslots=1, prio=None))
    return forms


def _replace_op(program: Program, op_id: int, new: Op) -> Program:
    return _map_ops(program, lambda i, op, _: new if i == op_id else op)


def without_op(program: Program, op_id: int) -> Program:
    """`program` without operation `op_id` (a block left with one thread is unpacked)."""
    return _map_ops(program, lambda i, op, _: None if i == op_id else op)


def _map_ops(program: Program, rewrite: Callable[[int, Op, bool], Op | None]) -> Program:
    """Every operation passed through `rewrite(op id, op, in a block)`; None drops it. A block
    left with one thread is unpacked into plain operations."""
    op_ids = itertools.count()
    steps: list[Step] = []
    for step in program.steps:
        if not isinstance(step, Parallel):
            new = rewrite(next(op_ids), step, False)
            steps.extend([new] if new is not None else [])
            continue
        threads = []
        for thread in step.threads:
            ops = [rewrite(next(op_ids), op, True) for op in thread.ops]
            kept = tuple(op for op in ops if op is not None)
            if kept:
                threads.append(Thread(kept))
        if len(threads) >= 2 and len(threads) == len(step.threads):
            steps.append(dataclasses.replace(step, threads=tuple(threads)))
        elif len(threads) >= 2:  # a thread went: its schedule entries no longer mean anything
            steps.append(Parallel(tuple(threads)))
        else:
            steps.extend(op for thread in threads for op in thread.ops)
    return dataclasses.replace(program, steps=tuple(steps))


def simpler_config(best: Best) -> Iterator[Program]:
    """The default configuration, else one setting back to its default."""
    config, default = best.program.config, Config()
    yield dataclasses.replace(best.program, config=default)
    for setting in dataclasses.fields(Config):
        if getattr(config, setting.name) != getattr(default, setting.name):
            value = getattr(default, setting.name)
            yield dataclasses.replace(
                best.program, config=dataclasses.replace(config, **{setting.name: value})
            )


def first_runner_first(best: Best) -> Iterator[Program]:
    """Each block's threads in the order they first run, so the schedule starts with 0."""
    layout = _layout(best.program, best.outcome)
    for item in layout:
        if isinstance(item, _Block):
            ran = list(dict.fromkeys(thread for thread, _ in item.steps))
            order = ran + [t for t in range(len(item.threads)) if t not in ran]
            renumber = {old: new for new, old in enumerate(order)}
            item.threads = [item.threads[old] for old in order]
            item.steps = [(renumber[t], op_id) for t, op_id in item.steps]
    yield _program(best.program, layout)


def witness_schedules(best: Best) -> Iterator[Program]:
    """The shortest schedules that replay the current run."""
    nblocks = len(best.program.blocks())
    yield with_schedules(best.program, witness_schedule(best.outcome.trace, nblocks))


def canonical(best: Best) -> Iterator[Program]:
    """Children renamed p1, p2... in creation order, written values 1, 2..., the lowest
    address at 0x1000."""
    program = best.program
    names: dict[str, str] = {INITIAL_PROC: INITIAL_PROC}
    for op in program.ops():
        if isinstance(op, Fork):
            names[op.child] = f"p{len(names)}"
    addrs = [op.addr for op in program.ops() if hasattr(op, "addr")]
    shift = min(addrs, default=PAGE_SIZE) - PAGE_SIZE
    values = itertools.count(1)

    def rewrite(op_id: int, op: Op, in_block: bool) -> Op:
        changes: dict[str, Any] = {}
        if hasattr(op, "addr"):
            changes["addr"] = op.addr - shift
        if isinstance(op, Fault) and op.write:
            changes["value"] = next(values)
        return dataclasses.replace(op, **changes)

    yield _renamed(_map_ops(program, rewrite), names)


# ---------------------------------------------------------------------------------------------
# Explicit schedules


def with_schedules(program: Program, schedules: tuple[tuple[int, ...], ...]) -> Program:
    """`program` with its parallel blocks' schedules replaced, in block order."""
    replaced = iter(schedules)
    steps = tuple(
        dataclasses.replace(step, schedule=normalize_schedule(next(replaced)))
        if isinstance(step, Parallel)
        else step
        for step in program.steps
    )
    return dataclasses.replace(program, steps=steps)
