"""What the program generator knows while it draws: the program so far, as state.

`World` follows the program drawn so far (live processes, their mapped, written and swapped
pages, swap types in use); `View` is the part of it one thread of a parallel block may name.
`ptediff.search.generation` reads each operation's choices relative to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ptediff.core.program import (
    INITIAL_PROC,
    PAGE_SIZE,
    Config,
    Exit,
    Fault,
    Fork,
    Madvise,
    Map,
    Mprotect,
    Mremap,
    Munmap,
    Op,
    Pageout,
    Prot,
    Swapoff,
    Swapon,
)


@dataclass
class World:
    """Live processes and their mapped pages, as the program so far means them to be."""

    config: Config
    live: set[str] = field(default_factory=lambda: {INITIAL_PROC})
    mapped: dict[str, dict[int, Prot]] = field(default_factory=lambda: {INITIAL_PROC: {}})
    written: dict[str, set[int]] = field(default_factory=lambda: {INITIAL_PROC: set()})
    # written pages a pageout meant to swap out and nothing has faulted back in since (only
    # the swap cycle focus reads it: an approximation, as everything here)
    swapped: dict[str, set[int]] = field(default_factory=lambda: {INITIAL_PROC: set()})
    forks: int = 0
    writes: int = 0
    pins: int = 0  # pins made so far (the next pin's number)
    usable_pins: dict[int, bool] = field(default_factory=dict)  # pin -> write, for later ops
    block_pins: dict[int, bool] = field(default_factory=dict)  # made in the block being drawn
    # swap types the program has turned on (sys_swapon takes the lowest free one; a swapon
    # past MAX_SWAPFILES is counted too: approximate, as the rest of the world)
    swap_types: set[int] = field(default_factory=set)

    def settle_pins(self) -> None:
        """After a parallel block its threads' pins may be named (validate_pins' rule)."""
        self.usable_pins.update(self.block_pins)
        self.block_pins.clear()

    def any_swapped(self) -> bool:
        return any(self.swapped[proc] for proc in self.live)

    def fresh_child(self) -> str:
        self.forks += 1
        return f"p{self.forks}"

    def next_value(self) -> int:
        """Written values are 1, 2, 3...: small, distinct, and never the zero page's 0."""
        self.writes += 1
        return self.writes

    def apply(self, op: Op) -> None:
        """Track an operation's intended effect (approximate inside parallel blocks)."""
        if isinstance(op, Map | Munmap | Mprotect):
            pages = self.mapped[op.proc]
            span = range(op.addr // PAGE_SIZE, op.addr // PAGE_SIZE + op.npages)
            if isinstance(op, Munmap):
                for page in span:
                    pages.pop(page, None)
            else:  # map needs the range free, mprotect needs it fully mapped
                free = not any(page in pages for page in span)
                full = all(page in pages for page in span)
                if (isinstance(op, Map) and free) or (isinstance(op, Mprotect) and full):
                    pages.update(dict.fromkeys(span, op.prot))
            if isinstance(op, Munmap):
                self.swapped[op.proc] -= set(span)
        elif isinstance(op, Madvise):
            span = range(op.addr // PAGE_SIZE, op.addr // PAGE_SIZE + op.npages)
            self.written[op.proc] -= set(span)
            self.swapped[op.proc] -= set(span)
        elif isinstance(op, Mremap):
            self._move(op)
        elif isinstance(op, Fault):
            if op.write:
                self.written[op.proc].add(op.addr // PAGE_SIZE)
            self.swapped[op.proc].discard(op.addr // PAGE_SIZE)
        elif isinstance(op, Pageout) and op.addr // PAGE_SIZE in self.written[op.proc]:
            # try_to_unmap swaps the page out of every process mapping it: after a fork, the
            # others that wrote the page before it (an approximation of who shares it).
            page = op.addr // PAGE_SIZE
            for proc in self.live:
                if page in self.written.get(proc, ()) and page in self.mapped.get(proc, {}):
                    self.swapped[proc].add(page)
        elif isinstance(op, Fork):
            self.live.add(op.child)
            self.mapped[op.child] = dict(self.mapped[op.parent])
            self.written[op.child] = set(self.written[op.parent])
            self.swapped[op.child] = set(self.swapped[op.parent])
        elif isinstance(op, Swapon) and op.nslots > 0:
            self.swap_types.add(next(t for t in range(len(self.swap_types) + 1)
                                     if t not in self.swap_types))
        elif isinstance(op, Swapoff):
            self.swap_types.discard(op.swap_type)
        elif isinstance(op, Exit):
            self.live.discard(op.proc)

    def _move(self, op: Mremap) -> None:
        """mremap's intended effect: the new range unmapped, then the old one moved there (when
        the ranges are apart and the old one is mapped; within one vma is not tracked)."""
        old, new = op.addr // PAGE_SIZE, op.new // PAGE_SIZE
        if new < old + op.npages and old < new + op.npages:
            return
        pages, written = self.mapped[op.proc], self.written[op.proc]
        swapped = self.swapped[op.proc]
        for page in range(new, new + op.npages):
            pages.pop(page, None)
            written.discard(page)
            swapped.discard(page)
        if not all(old + i in pages for i in range(op.npages)):
            return
        for i in range(op.npages):
            pages[new + i] = pages.pop(old + i)
            for tracked in (written, swapped):
                if old + i in tracked:
                    tracked.discard(old + i)
                    tracked.add(new + i)


@dataclass
class View:
    """The processes one thread (or the top level) may name at this point.

    Inside a parallel block a thread sees the processes live at the block's start, minus those
    exited by earlier threads, plus the ones it forked itself; it may exit a process only if no
    earlier thread of the block named it. That keeps every interleaving valid.
    """

    world: World
    visible: frozenset[str]
    reserved: frozenset[str] = frozenset()  # named by earlier threads of the block
    keep_alive: frozenset[str] = frozenset()  # seen by later threads: one must live on
    in_block: bool = False  # a thread of a parallel block (pins: no unpin, no new pin used)

    def procs(self) -> list[str]:
        return sorted(self.visible, key=lambda name: int(name[1:]))


