"""User accesses: a read or a write of one page, and what the kernel does to make it possible.

* none pte: a read maps the shared zero page read-only; a write gets a new page.
* read-only pte, write: the page is reused (made writable in place) when nobody else can see
  it — it is anonymous, this pte is its only mapper and no swap pte holds its swap copy —
  otherwise the writer gets a private copy.
* swap pte: the page comes back from the swap cache if it is still there, else from the slot.
"""

from __future__ import annotations

from ptediff.core.program import SIGSEGV, Fault, Result
from ptediff.spec.state import ZERO_PAGE, Present, SpecState, Swapped

Key = tuple[str, int]


def do_fault(s: SpecState, op: Fault) -> Result:
    """A read returns the data; a write stores `value` and returns 0; no access → SIGSEGV."""
    vma = s.vma_at(op.proc, op.addr)
    if vma is None or not vma.prot.readable or (op.write and not vma.prot.writable):
        return SIGSEGV
    key = (op.proc, op.addr)
    if op.write:
        write_fault(s, key, op.value)
        return 0
    return read_fault(s, key)


def needs_fault(s: SpecState, op: Fault) -> bool:
    """Whether the access traps into the kernel first (allowed by the vma, not by the pte)."""
    vma = s.vma_at(op.proc, op.addr)
    if vma is None or not vma.prot.readable or (op.write and not vma.prot.writable):
        return False
    pte = s.ptes.get((op.proc, op.addr))
    return not isinstance(pte, Present) or (op.write and not pte.writable)


def handle_fault(s: SpecState, op: Fault) -> None:
    """The kernel's half of a fault: make the pte permit the access, without doing it. A
    write is prepared exactly as a write of the data already there (a new page is zeroed)."""
    key = (op.proc, op.addr)
    if not op.write:
        read_fault(s, key)
        return
    pte = s.ptes.get(key)
    if isinstance(pte, Present):
        current = s.pages[pte.page].data
    elif isinstance(pte, Swapped):
        current = s.swap_data(pte.slot)
    else:
        current = 0
    write_fault(s, key, current)


def read_fault(s: SpecState, key: Key) -> int:
    pte = s.ptes.get(key)
    if pte is None:
        s.ptes[key] = Present(ZERO_PAGE, False)
        return 0
    if isinstance(pte, Swapped):
        return swap_in(s, key, pte, write=False, value=0)
    return s.pages[pte.page].data


def write_fault(s: SpecState, key: Key, value: int) -> None:
    pte = s.ptes.get(key)
    if pte is None:
        s.ptes[key] = Present(s.new_page(value), True)
        s.mark_anon(*key)
    elif isinstance(pte, Swapped):
        swap_in(s, key, pte, write=True, value=value)
    elif pte.writable:
        s.update_page(pte.page, data=value)
    elif can_reuse(s, key, pte.page):
        s.ptes[key] = Present(pte.page, True)
        s.update_page(pte.page, data=value)
    else:
        copy_on_write(s, key, value)


def can_reuse(s: SpecState, key: Key, page: int) -> bool:
    """A write may take over the page itself: anonymous, mapped only here, and its swap copy
    (if any) not held by any swap pte (the kernel's can_share_swap_page)."""
    if not s.is_anon(page) or s.mappers(page) != [key]:
        return False
    slot = s.pages[page].swap_copy
    return slot is None or not s.swap_refs(slot)


def copy_on_write(s: SpecState, key: Key, value: int) -> None:
    """The writer gets a new page of its own (node 0) holding the written value."""
    s.ptes[key] = Present(s.new_page(value), True)
    s.mark_anon(*key)


def swap_in(s: SpecState, key: Key, pte: Swapped, *, write: bool, value: int) -> int:
    """Bring a swap pte's page back; returns the page's data as read (before any write).

    The page comes from the swap cache if its slot still has one, else it is read from the
    slot into a new page on node 0 that keeps the slot as its swap copy. The pte is writable
    at once only for a write by the slot's only user; a read maps it read-only; a shared write
    maps it and then breaks COW. An exclusive page gives its swap copy up when swap is more
    than half full (the kernel's remove_exclusive_swap_page).
    """
    slot = pte.slot
    page = s.cached_page(slot)
    if page is None:
        page = s.new_page(s.slots[slot], 0, swap_copy=slot)
    exclusive = not s.mappers(page) and s.swap_refs(slot) == [key]
    data = s.pages[page].data
    s.ptes[key] = Present(page, write and exclusive)
    if write and exclusive:
        s.update_page(page, data=value)
    if exclusive and s.swap_full():
        s.drop_swap_copy(page)
    if write and not exclusive:
        write_fault(s, key, value)
    return data
