"""Checks a `.pte` program must pass beyond the grammar, each failing as a DslValidationError.

Two layers:

* value checks (`prot_named`, `config_value`, `result_named`, `errno_result`, ...) turn one
  word or number of the text into its AST value or raise `Problem`; the parser calls them while
  it builds the AST and attaches the token's position;
* `validate(program, source)` checks a whole AST: alignment and ranges, config, results,
  `expect` lines, parallel blocks and schedules, and which processes exist at each point.
  It works on parsed programs (errors point at the offending token) and on programs built in
  Python (errors point at the operation, or at line 0 when it has no position).

Processes: `p0` exists at the start; `fork PARENT CHILD` creates CHILD; `exit P` retires P. A
name is never reused, even after its process exited. Inside a parallel block the threads run in
any interleaving, so a thread sees the processes alive when the block starts plus the ones it
forks itself; a process another thread of the block creates or exits is off limits to it. After
the block, the processes created by its threads exist and the ones exited are gone.

Limits (repeated in ptediff.dsl.parse's summary of the language): swap_bits 2..8, nodes 1..64,
npages 1..4096, addresses below 2**47 (the x86-64 user address space), written values below
2**64, swapon 0..65536 slots, prio -32768..32767.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

from ptediff.core.errors import DslError, DslSyntaxError, DslValidationError
from ptediff.core.outcome import ERRNO, ERRNO_NAME
from ptediff.core.program import (
    BUG,
    INITIAL_PROC,
    OP_KINDS,
    PAGE_SIZE,
    SIGSEGV,
    Config,
    Exit,
    Expect,
    Fault,
    Fork,
    Map,
    Migrate,
    Mprotect,
    Munmap,
    Op,
    Pageout,
    Parallel,
    Pos,
    Program,
    Prot,
    Result,
    Swapon,
    Thread,
)

SWAP_BITS_RANGE = range(2, 9)
NODES_RANGE = range(1, 65)
MAX_NPAGES = 4096
ADDRESS_LIMIT = 1 << 47
VALUE_LIMIT = 1 << 64
MAX_NSLOTS = 1 << 16
PRIO_RANGE = range(-32768, 32768)
ON_OFF = {"on": True, "off": False}

# Used when `impls` has no REGISTRY yet: the names docs/design.md promises.
DOCUMENTED_IMPLS = (
    "postfix",
    "prefix",
    "prefix-anon-vma-head",
    "prefix-pte-unmap-arg",
    "prefix-cow-fork-write",
    "prefix-swapon-range",
)
# Signature classes whose part after the colon is checked (the rest are the differ's business).
RESULT_SIGNATURE_PREFIX = "result"
CLASS_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")
PROC_NAME = re.compile(r"p[0-9]+")
PROC_HINT = "processes are named p0, p1, ..."


class Problem(Exception):
    """A value the program may not contain; the caller knows where it is."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class SourceText:
    """Where a program came from, to point errors at the right line and column.

    `positions` maps `id(node)` to the position of each of its fields (and "schedule.N" for
    a schedule's entries), filled in by the parser; nodes absent from it fall back to their
    own `pos`.
    """

    filename: str = "<string>"
    text: str | None = None
    positions: dict[int, dict[str, Pos]] = field(default_factory=dict)

    def line(self, number: int) -> str | None:
        if self.text is None or number < 1:
            return None
        lines = self.text.split("\n")  # as the grammar counts lines
        return lines[number - 1].rstrip("\r") if number <= len(lines) else None

    def locate(self, node: object, part: str | None = None) -> Pos | None:
        if part is not None:
            found = self.positions.get(id(node), {}).get(part)
            if found is not None:
                return found
        return getattr(node, "pos", None)

    def error(
        self,
        message: str,
        pos: Pos | None,
        hint: str | None = None,
        *,
        kind: type[DslError] = DslValidationError,
    ) -> DslError:
        line, column = (pos.line, pos.column) if pos is not None else (0, 0)
        return kind(
            message,
            filename=self.filename,
            line=line,
            column=column,
            source_line=self.line(line),
            hint=hint,
        )

    def syntax_error(self, message: str, pos: Pos, hint: str | None) -> DslSyntaxError:
        error = self.error(message, pos, hint, kind=DslSyntaxError)
        assert isinstance(error, DslSyntaxError)
        return error


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' when a choice is close to `word`, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def one_of(choices: Sequence[str]) -> str:
    """'a, b or c'."""
    if len(choices) <= 1:
        return "".join(choices)
    return ", ".join(choices[:-1]) + " or " + choices[-1]


# ---- value checks: one word or number of the text ----------------------------------------


def prot_named(word: str) -> Prot:
    try:
        return Prot(word)
    except ValueError:
        names = [p.value for p in Prot]
        raise Problem(
            f"unknown protection {word!r}{did_you_mean(word, names)}",
            f"a protection is one of {one_of(names)}",
        ) from None


CONFIG_HINT = (
    f"config keys: swap_bits={SWAP_BITS_RANGE.start}..{SWAP_BITS_RANGE.stop - 1}, "
    f"highpte=on|off, nodes={NODES_RANGE.start}..{NODES_RANGE.stop - 1}"
)


def config_value(key: str, value: int | str) -> int | bool:
    """The Config field value for `key=value` as written (a number or a word)."""
    if key == "highpte":
        if isinstance(value, str) and value in ON_OFF:
            return ON_OFF[value]
        raise Problem(f"highpte must be on or off, not {value!r}", CONFIG_HINT)
    bounds = {"swap_bits": SWAP_BITS_RANGE, "nodes": NODES_RANGE}.get(key)
    if bounds is None:
        keys = [f.name for f in fields(Config)]
        raise Problem(f"unknown config key {key!r}{did_you_mean(key, keys)}", CONFIG_HINT)
    if not isinstance(value, int) or value not in bounds:
        raise Problem(
            f"{key} must be a number in {bounds.start}..{bounds.stop - 1}, not {value!r}",
            CONFIG_HINT,
        )
    return value


RESULT_HINT = (
    "a result is a number (a value read, 0, a node), -ERRNO, SIGSEGV or BUG; errno names: "
    + ", ".join(ERRNO)
)


def result_named(word: str) -> str:
    """`=> SIGSEGV` or `=> BUG`."""
    if word in (SIGSEGV, BUG):
        return word
    if word in ERRNO:
        raise Problem(f"unknown result {word!r}: write an errno as -{word}", RESULT_HINT)
    raise Problem(
        f"unknown result {word!r}{did_you_mean(word, [SIGSEGV, BUG, *ERRNO])}", RESULT_HINT
    )


def errno_result(word: str) -> int:
    """`=> -ENAME`."""
    if word not in ERRNO:
        raise Problem(
            f"unknown errno name {word!r}{did_you_mean(word, ERRNO)}",
            "errno names: " + ", ".join(ERRNO),
        )
    return -ERRNO[word]


def check_result(result: Result) -> None:
    if isinstance(result, str):
        result_named(result)
    elif isinstance(result, bool) or not isinstance(result, int):
        raise Problem(f"a result must be a number or a name, not {result!r}", RESULT_HINT)
    elif result < 0 and -result not in ERRNO_NAME:
        raise Problem(f"{result} is not a known -errno", RESULT_HINT)


def registered_impls() -> tuple[str, ...]:
    """The names `expect` lines may use: impls.REGISTRY, or the documented names until it exists."""
    try:
        from ptediff.impls import REGISTRY  # type: ignore[attr-defined]
    except ImportError:
        return DOCUMENTED_IMPLS
    return tuple(REGISTRY)


def check_impl(name: str) -> None:
    if ":" in name:
        if not CLASS_PATH.fullmatch(name):
            raise Problem(
                f"{name!r} is not a package.module:Class path",
                "write a class path like mypkg.kernels:MyKernel",
            )
        return
    known = registered_impls()
    if name not in known:
        raise Problem(
            f"unknown implementation {name!r}{did_you_mean(name, known)}",
            "registered implementations: " + ", ".join(known) + "; or a package.module:Class path",
        )


def check_signature(signature: str) -> None:
    prefix, colon, detail = signature.partition(":")
    if colon and prefix == RESULT_SIGNATURE_PREFIX and detail not in OP_KINDS:
        raise Problem(
            f"{signature!r} names no operation{did_you_mean(detail, OP_KINDS)}",
            "result signatures are result:<op>, with <op> one of " + ", ".join(OP_KINDS),
        )
    if colon and not detail:
        raise Problem(
            f"signature {signature!r} has nothing after the colon",
            "e.g. kernel-bug:migration_entry_to_page or invariant:I6",
        )


# ---- whole-program checks ---------------------------------------------------------------


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


@dataclass
class _Block:
    """What the other threads of a parallel block do to processes, as seen by one thread."""

    created: dict[str, Pos | None] = field(default_factory=dict)
    created_earlier: set[str] = field(default_factory=set)  # by threads written before this one
    exited: dict[str, Pos | None] = field(default_factory=dict)


class _Validator:
    def __init__(self, program: Program, source: SourceText) -> None:
        self.program = program
        self.source = source

    def fail(self, node: object, part: str | None, problem: Problem) -> DslError:
        return self.source.error(problem.message, self.source.locate(node, part), problem.hint)

    def run(self) -> None:
        self.check_config(self.program.config)
        for comment in self.program.comments:
            if "\n" in comment:
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
        forks_by_thread = [
            {op.child: op.pos for op in thread.ops if isinstance(op, Fork)}
            for thread in block.threads
        ]
        exits_by_thread = [
            {op.proc: op.pos for op in thread.ops if isinstance(op, Exit)}
            for thread in block.threads
        ]
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
            others = _Block()
            for other in range(len(block.threads)):
                if other != index:
                    others.created.update(forks_by_thread[other])
                    others.exited.update(exits_by_thread[other])
                if other < index:
                    others.created_earlier.update(forks_by_thread[other])
            mine = procs.copy()
            for op in thread.ops:
                if isinstance(op, Parallel):
                    raise self.fail(
                        op,
                        None,
                        Problem("parallel blocks do not nest", "threads hold operations only"),
                    )
                self.check_op(op, mine, others)
            after.live |= mine.live - procs.live
            after.live -= procs.live - mine.live
            after.ever |= mine.ever
            after.exited_at.update(mine.exited_at)
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

    def check_op(self, op: Op, procs: _Processes, block: _Block) -> None:
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
        elif isinstance(op, Swapon):
            return
        else:
            name = op.procs[0] if op.procs else ""
            self.check_existing(op, "proc", name, procs, block)
            if isinstance(op, Exit):
                procs.live.discard(name)
                procs.exited_at[name] = op.pos

    def check_existing(
        self, op: Op, part: str, name: str, procs: _Processes, block: _Block
    ) -> None:
        if not PROC_NAME.fullmatch(name):
            raise self.fail(op, part, Problem(f"{name!r} is not a process name", PROC_HINT))
        if name in block.exited:
            raise self.fail(
                op,
                part,
                Problem(
                    f"process {name} is exited by another thread of this parallel block"
                    + _at_line(block.exited[name]),
                    "a process one thread exits cannot be used by the other threads of the block",
                ),
            )
        if name in procs.live:
            return
        if name in block.created:
            raise self.fail(
                op,
                part,
                Problem(
                    f"process {name} is created by another thread of this parallel block"
                    + _at_line(block.created[name]),
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

    def check_fresh(self, op: Fork, name: str, procs: _Processes, block: _Block) -> None:
        if not PROC_NAME.fullmatch(name):
            raise self.fail(op, "child", Problem(f"{name!r} is not a process name", PROC_HINT))
        if name in procs.live:
            message = f"process {name} already exists"
        elif name in procs.ever or name in block.created_earlier:
            message = f"the name {name} is already taken"
        else:
            return
        raise self.fail(
            op,
            "child",
            Problem(message, "fork needs a new name; names are never reused, even after exit"),
        )

    def check_fields(self, op: Op) -> None:
        def need(ok: bool, part: str, message: str, hint: str) -> None:
            if not ok:
                raise self.fail(op, part, Problem(message, hint))

        if isinstance(op, Map | Munmap | Mprotect | Fault | Migrate | Pageout):
            addr = op.addr
            need(
                isinstance(addr, int) and addr >= 0 and addr % PAGE_SIZE == 0,
                "addr",
                f"address {_hex(addr)} is not a multiple of the page size",
                f"pages are {PAGE_SIZE:#x} bytes: try {_hex(addr - addr % PAGE_SIZE)}"
                if isinstance(addr, int) and addr > 0
                else f"addresses are multiples of {PAGE_SIZE:#x}",
            )
            need(
                addr < ADDRESS_LIMIT,
                "addr",
                f"address {_hex(addr)} is beyond the user address space",
                f"addresses are below {ADDRESS_LIMIT:#x}",
            )
        if isinstance(op, Map):
            need(op.addr != 0, "addr", "address 0 cannot be mapped", "map at 0x1000 or above")
        if isinstance(op, Map | Munmap | Mprotect):
            need(
                isinstance(op.npages, int) and 1 <= op.npages <= MAX_NPAGES,
                "npages",
                f"the page count must be in 1..{MAX_NPAGES}, not {op.npages}",
                f"NPAGES counts pages of {PAGE_SIZE:#x} bytes",
            )
            need(
                op.addr + op.npages * PAGE_SIZE <= ADDRESS_LIMIT,
                "npages",
                "the range ends beyond the user address space",
                f"addresses are below {ADDRESS_LIMIT:#x}",
            )
        if isinstance(op, Map | Mprotect):
            need(
                isinstance(op.prot, Prot),
                "prot",
                f"unknown protection {op.prot!r}",
                "a protection is one of none, r or rw",
            )
        if isinstance(op, Fault):
            need(
                isinstance(op.value, int) and 0 <= op.value < VALUE_LIMIT,
                "value",
                f"a written value must be in 0..{VALUE_LIMIT - 1:#x}",
                "a value is one 64-bit word",
            )
            need(
                op.write or op.value == 0,
                "value",
                "a read fault carries no value",
                "build it as Fault(proc, addr, write=False)",
            )
        if isinstance(op, Migrate):
            nodes = self.program.config.nodes
            need(
                isinstance(op.node, int) and 0 <= op.node < nodes,
                "node",
                f"node {op.node} does not exist: the config has {nodes} node"
                + ("s" if nodes != 1 else ""),
                f"nodes are 0..{nodes - 1}; `config nodes=N` sets the count",
            )
        if isinstance(op, Swapon):
            need(
                isinstance(op.nslots, int) and 0 <= op.nslots <= MAX_NSLOTS,
                "nslots",
                f"the slot count must be in 0..{MAX_NSLOTS}, not {op.nslots}",
                "NSLOTS counts usable slots; 0 makes swapon fail with -EINVAL",
            )
            need(
                op.prio is None or op.prio in PRIO_RANGE,
                "prio",
                f"prio must be in {PRIO_RANGE.start}..{PRIO_RANGE.stop - 1}",
                "a swap priority is a 16-bit number",
            )


def _hex(value: object) -> str:
    return hex(value) if isinstance(value, int) else repr(value)


def _at_line(pos: Pos | None) -> str:
    return f" (line {pos.line})" if pos is not None else ""


def _names(names: Iterable[str]) -> str:
    ordered = sorted(names, key=lambda name: (len(name), name))
    return ", ".join(ordered) if ordered else "none"


__all__ = [
    "Problem",
    "SourceText",
    "check_impl",
    "check_result",
    "check_signature",
    "config_value",
    "errno_result",
    "prot_named",
    "registered_impls",
    "result_named",
    "validate",
]
