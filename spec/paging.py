"""Where pages live: swapon, pageout (reclaim to swap) and migrate (move to another node)."""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.core.program import Migrate, Pageout, Result, Swapon
from ptediff.spec.mlock import has_locked_mapper, unmap_until_locked
from ptediff.spec.state import Present, SpecState, Swapped
from ptediff.spec.swap import max_swapfiles


def do_swapon(s: SpecState, op: Swapon) -> Result:
    """Add a swap device of `nslots` usable slots (its header page is not counted)."""
    if s.swap.active() >= max_swapfiles(s.config.swap_bits):
        return -ERRNO["EPERM"]
    if op.nslots <= 0:
        return -ERRNO["EINVAL"]
    s.swap = s.swap.added(op.nslots, op.prio)
    return 0


def do_pageout(s: SpecState, op: Pageout) -> Result:
    """madvise(MADV_PAGEOUT) of one page: reclaim it if it is anonymous and swap has room."""
    if s.vma_at(op.proc, op.addr) is None:
        return -ERRNO["ENOMEM"]
    page = pageout_target(s, op)
    if page is not None:
        reclaim(s, page)
    return 0


def pageout_target(s: SpecState, op: Pageout) -> int | None:
    """The anonymous page a pageout would reclaim, if any."""
    if s.vma_at(op.proc, op.addr) is None:
        return None
    pte = s.ptes.get((op.proc, op.addr))
    if isinstance(pte, Present) and s.is_anon(pte.page):
        return pte.page
    return None


def reclaim(s: SpecState, page: int) -> bool:
    """Write the page to its swap copy's slot (or a new one) and turn every pte mapping it, in
    every process, into a swap pte; the page is freed, unless a pin holds it: then it stays
    in the swap cache with that slot as its swap copy (remove_mapping sees the pin's extra
    reference). False when no slot is free."""
    slot = s.pages[page].swap_copy
    if slot is None:
        slot = s.allocate_slot()
    if slot is None:
        return False
    s.slots[slot] = s.pages[page].data
    # An mlocked mapper stops the anon_vma walk (SWAP_FAIL): the ptes before it are swap ptes
    # already, and the page stays in the swap cache (add_to_swap came first).
    if unmap_until_locked(s, page, slot) or s.pinned(page):
        s.update_page(page, swap_copy=slot)
    else:
        del s.pages[page]
    return True


def no_vma_above(s: SpecState, proc: str, addr: int) -> bool:
    """No vma ends above addr: the kernel's find_vma gives NULL (move_pages' -EFAULT)."""
    return not any(v.end > addr for v in s.vmas[proc])


def do_migrate(s: SpecState, op: Migrate) -> Result:
    """move_pages(MPOL_MF_MOVE_ALL) of one page: the node it ends on, or an errno (2.6.18's
    do_move_pages: -EFAULT only above every vma, a hole is -ENOENT, the prot is not looked
    at, so a PROT_NONE page migrates)."""
    if not 0 <= op.node < s.config.nodes:
        return -ERRNO["ENODEV"]
    if no_vma_above(s, op.proc, op.addr):
        return -ERRNO["EFAULT"]
    pte = s.ptes.get((op.proc, op.addr))
    if not isinstance(pte, Present) or not s.is_anon(pte.page):
        return -ERRNO["ENOENT"]
    if s.pages[pte.page].node == op.node:
        return op.node
    if has_locked_mapper(s, pte.page):
        # try_to_unmap's SWAP_FAIL: unmap_and_move restores the migration entries it made
        # and gives -EPERM for good; plain swap ptes of a swap-cache page stay.
        unmap_until_locked(s, pte.page, s.pages[pte.page].swap_copy)
        return -ERRNO["EPERM"]
    if s.pinned(pte.page):
        pinned_migration(s, pte.page)
        return -ERRNO["EAGAIN"]
    move_page(s, pte.page, op.node)
    return op.node


def pinned_migration(s: SpecState, page: int) -> None:
    """A pinned page never moves: every pass finds the pin's extra reference
    (migrate_page_move_mapping) and gives -EAGAIN. A page with a swap copy is left with swap
    ptes (try_to_unmap's swap entries are not undone); any other keeps its ptes."""
    slot = s.pages[page].swap_copy
    if slot is not None:
        for key in s.mappers(page):
            s.ptes[key] = Swapped(slot)


def migration_lookup(s: SpecState, op: Migrate) -> int | None:
    """The page a migrate finds at its address (None when it gives an error)."""
    if not 0 <= op.node < s.config.nodes:
        return None
    pte = s.ptes.get((op.proc, op.addr))
    if s.vma_at(op.proc, op.addr) is None or not isinstance(pte, Present):
        return None
    return pte.page if s.is_anon(pte.page) else None


def migration_target(s: SpecState, op: Migrate) -> int | None:
    """The page a migrate would really move (None: an error, already on the node, pinned)."""
    page = migration_lookup(s, op)
    if page is None or s.pages[page].node == op.node or s.pinned(page):
        return None
    if has_locked_mapper(s, page):
        return None
    return page


def move_page(s: SpecState, page: int, node: int) -> None:
    """Copy the page to a new one on `node`; every pte mapping it, in every process, follows
    and keeps its write bit. A page with a swap copy instead leaves swap ptes behind: the new
    page waits in the swap cache and the next access maps it. A pinned page cannot move
    (callers decide the result; see pinned_migration)."""
    if s.pinned(page):
        pinned_migration(s, page)
        return
    old = s.pages[page]
    new = s.new_page(old.data, node, old.swap_copy)
    for key in s.mappers(page):
        pte = s.ptes[key]
        if old.swap_copy is not None:
            s.ptes[key] = Swapped(old.swap_copy)
        else:
            s.ptes[key] = Present(new, isinstance(pte, Present) and pte.writable)
    del s.pages[page]
