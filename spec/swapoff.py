"""swapoff: bring every page of one swap device back into memory and free its number.

Atomic, like every spec rule: the kernel's try_to_unuse walks the device's slots one by one and
every mm's page tables for each (docs/semantics.md, "swapoff TYPE"); what it leaves is the same
as this single step.
"""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.core.program import Result, Swapoff
from ptediff.spec.state import Present, SpecState


def do_swapoff(s: SpecState, op: Swapoff) -> Result:
    """Swap device `op.swap_type` off: -EINVAL when no device has that number."""
    device = op.swap_type
    if not s.swap.is_active(device):
        return -ERRNO["EINVAL"]
    for slot in sorted(slot for slot in s.slots if slot[0] == device):
        unuse_slot(s, slot)
    s.swap = s.swap.removed(device)
    return 0


def unuse_slot(s: SpecState, slot: tuple[int, int]) -> None:
    """Every swap pte of `slot` maps the slot's page read-only; the page leaves the swap cache.

    The page is the slot's cached page if it has one (on whatever node it is), else a new page
    on node 0 holding the slot's data (read_swap_cache_async). The ptes are read-only whatever
    the vma allows: unuse_pte builds them from vm_page_prot, which has no write bit in a private
    vma, and leaves a write to do_wp_page.
    """
    refs = s.swap_refs(slot)
    page = s.cached_page(slot)
    if page is None and refs:
        page = s.new_page(s.slots[slot])
    for key in refs:
        s.ptes[key] = Present(page, writable=False)  # type: ignore[arg-type]
    if page is not None:
        s.update_page(page, swap_copy=None)
    del s.slots[slot]  # not free_slot: the device leaves the round-robin with its slots
