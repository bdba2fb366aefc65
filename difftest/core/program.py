"""The program AST: what a `.pte` file means, shared by the DSL, the spec and the kernel models.

Every node is a frozen dataclass. Source positions ride along for error messages and reports
but never take part in equality, so a parsed program equals a generated or re-parsed one.

Notes (`Notes`, the `notes` field of statements and of the program) and number spellings (the
`spelling` field of operations) record what a person wrote that does not change the meaning:
comments, blank lines, decimal or hex. The parser fills them in and the printer writes them
back (`ptediff fmt` keeps them); like positions, they never take part in equality.

Operation identity: `Program.ops()` lists every operation in program order (a parallel block
contributes thread 0's operations, then thread 1's, ...). An operation's index in that list is
its *op id*; results, bugs and signatures refer to operations by op id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from ptediff.core.node import (
    BUG,
    NO_NOTES,
    PAGE_SIZE,
    SIGKILL,
    SIGSEGV,
    Config,
    Notes,
    Op,
    Pos,
    Prot,
    Result,
    Spelling,
)
from ptediff.core.range_ops import MADVISE_ADVICE, Madvise, Mlock, Mremap, Munlock

# Re-exported: the basic nodes (core.node) and the range operations (core.range_ops) live in
# their own modules, and every user imports them from here.
__all__ = [
    "BUG",
    "MADVISE_ADVICE",
    "NO_NOTES",
    "PAGE_SIZE",
    "SIGKILL",
    "SIGSEGV",
    "Config",
    "Madvise",
    "Mlock",
    "Mremap",
    "Munlock",
    "Notes",
    "Op",
    "Pos",
    "Prot",
    "Result",
    "Spelling",
]


@dataclass(frozen=True)
class Map(Op):
    """mmap(addr, npages pages, prot, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE)."""

    KIND: ClassVar[str] = "map"
    proc: str
    addr: int
    npages: int
    prot: Prot


@dataclass(frozen=True)
class Munmap(Op):
    KIND: ClassVar[str] = "munmap"
    proc: str
    addr: int
    npages: int


@dataclass(frozen=True)
class Mprotect(Op):
    KIND: ClassVar[str] = "mprotect"
    proc: str
    addr: int
    npages: int
    prot: Prot


@dataclass(frozen=True)
class Fault(Op):
    """A user access to one page: a read, or a write of `value` (0 for reads)."""

    KIND: ClassVar[str] = "fault"
    proc: str
    addr: int
    write: bool
    value: int = 0


@dataclass(frozen=True)
class Fork(Op):
    KIND: ClassVar[str] = "fork"
    parent: str
    child: str

    @property
    def procs(self) -> tuple[str, ...]:
        return (self.parent, self.child)


@dataclass(frozen=True)
class Exit(Op):
    KIND: ClassVar[str] = "exit"
    proc: str


@dataclass(frozen=True)
class Migrate(Op):
    """Migrate the page mapped at `addr` in `proc` to `node`.

    `unlocked=False`: move_pages(2) by `proc`, holding its mmap_sem for read.
    `unlocked=True`: kernel-initiated (offlining, compaction): finds the page through `proc`'s
    mapping but holds no mmap_sem while it migrates.
    """

    KIND: ClassVar[str] = "migrate"
    proc: str
    addr: int
    node: int
    unlocked: bool = False


@dataclass(frozen=True)
class Swapon(Op):
    """swapon(2) of a fresh swap area of `nslots` pages, optionally with a priority."""

    KIND: ClassVar[str] = "swapon"
    nslots: int
    prio: int | None = None


@dataclass(frozen=True)
class Pageout(Op):
    """madvise(addr, PAGE_SIZE, MADV_PAGEOUT): reclaim the page mapped there to swap."""

    KIND: ClassVar[str] = "pageout"
    proc: str
    addr: int


@dataclass(frozen=True)
class Pin(Op):
    """get_user_pages() of one page, held as O_DIRECT or vmsplice holds it: a page reference.

    `write`: a write pin (get_user_pages(write=1)), which breaks COW before it takes the page.
    `id`: the pin's number, counting `pin` operations in op-id order from 0 (the parser sets
    it; `unpin`, `pinread` and `pinwrite` name a pin by it).
    """

    KIND: ClassVar[str] = "pin"
    proc: str
    addr: int
    write: bool = False
    id: int = field(default=0, kw_only=True)


@dataclass(frozen=True)
class Unpin(Op):
    """Drop a pin's page reference (put_page after the I/O; a write pin dirties the page)."""

    KIND: ClassVar[str] = "unpin"
    pin: int


@dataclass(frozen=True)
class Pinread(Op):
    """The device reads the pinned page (vmsplice, O_DIRECT write): result is its data."""

    KIND: ClassVar[str] = "pinread"
    pin: int


@dataclass(frozen=True)
class Pinwrite(Op):
    """The device writes `value` into the pinned page (O_DIRECT read); write pins only."""

    KIND: ClassVar[str] = "pinwrite"
    pin: int
    value: int


PIN_OPS = (Unpin, Pinread, Pinwrite)  # operations that name a pin rather than a process


def pin_ids(ops: list[Op]) -> dict[int, int]:
    """Op id -> pin number of every `pin` operation (pins count in op-id order)."""
    pins = [op_id for op_id, op in enumerate(ops) if isinstance(op, Pin)]
    return {op_id: n for n, op_id in enumerate(pins)}


def renumber_pins(program: Program, start: int = 0) -> Program:
    """`program` with its pins numbered start, start+1, ... in op-id order and every reference
    following its pin (an edit that moved or dropped a pin keeps the references meaning the
    same pins; a reference to a dropped pin is left as is, for validation to refuse)."""
    ops = program.ops()
    new_ids = {ops[op_id].id: start + n for op_id, n in pin_ids(ops).items()}  # type: ignore[attr-defined]
    if all(old == new for old, new in new_ids.items()):
        return program

    def renumbered(op: Op) -> Op:
        if isinstance(op, Pin):
            return replace(op, id=new_ids[op.id])
        if isinstance(op, PIN_OPS) and op.pin in new_ids:
            return replace(op, pin=new_ids[op.pin])
        return op

    steps: list[Step] = []
    for step in program.steps:
        if isinstance(step, Parallel):
            threads = tuple(replace(t, ops=tuple(map(renumbered, t.ops))) for t in step.threads)
            steps.append(replace(step, threads=threads))
        else:
            steps.append(renumbered(step))
    return replace(program, steps=tuple(steps))


PteExpect = Literal["present", "swapped", "none"]
HOLDS = 0  # a state check's result when the pte is as expected


@dataclass(frozen=True)
class StateCheck(Op):
    """`expect PROC ADDR present [writable|readonly] | swapped | none`: an assertion on the pte.

    Not a system call: the harness looks at the page table at that point of the program (as
    the kernel selftests do through /proc/PID/pagemap). Its result is HOLDS (0) when the pte is
    as expected, else the pte as found (`state_word`), so the differ compares it like any other
    result and `ptediff.judge.verdict` requires it to hold in every outcome the spec allows.
    `writable`: None checks presence only.
    """

    KIND: ClassVar[str] = "expect"
    proc: str
    addr: int
    state: PteExpect
    writable: bool | None = None

    @property
    def words(self) -> tuple[str, ...]:
        """The state as written: `present writable`, `swapped`, ..."""
        if self.writable is None:
            return (self.state,)
        return (self.state, "writable" if self.writable else "readonly")


def state_word(kind: str, writable: bool = False) -> str:
    """How a state check reports a pte that is not as expected."""
    if kind == "present":
        return "present writable" if writable else "present readonly"
    return {"swap": "swapped", "none": "none"}.get(kind, kind)


def state_check_result(check: StateCheck, kind: str, writable: bool = False) -> Result:
    """HOLDS when a pte of `kind` (present/swap/none/migration) and `writable` meets `check`."""
    found = state_word(kind, writable)
    wanted = " ".join(check.words)
    if found == wanted or (check.writable is None and found.split()[0] == check.state):
        return HOLDS
    return found


OP_KINDS: dict[str, type[Op]] = {
    cls.KIND: cls
    for cls in (Map, Munmap, Mprotect, Fault, Fork, Exit, Migrate, Swapon, Pageout, StateCheck,
                Madvise, Pin, Unpin, Pinread, Pinwrite, Mlock, Munlock, Mremap)
}


@dataclass(frozen=True)
class Thread:
    ops: tuple[Op, ...]
    pos: Pos | None = field(default=None, compare=False, repr=False, kw_only=True)
    notes: Notes = field(default=NO_NOTES, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Parallel:
    """Threads that run interleaved; `schedule` names the thread taking each next step."""

    threads: tuple[Thread, ...]
    schedule: tuple[int, ...] | None = None
    pos: Pos | None = field(default=None, compare=False, repr=False, kw_only=True)
    notes: Notes = field(default=NO_NOTES, compare=False, repr=False, kw_only=True)


Step = Op | Parallel


@dataclass(frozen=True)
class Expect:
    """`expect IMPL agrees` or `expect IMPL diverges [SIGNATURE...]`."""

    impl: str
    verdict: Literal["agrees", "diverges"]
    signatures: tuple[str, ...] = ()
    pos: Pos | None = field(default=None, compare=False, repr=False, kw_only=True)
    notes: Notes = field(default=NO_NOTES, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Program:
    steps: tuple[Step, ...]
    config: Config = Config()  # noqa: RUF009 (a frozen dataclass, from core.node)
    expects: tuple[Expect, ...] = ()
    comments: tuple[str, ...] = ()  # the file's leading comment lines, without "# "
    source: str | None = field(default=None, compare=False, repr=False, kw_only=True)
    notes: Notes = field(default=NO_NOTES, compare=False, repr=False, kw_only=True)
    config_notes: Notes = field(default=NO_NOTES, compare=False, repr=False, kw_only=True)

    def ops(self) -> list[Op]:
        """Every operation in op-id order."""
        return list(iter_ops(self.steps))

    def blocks(self) -> list[Parallel]:
        return [s for s in self.steps if isinstance(s, Parallel)]


def iter_ops(steps: tuple[Step, ...]) -> Iterator[Op]:
    for step in steps:
        if isinstance(step, Parallel):
            for thread in step.threads:
                yield from thread.ops
        else:
            yield step


INITIAL_PROC = "p0"  # the one process that exists when a program starts
