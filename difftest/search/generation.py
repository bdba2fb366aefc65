"""How one operation is read from the generator's choices, relative to its world model.

`ptediff.search.strategies` draws a program as a sequence of integer choices;
`ptediff.search.world` keeps what the program drawn so far means (live processes, their mapped,
written and swapped pages) and which processes a thread of a parallel block may name; this
module reads each operation from its choices relative to that state, with stable fallbacks
(see the strategies module's docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ptediff.core.program import (
    PAGE_SIZE,
    Exit,
    Fault,
    Fork,
    Madvise,
    Map,
    Migrate,
    Mlock,
    Mprotect,
    Mremap,
    Munlock,
    Munmap,
    Op,
    Pageout,
    Pin,
    Pinread,
    Pinwrite,
    Prot,
    Swapoff,
    Swapon,
    Unpin,
)
from ptediff.search.world import View, World

# World and View (the generator's state, ptediff.search.world) stay importable from here.
__all__ = ["ADDRESS_PAGES", "SNAPPED_WHERE", "TABLE_PAGES", "TOUCHED_WHERE", "Choice", "View",
           "World", "make_op"]

ADDRESS_PAGES = 8  # pages 0x1000 .. 0x8000: a small address space so operations collide
TABLE_PAGES = 512  # pages one page table maps (x86-64)
TOUCHED_WHERE = 2 * ADDRESS_PAGES  # `where` values below this snap to a written page
SNAPPED_WHERE = 3 * ADDRESS_PAGES  # ... below this to a mapped one; the rest are raw pages


@dataclass(frozen=True)
class Choice:
    """The integers an operation is read from (after its continue flag).

    kind:  index into `strategies.KIND_TABLE`; KINDS_PARALLEL more values open a block.
    who:   process number (or the thread count of a parallel block).
    where: page 1..8 (value modulo 8); half the values snap it to a page the process has
           written (the next one up, or the last), a quarter to a mapped page, a quarter
           leave it raw.
    what:  the kind's small parameters (npages, prot, read/write, node, nslots...).
    """

    kind: int
    who: int
    where: int
    what: int


# ---------------------------------------------------------------------------------------------
# Reading an operation from its choices


def make_op(kind: str, choice: Choice, view: View, enabled: tuple[str, ...]) -> Op:
    """A kind that is off or impossible here is read as an enabled one (by the same value), so
    changing the swarm flags leaves other operations' kinds alone. A kind with a variant
    (VARIANTS) is read as the variant, when that is on, for the top quarter of `what` values
    (the base kinds read only its low bits, and `what` shrinks toward the base kind), and for
    every value when the base kind is off but the variant on (a search asked for the variant
    and not its base: `programs(ops=...)`; the swarm never switches a base off and its variant
    on). A pageout is read as a swapoff for the quarter of values below (SECOND_VARIANTS). A
    variant that cannot be drawn yet (swapoff before any area is on) leaves the base kind."""
    variant = VARIANTS.get(kind)
    second, second_from = SECOND_VARIANTS.get(kind, ("", VARIANT_FROM))
    if variant in enabled and (choice.what >= VARIANT_FROM or kind not in enabled) and _ready(
            variant, view):
        kind = variant
    elif second in enabled and second_from <= choice.what < VARIANT_FROM and _ready(second, view):
        kind = second
    # swapoff, which needs an area, never stands in for a kind switched off: the stand-ins
    # stay what they were before it existed
    enabled = tuple(k for k in enabled if k not in NO_STAND_IN) or enabled
    if kind not in enabled and kind not in NO_STAND_IN:
        kind = enabled[choice.kind % len(enabled)]
    if not _possible(kind, view):
        possible = [k for k in enabled if _possible(k, view)]
        if not possible:  # every enabled kind needs a process and none is visible
            return Swapon(nslots=1)
        kind = possible[choice.kind % len(possible)]
    op = _BUILDERS[kind](choice, view)
    view.world.apply(op)
    if isinstance(op, Fork):
        view.visible |= {op.child}
    elif isinstance(op, Exit):
        view.visible -= {op.proc}
        view.keep_alive -= {op.proc}
    return op


def _possible(kind: str, view: View) -> bool:
    if kind == "swapon":
        return True
    if kind == "swapoff":
        return bool(view.world.swap_types)
    if kind == "exit":
        return bool(_exitable(view))
    return bool(view.visible)


def _ready(variant: str, view: View) -> bool:
    """Whether a variant can be drawn here: swapoff only once the program has an area on (until
    then the swapon or pageout is drawn as it was)."""
    return variant != "swapoff" or bool(view.world.swap_types)


def _exitable(view: View) -> list[str]:
    """Processes this thread may exit: not named by an earlier thread, and at least one process
    stays visible here and for later threads."""
    return [
        proc
        for proc in view.procs()
        if proc not in view.reserved
        and len(view.visible - {proc}) >= 1
        and (not view.keep_alive or len(view.keep_alive - {proc}) >= 1)
    ]


def _proc(number: int, candidates: list[str]) -> str:
    """`pN` when it is a candidate, else a candidate chosen by the same number."""
    name = f"p{number}"
    return name if name in candidates else candidates[number % len(candidates)]


def _addr(choice: Choice, view: View, proc: str, npages: int = 1) -> int:
    """Mostly a page `proc` has written or mapped (the drawn page snapped to the next such
    page), sometimes the drawn page as is: anonymous pages are where the action is.

    A snapped range of `npages` pages stays inside the mapping: when it would run past the
    mapped pages, it starts lower, as far as needed for it to end inside them (still covering
    the snapped page). Snapping to the next written page alone would start a two-page range
    at the last written page, past the end of a mapping written to its end, which an
    mprotect or an mlock refuses (-ENOMEM) before it reaches a pte; raw addresses still draw
    those."""
    page = choice.where % ADDRESS_PAGES + 1
    mapped = view.world.mapped.get(proc, {})
    written = sorted(p for p in view.world.written.get(proc, ()) if p in mapped)
    for limit, candidates in ((TOUCHED_WHERE, written), (SNAPPED_WHERE, sorted(mapped))):
        if choice.where < limit and candidates:
            snapped = next((p for p in candidates if p >= page), candidates[-1])
            return _inside(snapped, npages, mapped) * PAGE_SIZE
    return page * PAGE_SIZE


def _inside(page: int, npages: int, mapped: dict[int, Prot]) -> int:
    """The highest start at most `page` whose `npages` pages cover `page` and are all mapped;
    `page` itself when there is none."""
    for start in range(page, page - npages, -1):
        if all(p in mapped for p in range(start, start + npages)):
            return start
    return page


MAP_PROTS = (Prot.RW, Prot.R, Prot.RW, Prot.NONE)
MPROTECT_PROTS = (Prot.R, Prot.RW, Prot.NONE)
SWAPON_SLOTS = (1, 2, 4, 0)  # 0 slots (-EINVAL) last: rarely the point
SWAPON_PRIOS = (None, 0, 1, 2, 5, -1, -2, 3)


def _build_map(choice: Choice, view: View) -> Op:
    page = choice.where % ADDRESS_PAGES + 1
    prot = MAP_PROTS[choice.what // 3 % 4]
    return Map(_proc(choice.who, view.procs()), page * PAGE_SIZE, choice.what % 3 + 1, prot)


def _build_munmap(choice: Choice, view: View) -> Op:
    proc = _proc(choice.who, view.procs())
    return Munmap(proc, _addr(choice, view, proc), choice.what % 2 + 1)


def _build_mprotect(choice: Choice, view: View) -> Op:
    proc = _proc(choice.who, view.procs())
    prot = MPROTECT_PROTS[choice.what // 2 % 3]
    npages = choice.what % 2 + 1
    return Mprotect(proc, _addr(choice, view, proc, npages), npages, prot)


def _build_fault(choice: Choice, view: View) -> Op:
    proc = _proc(choice.who, view.procs())
    addr = _addr(choice, view, proc)
    if choice.what % 2:
        return Fault(proc, addr, write=True, value=view.world.next_value())
    return Fault(proc, addr, write=False)


def _build_fork(choice: Choice, view: View) -> Op:
    return Fork(_proc(choice.who, view.procs()), view.world.fresh_child())


def _build_exit(choice: Choice, view: View) -> Op:
    return Exit(_proc(choice.who, _exitable(view)))


def _build_migrate(choice: Choice, view: View) -> Op:
    proc = _proc(choice.who, view.procs())
    # New pages start on node 0, so the other node is the interesting target: 3 in 4.
    node = (1, 1, 0, 1)[choice.what % 4] if view.world.config.nodes >= 2 else 0
    # Unlocked (kernel-initiated, no mmap_sem) first: it races with the process's own fork.
    unlocked = choice.what // 4 % 2 == 0
    return Migrate(proc, _addr(choice, view, proc), node, unlocked=unlocked)


def _build_swapon(choice: Choice, view: View) -> Op:
    return Swapon(SWAPON_SLOTS[choice.what % 4], SWAPON_PRIOS[choice.what // 4 % 8])


def _build_swapoff(choice: Choice, view: View) -> Op:
    """swapoff of a type the program turned on (one in four: the next type up, -EINVAL)."""
    types = sorted(view.world.swap_types)
    if choice.what % 4 == 3:
        return Swapoff(types[-1] + 1)
    return Swapoff(types[choice.who % len(types)])


def _build_pageout(choice: Choice, view: View) -> Op:
    proc = _proc(choice.who, view.procs())
    return Pageout(proc, _addr(choice, view, proc))


def _build_madvise(choice: Choice, view: View) -> Op:
    proc = _proc(choice.who, view.procs())
    npages = choice.what % 2 + 1
    return Madvise(proc, _addr(choice, view, proc, npages), npages)


def _build_mlock(choice: Choice, view: View) -> Op:
    """mlock, or (one in four) munlock, of one or two pages."""
    proc = _proc(choice.who, view.procs())
    cls = Munlock if choice.what // 2 % 4 == 3 else Mlock
    npages = choice.what % 2 + 1
    return cls(proc, _addr(choice, view, proc, npages), npages)


# How far mremap moves a range: just past it (same page table) or one page table further
# (another pte lock: move_ptes then nests the new one inside the old).
MREMAP_GAPS = (0, 1, 2, TABLE_PAGES)


def _build_mremap(choice: Choice, view: View) -> Op:
    """mremap of one or two pages, mostly of written pages, to just past the range (a range
    running past the small address space goes to 0x1000 instead) or one page table further."""
    proc = _proc(choice.who, view.procs())
    addr = _addr(choice, view, proc)
    npages = choice.what % 2 + 1
    gap = MREMAP_GAPS[choice.what // 2 % 4]
    new = addr + (npages + gap) * PAGE_SIZE
    if gap < TABLE_PAGES and new + npages * PAGE_SIZE > (ADDRESS_PAGES + 1) * PAGE_SIZE:
        new = PAGE_SIZE  # wrap into the small address space (an overlap is -EINVAL)
    return Mremap(proc, addr, npages, new)


# Kinds drawn as a variant of another kind's table value: madvise(MADV_DONTNEED) zaps a range
# as munmap does, a pin faults its page in as a fault does, mlock changes a range's vma flags
# (splitting it) as mprotect does, and mremap takes the pte at an address away as pageout
# does (pageout moves the page's contents to swap, mremap moves the pte itself). pageout is the
# base kind none of the seeded bugs' searches needs, so those searches stay as fast. swapoff
# (once an area exists) undoes what a swapon and a pageout did: the top quarter of a swapon's
# values, and the quarter of a pageout's below mremap's (SECOND_VARIANTS).
VARIANTS: dict[str, str] = {
    "munmap": "madvise", "fault": "pin", "mprotect": "mlock", "pageout": "mremap",
    "swapon": "swapoff",
}
VARIANT_FROM = 24  # `what` is 0..31 (strategies._WHAT)
# A second variant of a base kind, drawn for `what` values from its bound up to VARIANT_FROM
# (the values below the first variant's): a pageout reads no `what` bits, so a swapoff there
# changes no other pageout.
SECOND_VARIANTS: dict[str, tuple[str, int]] = {"pageout": ("swapoff", 16)}
NO_STAND_IN = frozenset({"swapoff"})  # variants make_op never picks for a switched-off kind

# `pin` draws the whole pin family: a new pin, or (once pins exist) an access or release
PIN_FAMILY = ("pin", "unpin", "pinread", "pinwrite")
# `mlock` draws munlock too
MLOCK_FAMILY = ("mlock", "munlock")


def _build_pin(choice: Choice, view: View) -> Op:
    world = view.world
    pins = sorted(world.usable_pins)
    action = choice.what % 4
    if pins and action:
        pin = pins[choice.who % len(pins)]
        if action == 3 and not view.in_block:
            del world.usable_pins[pin]
            return Unpin(pin)
        writers = [p for p in pins if world.usable_pins[p]]
        if action == 2 and writers:
            return Pinwrite(writers[choice.who % len(writers)], world.next_value())
        return Pinread(pin)
    proc = _proc(choice.who, view.procs())
    op = Pin(proc, _addr(choice, view, proc), write=choice.what // 4 % 2 == 0, id=world.pins)
    world.pins += 1
    (world.block_pins if view.in_block else world.usable_pins)[op.id] = op.write
    return op


_BUILDERS: dict[str, Callable[[Choice, View], Op]] = {
    "map": _build_map,
    "munmap": _build_munmap,
    "mprotect": _build_mprotect,
    "fault": _build_fault,
    "fork": _build_fork,
    "exit": _build_exit,
    "migrate": _build_migrate,
    "swapon": _build_swapon,
    "pageout": _build_pageout,
    "madvise": _build_madvise,
    "pin": _build_pin,
    "mlock": _build_mlock,
    "mremap": _build_mremap,
    "swapoff": _build_swapoff,
}
