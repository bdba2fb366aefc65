"""Declared differences: where a modern kernel legitimately differs from the 2006 spec.

Each entry is documented with its kernel evidence in docs/live-kernel.md (same names). A declared
difference *explains* a differing row of a live judgement — a result row or a pte row — under a
precise condition; the live comparison (`ptediff.live.compare`) drops the rows it explains and
counts how often each difference fired. None of them ever explains a `data` difference: what a
read returns is the contract on every kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ptediff.core.outcome import ERRNO, Outcome
from ptediff.core.program import (
    HOLDS,
    Fork,
    Map,
    Mprotect,
    Pageout,
    Program,
    Prot,
    StateCheck,
    Swapon,
    iter_ops,
)
from ptediff.judge.differ import PteRow, ResultRow
from ptediff.live.runner import LiveRun

Row = PteRow | ResultRow


@dataclass(frozen=True)
class Context:
    program: Program
    spec: Outcome  # the allowed outcome the live run is compared with
    live: LiveRun
    swap_limit_fired: bool = False  # max-swapfiles explained a swapon result


@dataclass(frozen=True)
class Declared:
    name: str
    summary: str
    explains: Callable[[Row, Context], bool]


def _fields(row: Row) -> tuple[str, ...]:
    return row.fields if isinstance(row, PteRow) else ()


def _max_swapfiles(row: Row, ctx: Context) -> bool:
    """A swapon the spec refuses with -EPERM at its swap-type limit (2^swap_bits - 2 areas)
    while the live kernel, whose limit is higher, goes on (0, or -EINVAL for an empty area:
    the limit is checked first); also the swap-device numbers of ptes once the two sides have
    different areas."""
    if not isinstance(row, ResultRow):
        return ctx.swap_limit_fired and set(row.fields) <= {"swap", "sharing"}
    ops = ctx.program.ops()
    if not isinstance(ops[row.op], Swapon) or row.spec != -ERRNO["EPERM"] or row.model == row.spec:
        return False
    limit = 2 ** ctx.program.config.swap_bits - 2
    earlier = sum(1 for op_id, op in enumerate(ops) if isinstance(op, Swapon)
                  and op_id != row.op and ctx.spec.results.get(op_id) == 0)
    return earlier >= limit


def _swap_device_choice(row: Row, ctx: Context) -> bool:
    """A swap pte on another device (or sharing another slot) than the spec's, when the program
    has more than one swap area: which area and slot a page gets is allocation policy."""
    if not isinstance(row, PteRow) or not set(row.fields) <= {"swap", "sharing"}:
        return False
    if row.spec is None or row.model is None or row.spec.kind != "swap":
        return False
    return sum(isinstance(op, Swapon) for op in iter_ops(ctx.program.steps)) > 1


def _writable_where_spec_readonly(row: Row, ctx: Context) -> int | None:
    """The address of a row that is only "writable live, read-only in the spec" — a pte row, or
    a state check that expected `present readonly` and found `present writable` — else None."""
    if isinstance(row, ResultRow):
        op = ctx.program.ops()[row.op]
        if isinstance(op, StateCheck) and row.model == "present writable" and (
            (row.spec == HOLDS and op.writable is False) or row.spec == "present readonly"
        ):
            return op.addr
        return None
    if row.fields != ("writable",) or row.model is None:
        return None
    return row.addr if row.model.writable and row.model.kind == "present" else None


def _eager_write(row: Row, ctx: Context) -> bool:
    """A present pte writable on the live kernel, read-only in the spec, at an address some
    mprotect to rw covered (the kernel sets the write bit at once on an exclusive anon page)."""
    addr = _writable_where_spec_readonly(row, ctx)
    if addr is None:
        return False
    return any(isinstance(op, Mprotect) and op.prot is Prot.RW
               and op.addr <= addr < op.addr + op.npages * 0x1000
               for op in iter_ops(ctx.program.steps))


def _eager_write_swapin(row: Row, ctx: Context) -> bool:
    """A present pte writable on the live kernel, read-only in the spec, at an address some
    pageout covered: a modern do_swap_page maps an exclusive swapped-in page writable even for
    a read fault."""
    addr = _writable_where_spec_readonly(row, ctx)
    if addr is None:
        return False
    return any(isinstance(op, Pageout) and op.addr == addr for op in iter_ops(ctx.program.steps))


def _pageout_skips_shared(row: Row, ctx: Context) -> bool:
    """A pte at an address whose pageout found the page mapped more than once: MADV_PAGEOUT
    leaves such a page alone, the spec reclaims it from every process (including those
    forked from them later, which inherit the still-resident page)."""
    if "data" in _fields(row) or not isinstance(row, PteRow):
        return False
    return row.addr in ctx.live.shared_pageouts.values()


def _vma_merge(row: Row, ctx: Context) -> bool:
    """A zero-page pte the kernel copied into a forked child where the spec copies nothing:
    the kernel merged an adjacent mapping into a vma that has an anon_vma, and fork copies
    every pte of such a vma (the spec never merges vmas: semantics.md, a documented Choice)."""
    if not isinstance(row, PteRow) or row.fields != ("kind",):
        return False
    if row.spec is not None and row.spec.kind != "none":
        return False
    live = row.model
    if live is None or live.kind != "present" or live.writable or live.data != 0:
        return False
    ops = ctx.program.ops()
    if not any(isinstance(op, Fork) for op in ops):
        return False
    maps = [op for op in ops if isinstance(op, Map)]
    return any(a.prot == b.prot and a.addr + a.npages * 0x1000 == b.addr
               for a in maps for b in maps)


def _write_bit_unread(row: Row, ctx: Context) -> bool:
    """Without the BPF reader the live write bit is not an observation (always False)."""
    if ctx.live.write_bits:
        return False
    if isinstance(row, ResultRow):
        op = ctx.program.ops()[row.op]
        return isinstance(op, StateCheck) and op.writable is not None
    return row.fields == ("writable",)


DECLARED: tuple[Declared, ...] = (
    Declared("max-swapfiles", "MAX_SWAPFILES is 28 on this kernel, 2^swap_bits - 2 in the spec",
             _max_swapfiles),
    Declared("eager-write-after-mprotect",
             "mprotect to rw sets the write bit of an exclusive anon page at once (since 6.0)",
             _eager_write),
    Declared("eager-write-on-swapin",
             "a read fault on an exclusive swap pte maps the page writable (6.x do_swap_page)",
             _eager_write_swapin),
    Declared("pageout-skips-shared",
             "MADV_PAGEOUT skips a page mapped by more than one process (since 5.4)",
             _pageout_skips_shared),
    Declared("swap-device-choice",
             "equal-priority swap areas are used oldest first, from per-CPU clusters",
             _swap_device_choice),
    Declared("vma-merge",
             "adjacent anon mappings merge into one vma: fork copies its zero-page ptes",
             _vma_merge),
    Declared("write-bit-unread", "the pte write bit could not be read (no BPF reader)",
             _write_bit_unread),
)
NAMES = tuple(d.name for d in DECLARED)


def explaining(row: Row, ctx: Context) -> str | None:
    """The first declared difference that explains `row`, or None."""
    if "data" in _fields(row):
        return None
    for declared in DECLARED:
        if declared.explains(row, ctx):
            return declared.name
    return None
