"""Allowances for operations that overlap a swapoff (docs/semantics.md, "swapoff TYPE").

try_to_unuse works through the device one slot at a time, and for each it holds the slot's
page (a reference and the page lock) across the walk of every mm; sys_swapoff has taken the
device's slots out of the free-swap count before the walk gives them back one by one. Either
can be seen by an operation running meanwhile, and no linearization shows it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ptediff.core.program import Exit, Fault, Madvise, Mlock, Munmap, Op, Pageout, Pin, Swapoff
from ptediff.spec.branch import Branch, Concurrent
from ptediff.spec.fault import can_reuse, copy_on_write
from ptediff.spec.ops import apply
from ptediff.spec.paging import pageout_target
from ptediff.spec.state import Present, SpecState


def swapoff_holds(s: SpecState, op: Op, page: int) -> bool:
    """A swapoff of the device holding `page`'s swap copy: try_to_unuse finds the page in the
    swap cache (a reference) and locks it, and keeps both across mmap_sem and page-lock
    sleeps while it walks the mms."""
    if not isinstance(op, Swapoff) or not s.swap.is_active(op.swap_type):
        return False
    slot = s.pages[page].swap_copy if page in s.pages else None
    return slot is not None and slot[0] == op.swap_type


def swapoff_holds_new_slot(s: SpecState, page: int, concurrent: Sequence[Concurrent]) -> bool:
    """A pageout of `page` (no swap copy yet) would take its slot on the device a concurrent
    swapoff turns off (add_to_swap before sys_swapoff clears SWP_WRITEOK), and try_to_unuse
    then finds the page in that device's swap cache and holds it."""
    if page not in s.pages or s.pages[page].swap_copy is not None:
        return False
    slot = s.swap.allocate(set(s.slots))[1]
    return slot is not None and any(
        isinstance(other.op, Swapoff) and other.op.swap_type == slot[0] for other in concurrent)


def wp_copy_racing_swapoff(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    """A write fault that would reuse its page copies it while a swapoff holds the page lock
    (do_wp_page reuses only a page it can trylock)."""
    if not isinstance(op, Fault) or not op.write or op.proc not in s.vmas:
        return []
    key = (op.proc, op.addr)
    vma, pte = s.vma_at(*key), s.ptes.get(key)
    if vma is None or not vma.prot.writable or not isinstance(pte, Present) or pte.writable:
        return []
    if not can_reuse(s, key, pte.page):
        return []
    if not any(swapoff_holds(s, other.op, pte.page) for other in concurrent):
        return []
    after = s.clone()
    copy_on_write(after, key, op.value)
    after.collect()
    return [Branch(after, {op_id: 0}, frozenset(("wp-copy-racing-swapoff",)))]


def _counters_seen(s: SpecState, concurrent: Sequence[Concurrent]) -> tuple[bool, bool]:
    """What a concurrent swapoff's counters may make an operation see: (no free slot, swap
    more than half full). sys_swapoff takes all of its device's slots out of nr_swap_pages and
    total_swap_pages at once, while the used ones still count as used until try_to_unuse frees
    them: nr_swap_pages dips to the other devices' free slots minus the device's used ones."""
    no_slot = full = False
    for other in concurrent:
        off = other.op
        if not isinstance(off, Swapoff) or not s.swap.is_active(off.swap_type):
            continue
        in_use = sum(1 for slot in s.slots if slot[0] == off.swap_type)
        if not in_use:
            continue
        other_total = s.swap.total_slots() - s.swap.device(off.swap_type).nslots
        other_free = other_total - (len(s.slots) - in_use)
        lowest = other_free - in_use  # nr_swap_pages right after sys_swapoff's subtraction
        no_slot = no_slot or lowest <= 0
        full = full or 2 * lowest < other_total
    return no_slot, full


def swapoff_accounting(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    """An operation that reads how much swap is free, while a swapoff has taken its device's
    slots out of the counters and not yet given the used ones back: a pageout that needs a new
    slot may find none (get_swap_page: nr_swap_pages <= 0) although another device has one, and
    a swap-in or a zap may see swap more than half full (vm_swap_full) and drop a swap copy."""
    no_slot, full = _counters_seen(s, concurrent)
    name = frozenset(("swapoff-accounting",))
    if isinstance(op, Pageout):
        page = pageout_target(s, op)
        if no_slot and page is not None and s.pages[page].swap_copy is None:
            return [Branch(s.clone(), {op_id: 0}, name)]
        return []
    if not full or s.swap_full() or not isinstance(op, SEES_SWAP_FULL):
        return []
    if op.proc not in s.vmas:
        return []
    after = s.clone()
    after.swap_seen_full = True
    result = apply(after, op, op_id)
    after.swap_seen_full = False
    return [Branch(after, {op_id: result}, name)]


# The operations whose spec rule asks vm_swap_full: a swap-in (fault, a pin's or an mlock's
# fault) and the zap of a swap pte (munmap, madvise, exit).
SEES_SWAP_FULL = (Fault, Pin, Mlock, Munmap, Madvise, Exit)
