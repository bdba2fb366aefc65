"""The small-scope phase: before hypothesis draws anything, a hunt runs a fixed list of the
shortest programs the DSL's vocabulary allows on one page.

Why: hypothesis's draws are programs of six or so operations over several pages, processes and
parallel blocks, which is what the races and swap cycles need; but a bug that any two- or
three-operation program shows (an mprotect that keeps the write bit, a read fault that maps
the zero page writable, a swapon past the last swap type) is then found only when a draw
happens to be that clean. A uniform random generator of short programs finds those sooner
than the hunt did (docs/benchmarks.md). The small-scope hypothesis (most bugs have a small
witness) says to try the small programs exhaustively first; this is that, at depth one:

* each limit a repeated operation runs into, one past it, in the smallest configuration the
  generator draws (swapons past the last swap type with the smallest swap type field);
* every single operation of the vocabulary, with each of its small parameter values, on page
  0x1000 of p0 after each of the short histories a page can have: mapped read-write and
  written, mapped only, mapped read-only and read, mapped read-write and read (the zero page),
  each followed by a read of the page (a wrong protection or pte shows at the next access);
  and the range operations over two written pages of one mapping;
* on the written page, a parallel block of each operation that replaces ptes by migration
  entries (a migration, locked or not) against each single operation that can race with it;
  the property's race phase explores every schedule of such a block at its preemption bound.

The list is built from the DSL's kinds and parameter values alone, never from known bugs, and
is the same for every seed: about 100 programs, run in the configuration with the most checks
(highpte: page tables are kmapped, so a missing kunmap shows), each simplified like any finding
(the configuration goes back to the default when the bug does not need it). A hunt with a
custom strategy skips the phase: its programs may lie outside what the strategy allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ptediff.core.errors import DslError
from ptediff.core.program import (
    INITIAL_PROC,
    PAGE_SIZE,
    Config,
    Fault,
    Fork,
    Madvise,
    Map,
    Migrate,
    Mlock,
    Mprotect,
    Mremap,
    Munmap,
    Op,
    Pageout,
    Parallel,
    Pin,
    Program,
    Prot,
    Swapon,
    Thread,
)
from ptediff.dsl.validate import validate
from ptediff.search.generation import MPROTECT_PROTS, TABLE_PAGES
from ptediff.search.kind_tables import SWAP_BITS_CHOICES

PAGE = PAGE_SIZE  # the page every small-scope operation acts on (canonical programs start here)
P0 = INITIAL_PROC
CHECKED = Config(highpte=True)  # the configuration with the most checks


def small_scope_programs(nodes: int = 2) -> list[Program]:
    """The phase's programs, in the order they run (duplicates and invalid ones dropped)."""
    config = Config(highpte=CHECKED.highpte, nodes=nodes)
    candidates = [*_limits(nodes), *_single_ops(config, nodes, HISTORIES[:1]),
                  *_races(config, nodes), *_single_ops(config, nodes, HISTORIES[1:]),
                  *_ranges(config)]
    seen: set[Program] = set()
    out = []
    for program in candidates:
        if program in seen:
            continue
        try:
            validate(program)
        except DslError:
            continue
        seen.add(program)
        out.append(program)
    return out


def _limits(nodes: int) -> Iterator[Program]:
    """Swapons one past the last swap type, with the smallest swap type field drawn."""
    bits = min(SWAP_BITS_CHOICES)
    # As the generator's limits focus: 2**bits - 1 swapons are one more than the swap types
    # left beside the migration entries' two.
    yield Program(tuple(Swapon(1) for _ in range(2**bits - 1)),
                  config=Config(swap_bits=bits, nodes=nodes))


# The short histories of page 0x1000 of p0 before the one operation.
HISTORIES: tuple[tuple[Op, ...], ...] = (
    (Map(P0, PAGE, 1, Prot.RW), Fault(P0, PAGE, write=True, value=1)),
    (Map(P0, PAGE, 1, Prot.RW),),
    (Map(P0, PAGE, 1, Prot.R), Fault(P0, PAGE, write=False)),
    (Map(P0, PAGE, 1, Prot.RW), Fault(P0, PAGE, write=False)),
)
# Two written pages of one mapping, for the range operations over both.
TWO_PAGES: tuple[Op, ...] = (
    Map(P0, PAGE, 2, Prot.RW),
    Fault(P0, PAGE, write=True, value=1),
    Fault(P0, 2 * PAGE, write=True, value=2),
)


def _one_op(nodes: int, value: int) -> list[Callable[[], tuple[tuple[Op, ...], Op]]]:
    """(operations that must come first, the operation) for every single operation on the
    page: each kind with each of its small parameter values."""
    other = 1 if nodes >= 2 else 0
    makers: list[Callable[[], tuple[tuple[Op, ...], Op]]] = [
        lambda: ((), Fault(P0, PAGE, write=False)),
        lambda: ((), Fault(P0, PAGE, write=True, value=value)),
        *[(lambda prot=prot: ((), Mprotect(P0, PAGE, 1, prot))) for prot in MPROTECT_PROTS],
        lambda: ((), Migrate(P0, PAGE, other)),
        lambda: ((), Migrate(P0, PAGE, other, unlocked=True)),
        lambda: ((), Fork(P0, "p1")),
        lambda: ((), Munmap(P0, PAGE, 1)),
        lambda: ((), Madvise(P0, PAGE, 1)),
        lambda: ((), Mlock(P0, PAGE, 1)),
        lambda: ((), Pin(P0, PAGE, write=True, id=0)),
        lambda: ((), Pin(P0, PAGE, write=False, id=0)),
        lambda: ((Swapon(1),), Pageout(P0, PAGE)),  # a pageout needs somewhere to swap to
        # mremap to just past the page, and to one page table further (another pte lock)
        *[(lambda gap=gap: ((), Mremap(P0, PAGE, 1, PAGE + (1 + gap) * PAGE)))
          for gap in (0, TABLE_PAGES)],
    ]
    return makers


def _single_ops(
    config: Config, nodes: int, histories: tuple[tuple[Op, ...], ...]
) -> Iterator[Program]:
    for history in histories:
        value = 1 + sum(isinstance(op, Fault) and op.write for op in history)
        for make in _one_op(nodes, value):
            before, op = make()
            yield Program((*before, *history, op, Fault(P0, PAGE, write=False)), config=config)


def _races(config: Config, nodes: int) -> Iterator[Program]:
    """A migration of the written page against each single operation on it, two threads."""
    history = HISTORIES[0]
    other = 1 if nodes >= 2 else 0
    for unlocked in (True, False):
        migrate = Migrate(P0, PAGE, other, unlocked=unlocked)
        for make in _one_op(nodes, 2):
            before, op = make()
            if isinstance(op, Pin | Mlock):  # pins and mlock race as the fault and mprotect do
                continue
            block = Parallel((Thread((migrate,)), Thread((op,))))
            yield Program((*before, *history, block), config=config)


def _ranges(config: Config) -> Iterator[Program]:
    ranges: tuple[Op, ...] = (
        *(Mprotect(P0, PAGE, 2, prot) for prot in MPROTECT_PROTS),
        Munmap(P0, PAGE, 2),
        Madvise(P0, PAGE, 2),
        Mlock(P0, PAGE, 2),
    )
    for op in ranges:
        yield Program((*TWO_PAGES, op), config=config)
