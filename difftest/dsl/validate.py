"""Whole-program checks of a `.pte` program: `validate(program, source)`.

It checks, in source order, the config, the `expect` lines, every operation's fields and result
(the value rules of `ptediff.dsl.values`), parallel blocks and their schedules, and which
processes exist at each point; the first thing wrong raises a DslValidationError. It works on
parsed programs (errors point at the offending token) and on programs built in Python (errors
point at the operation, or at line 0 when it has no position).

Processes: `p0` exists at the start; `fork PARENT CHILD` creates CHILD; `exit P` retires P. A
name is never reused, even after its process exited. Inside a parallel block the threads run in
any interleaving, so a thread sees the processes alive when the block starts plus the ones it
forks itself; a process another thread of the block creates or exits is off limits to it. After
the block, the processes created by its threads exist and the ones exited are gone.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field, fields

from ptediff.core.errors import DslError
from ptediff.core.program import (
    INITIAL_PROC,
    Config,
    Exit,
    Expect,
    Fork,
    Op,
    Parallel,
    Pinread,
    Pinwrite,
    Pos,
    Program,
    Swapoff,
    Swapon,
    Thread,
    Unpin,
)
from ptediff.dsl.source import Problem, SourceText
from ptediff.dsl.validate_pins import check_pins
from ptediff.dsl.values import (
    FieldProblem,
    check_impl,
    check_op_fields,
    check_result,
    check_signature,
    config_value,
)

PROC_NAME = re.compile(r"p[0-9]+")
PROC_HINT = "processes are named p0, p1, ..."


def validate(program: Program, source: SourceText | None = None) -> None:
    """Raise DslValidationError at the first thing wrong with `program` (in source order)."""
    _Validator(program, source or SourceText()).run()


@dataclass
class _Processes:
    """The process names at one point of the program."""

    live: set[str] = field(default_factory=lambda: {INITIAL_PROC})
    ever: set[str] = field(default_factory=lambda: {INITIAL_PROC})  # names are never reused
    exited_at: dict[str, Pos | None] = field(default_factory=dict)

    def copy(self) -> _Processes:
        return _Processes(set(self.live), set(self.ever), dict(self.exited_at))


class _Layer:
    """A set over a base set that it never changes: what one thread of a block adds and
    removes. Costs what the thread does, not the size of the base (validation stays linear in
    the number of threads even after many forks)."""

    def __init__(self, base: set[str]) -> None:
        self.base = base
        self.added: set[str] = set()
        self.removed: set[str] = set()

    def __contains__(self, name: object) -> bool:
        return name in self.added or (name in self.base and name not in self.removed)

    def __iter__(self) -> Iterator[str]:
        yield from self.added
        yield from (name for name in self.base if name not in self.removed)

    def add(self, name: str) -> None:
        self.removed.discard(name)
        if name not in self.base:
            self.added.add(name)

    def discard(self, name: str) -> None:
        self.added.discard(name)
        if name in self.base:
            self.removed.add(name)


class _ThreadProcesses:
    """The process names as one thread of a block sees them: the block's start plus its own."""

    def __init__(self, start: _Processes) -> None:
        self.live = _Layer(start.live)
        self.ever = _Layer(start.ever)
        self.exited_at: ChainMap[str, Pos | None] = ChainMap({}, start.exited_at)

    @property
    def new_live(self) -> set[str]:
        return self.live.added

    @property
    def gone(self) -> set[str]:
        return self.live.removed

    @property
    def exited_here(self) -> MutableMapping[str, Pos | None]:
        return self.exited_at.maps[0]


@dataclass
class _Block:
    """What the threads of a parallel block do to processes, as seen by thread `index`.

    Built once per block (validation stays linear in the number of threads): per process name
    the threads that fork or exit it, with the positions.
    """

    forks: dict[str, list[tuple[int, Pos | None]]] = field(default_factory=dict)
    exits: dict[str, list[tuple[int, Pos | None]]] = field(default_factory=dict)
    index: int = -1  # the thread looking; -1 outside a block

    def created(self, name: str) -> tuple[bool, Pos | None]:
        """Whether another thread forks `name` (and where: the last such thread)."""
        return _by_other(self.forks.get(name, ()), self.index)

    def exited(self, name: str) -> tuple[bool, Pos | None]:
        return _by_other(self.exits.get(name, ()), self.index)

    def created_earlier(self, name: str) -> bool:
        """Whether a thread written before this one forks `name`."""
        return any(thread < self.index for thread, _ in self.forks.get(name, ()))


def _by_other(entries: Iterable[tuple[int, Pos | None]], index: int) -> tuple[bool, Pos | None]:
    found, where = False, None
    for thread, pos in entries:
        if thread != index:
            found, where = True, pos
    return found, where


class _Validator:
    def __init__(self, program: Program, source: SourceText) -> None:
        self.program = program
        self.source = source

    def fail(self, node: object, part: str | None, problem: Problem) -> DslError:
        return self.source.error(problem.message, self.source.locate(node, part), problem.hint)

    def run(self) -> None:
        self.check_config(self.program.config)
        for comment in self.program.comments:
            if "\n" in comment or "\r" in comment:
                raise self.fail(
                    self.program,
                    None,
                    Problem("a comment line may not contain a line break", "split it in two"),
                )
        self.check_expects(self.program.expects)
        procs = _Processes()
        for step in self.program.steps:
            if isinstance(step, Parallel):
                self.check_parallel(step, procs)
            elif isinstance(step, Op):
                self.check_op(step, procs, _Block())
            else:
                raise self.fail(
                    step,
                    None,
                    Problem(f"{type(step).__name__} is not a step", "steps are Op or Parallel"),
                )
        check_pins(self.program, self.fail)

    def check_config(self, config: Config) -> None:
        for f in fields(Config):
            value = getattr(config, f.name)
            written: int | str = ("on" if value else "off") if isinstance(value, bool) else value
            try:
                config_value(f.name, written)
            except Problem as problem:
                raise self.fail(self.program, None, problem) from None

    def check_expects(self, expects: tuple[Expect, ...]) -> None:
        seen: dict[str, Expect] = {}
        for expect in expects:
            try:
                check_impl(expect.impl)
            except Problem as problem:
                raise self.fail(expect, "impl", problem) from None
            if expect.impl in seen:
                first = seen[expect.impl].pos
                where = f" (first at line {first.line})" if first else ""
                raise self.fail(
                    expect,
                    "impl",
                    Problem(
                        f"a second expect line for {expect.impl}{where}",
                        "one expect line per implementation, listing all its signatures",
                    ),
                )
            seen[expect.impl] = expect
            if expect.verdict not in ("agrees", "diverges"):
                raise self.fail(
                    expect,
                    None,
                    Problem(f"unknown verdict {expect.verdict!r}", "agrees or diverges"),
                )
            if expect.verdict == "agrees" and expect.signatures:
                raise self.fail(
                    expect,
                    None,
                    Problem("agrees with signatures", "signatures follow `diverges` only"),
                )
            for index, signature in enumerate(expect.signatures):
                try:
                    check_signature(signature)
                except Problem as problem:
                    raise self.fail(expect, f"signatures.{index}", problem) from None

    def check_parallel(self, block: Parallel, procs: _Processes) -> None:
        if len(block.threads) < 2:
            raise self.fail(
                block,
                None,
                Problem(
                    f"a parallel block needs at least 2 threads, this one has {len(block.threads)}",
                    "write each operation that runs sequentially outside the block",
                ),
            )
        forks: dict[str, list[tuple[int, Pos | None]]] = {}
        exits: dict[str, list[tuple[int, Pos | None]]] = {}
        for index, thread in enumerate(block.threads):
            for op in getattr(thread, "ops", ()):
                if isinstance(op, Fork):
                    _note(forks, op.child, index, op.pos)
                elif isinstance(op, Exit):
                    _note(exits, op.proc, index, op.pos)
        after = procs.copy()
        for index, thread in enumerate(block.threads):
            if not isinstance(thread, Thread):
                raise self.fail(
                    block, None, Problem("a parallel block holds threads only", "use Thread(...)")
                )
            if not thread.ops:
                raise self.fail(
                    thread,
                    None,
                    Problem("a thread needs at least one operation", "remove the empty thread"),
                )
            others = _Block(forks, exits, index)
            mine = _ThreadProcesses(procs)
            for op in thread.ops:
                if isinstance(op, Parallel):
                    raise self.fail(
                        op,
                        None,
                        Problem("parallel blocks do not nest", "threads hold operations only"),
                    )
                self.check_op(op, mine, others)
            after.live |= mine.new_live
            after.live -= mine.gone
            after.ever |= mine.ever.added
            after.exited_at.update(mine.exited_here)
        procs.live, procs.ever, procs.exited_at = after.live, after.ever, after.exited_at
        for index, entry in enumerate(block.schedule or ()):
            if not isinstance(entry, int) or not 0 <= entry < len(block.threads):
                raise self.fail(
                    block,
                    f"schedule.{index}",
                    Problem(
                        f"the schedule names thread {entry}, but the block has threads "
                        f"0..{len(block.threads) - 1}",
                        "a schedule lists, for each next step, the index of the thread taking it",
                    ),
                )

    def check_op(self, op: Op, procs: _Processes | _ThreadProcesses, block: _Block) -> None:
        self.check_fields(op)
        if op.expect is not None:
            try:
                check_result(op.expect)
            except Problem as problem:
                raise self.fail(op, "expect", problem) from None
        if isinstance(op, Fork):
            self.check_existing(op, "parent", op.parent, procs, block)
            self.check_fresh(op, op.child, procs, block)
            procs.live.add(op.child)
            procs.ever.add(op.child)
        elif isinstance(op, Swapon | Swapoff | Unpin | Pinread | Pinwrite):
            return  # they name no process (pins: ptediff.dsl.validate_pins)
        else:
            name = op.procs[0] if op.procs else ""
            self.check_existing(op, "proc", name, procs, block)
            if isinstance(op, Exit):
                procs.live.discard(name)
                procs.exited_at[name] = op.pos

    def check_existing(
        self, op: Op, part: str, name: str, procs: _Processes | _ThreadProcesses, block: _Block
    ) -> None:
        if not PROC_NAME.fullmatch(name):
            raise self.fail(op, part, Problem(f"{name!r} is not a process name", PROC_HINT))
        exited, exited_at = block.exited(name)
        created, created_at = block.created(name)
        if exited:
            raise self.fail(
                op,
                part,
                Problem(
                    f"process {name} is exited by another thread of this parallel block"
                    + _at_line(exited_at),
                    "a process one thread exits cannot be used by the other threads of the block",
                ),
            )
        if name in procs.live:
            return
        if created:
            raise self.fail(
                op,
                part,
                Problem(
                    f"process {name} is created by another thread of this parallel block"
                    + _at_line(created_at),
                    "a thread can use a process it forks itself; the others can after the block",
                ),
            )
        if name in procs.exited_at:
            raise self.fail(
                op,
                part,
                Problem(
                    f"process {name} has exited" + _at_line(procs.exited_at[name]),
                    "live processes here: " + _names(procs.live),
                ),
            )
        raise self.fail(
            op,
            part,
            Problem(
                f"unknown process {name}",
                f"{INITIAL_PROC} exists at the start and fork creates the others; live here: "
                + _names(procs.live),
            ),
        )

    def check_fresh(
        self, op: Fork, name: str, procs: _Processes | _ThreadProcesses, block: _Block
    ) -> None:
        if not PROC_NAME.fullmatch(name):
            raise self.fail(op, "child", Problem(f"{name!r} is not a process name", PROC_HINT))
        if name in procs.live:
            message = f"process {name} already exists"
        elif name in procs.ever or block.created_earlier(name):
            message = f"the name {name} is already taken"
        else:
            return
        raise self.fail(
            op,
            "child",
            Problem(message, "fork needs a new name; names are never reused, even after exit"),
        )

    def check_fields(self, op: Op) -> None:
        try:
            check_op_fields(op, self.program.config.nodes)
        except FieldProblem as problem:
            raise self.fail(op, problem.part, problem) from None


def _note(table: dict[str, list[tuple[int, Pos | None]]], name: str, thread: int,
          pos: Pos | None) -> None:
    table.setdefault(name, []).append((thread, pos))


def _at_line(pos: Pos | None) -> str:
    return f" (line {pos.line})" if pos is not None else ""


def _names(names: Iterable[str]) -> str:
    ordered = sorted(names, key=lambda name: (len(name), name))
    return ", ".join(ordered) if ordered else "none"


__all__ = ["validate"]
