"""Deterministic sequential programs of a chosen length, for the scaling benchmark.

A fixed-seed mix of the everyday operations over a bounded address space, so that a longer
program is more of the same work, not a bigger world: SPACE_PAGES pages, at most MAX_PROCS live
processes (a fork at the limit becomes an exit of the youngest child), one swap area large
enough for every pageout. The generator keeps track of what is mapped so that most faults,
migrations and pageouts land on mapped pages, as in a real workload. Same length and seed,
same program.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ptediff.core.program import (
    INITIAL_PROC,
    PAGE_SIZE,
    Exit,
    Fault,
    Fork,
    Map,
    Migrate,
    Mprotect,
    Munmap,
    Op,
    Pageout,
    Program,
    Prot,
    Swapon,
)
from ptediff.dsl.validate import validate

SPACE_PAGES = 16
MAX_PROCS = 4
SWAP_SLOTS = 1024
WORKLOAD_SEED = 6
# Relative frequency of each kind: faults dominate, as in a real process.
MIX: tuple[tuple[str, int], ...] = (
    ("map", 3),
    ("fault", 8),
    ("fork", 1),
    ("mprotect", 1),
    ("pageout", 2),
    ("migrate", 2),
    ("munmap", 1),
)


@dataclass
class _Tracker:
    rng: random.Random
    procs: list[str] = field(default_factory=lambda: [INITIAL_PROC])
    mapped: dict[str, set[int]] = field(default_factory=lambda: {INITIAL_PROC: set()})
    children: int = 0
    values: int = 0

    def proc(self) -> str:
        return self.rng.choice(self.procs)

    def page(self, proc: str) -> int:
        """Mostly a mapped page of `proc`; one time in eight any page of the space."""
        pages = sorted(self.mapped[proc])
        if pages and self.rng.randrange(8):
            return self.rng.choice(pages)
        return self.rng.randrange(1, SPACE_PAGES + 1)

    def op(self, kind: str) -> Op:
        proc = self.proc()
        page = self.page(proc)
        addr = page * PAGE_SIZE
        if kind == "map":
            npages = self.rng.randrange(1, 3)
            span = set(range(page, page + npages))
            if not span & self.mapped[proc]:
                self.mapped[proc] |= span
            return Map(proc, addr, npages, self.rng.choice((Prot.RW, Prot.RW, Prot.R)))
        if kind == "fault":
            if self.rng.randrange(2):
                self.values += 1
                return Fault(proc, addr, write=True, value=self.values)
            return Fault(proc, addr, write=False)
        if kind == "fork":
            return self._fork_or_exit(proc)
        if kind == "mprotect":
            return Mprotect(proc, addr, 1, self.rng.choice((Prot.R, Prot.RW)))
        if kind == "pageout":
            return Pageout(proc, addr)
        if kind == "migrate":
            return Migrate(proc, addr, self.rng.randrange(2))
        self.mapped[proc].discard(page)
        return Munmap(proc, addr, 1)

    def _fork_or_exit(self, parent: str) -> Op:
        if len(self.procs) >= MAX_PROCS:
            child = self.procs.pop()  # the youngest; p0 is never the youngest here
            del self.mapped[child]
            return Exit(child)
        self.children += 1
        child = f"p{self.children}"
        self.procs.append(child)
        self.mapped[child] = set(self.mapped[parent])
        return Fork(parent, child)


def sequential_program(n_ops: int, seed: int = WORKLOAD_SEED) -> Program:
    """A valid sequential program of exactly `n_ops` operations (the first is the swapon)."""
    if n_ops < 1:
        raise ValueError(f"a program needs at least one operation, not {n_ops}")
    tracker = _Tracker(random.Random(seed))
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    ops: list[Op] = [Swapon(SWAP_SLOTS)]
    while len(ops) < n_ops:
        ops.append(tracker.op(tracker.rng.choices(kinds, weights)[0]))
    program = Program(tuple(ops))
    validate(program)
    return program
