"""The AST's basic nodes: source positions, notes, protections, the configuration, and the
`Op` base class every operation derives from (ptediff.core.program re-exports them all)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

PAGE_SIZE = 0x1000

# A result is 0 or a negative errno (system calls), a value read (fault read), a node
# (migrate: move_pages' per-page status), or the name of a signal ("SIGSEGV").
# "BUG" stands for an operation cut short by a kernel BUG (an oops kills the task).
Result = int | str
SIGSEGV = "SIGSEGV"
SIGKILL = "SIGKILL"  # a fault that ran out of memory (VM_FAULT_OOM): the task is killed
BUG = "BUG"


@dataclass(frozen=True, slots=True)
class Pos:
    """Where a node starts in its source text (1-based line and column)."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Notes:
    """Comments and blank lines around a statement, kept by the parser for the printer.

    `before`: the lines between the previous statement's line and this one, in order: a
    comment's text (without `#` and one space), or None for a run of blank lines. `after`: the
    comment at the end of the statement's own line. For a block (thread, parallel) `inner` and
    `close` are the same for its closing `}` line; for a whole program `before` is the layout of
    the leading comments (blank lines included) and `inner` what follows the last statement.
    """

    before: tuple[str | None, ...] = ()
    after: str | None = None
    inner: tuple[str | None, ...] = ()
    close: str | None = None

    def __bool__(self) -> bool:
        return bool(self.before or self.after is not None or self.inner or self.close is not None)

    def comments(self) -> list[str]:
        """Every comment text held, in order."""
        texts = [*self.before, self.after, *self.inner, self.close]
        return [text for text in texts if text is not None]


NO_NOTES = Notes()
# (field name, 10 or 16): how each number of an operation was written; `expect` for its result.
Spelling = tuple[tuple[str, int], ...]


class Prot(StrEnum):
    NONE = "none"
    R = "r"
    RW = "rw"

    @property
    def readable(self) -> bool:
        return self is not Prot.NONE

    @property
    def writable(self) -> bool:
        return self is Prot.RW


@dataclass(frozen=True, slots=True)
class Config:
    """Per-program kernel configuration."""

    swap_bits: int = 5  # MAX_SWAPFILES_SHIFT
    highpte: bool = False  # i386 CONFIG_HIGHPTE: page tables in highmem, pte_offset_map kmaps
    nodes: int = 2  # NUMA nodes


@dataclass(frozen=True)
class Op:
    """One memory-management operation, run by one task of process `proc`."""

    KIND: ClassVar[str] = ""
    expect: Result | None = field(default=None, kw_only=True)  # `=> RESULT`
    pos: Pos | None = field(default=None, compare=False, repr=False, kw_only=True)
    notes: Notes = field(default=NO_NOTES, compare=False, repr=False, kw_only=True)
    spelling: Spelling = field(default=(), compare=False, repr=False, kw_only=True)

    @property
    def procs(self) -> tuple[str, ...]:
        """Processes this operation names (the one that runs it first): its `proc`, if it has
        one; operations naming several (fork) or none (swapon, pin ids) say so themselves."""
        proc = getattr(self, "proc", None)
        return () if proc is None else (proc,)
