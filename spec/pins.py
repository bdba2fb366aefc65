"""get_user_pages pins: a page reference held for a device, and the device's reads and writes.

What Linux promises (Documentation/core-api/pin_user_pages.rst, vmsplice(2), open(2) on
O_DIRECT, and the COW rules of fork): a pin holds *the page* found at the address when it was
taken — after faulting it in, and for a write pin after breaking COW, so the page is the
process's own — and the device reads and writes that page, not whatever the page table maps
later. The pin keeps the page allocated but does not keep it mapped: munmap, exit and
MADV_DONTNEED drop the ptes and leave the page to the pin; reclaim unmaps it to swap and
leaves it in the swap cache; migration cannot move it (-EAGAIN). In 2006 nothing else looks
at the extra reference: fork shares a pinned page like any other, and a later write fault
decides reuse or copy by its mappers alone — the parent may write into a copy while the
device keeps the old page (the reason MADV_DONTFORK exists).
"""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.core.program import Fault, Pin, Pinread, Pinwrite, Result, Unpin
from ptediff.spec.fault import handle_fault, needs_fault
from ptediff.spec.state import ZERO_PAGE, Present, SpecState


def do_pin(s: SpecState, op: Pin) -> Result:
    """get_user_pages(write) of one page: -EFAULT when the vma does not allow the access;
    else fault it in as the access would, and hold the page the pte then maps. A read pin
    where the process has no page table gets the zero page and leaves the pte none (2006's
    FOLL_ANON, for core dumps of untouched memory)."""
    s.pins[op.id] = None
    vma = s.vma_at(op.proc, op.addr)
    if vma is None or not vma.prot.readable or (op.write and not vma.prot.writable):
        return -ERRNO["EFAULT"]
    key = (op.proc, op.addr)
    if not op.write and key not in s.ptes and not s.has_table(op.proc, op.addr):
        # follow_page with FOLL_ANON: no page table here, so the zero page without a fault
        s.pins[op.id] = ZERO_PAGE
        return 0
    access = Fault(op.proc, op.addr, write=op.write)
    if needs_fault(s, access):
        handle_fault(s, access)
    pte = s.ptes[key]
    assert isinstance(pte, Present)
    s.pins[op.id] = pte.page
    return 0


def _held(s: SpecState, pin: int) -> int | None:
    return s.pins.get(pin)


def do_unpin(s: SpecState, op: Unpin) -> Result:
    """Drop the reference (-EINVAL for a pin that never got a page)."""
    page = s.pins.pop(op.pin, None)
    return 0 if page is not None else -ERRNO["EINVAL"]


def do_pinread(s: SpecState, op: Pinread) -> Result:
    """The device reads the pinned page: its data now."""
    page = _held(s, op.pin)
    return s.pages[page].data if page is not None else -ERRNO["EINVAL"]


def do_pinwrite(s: SpecState, op: Pinwrite) -> Result:
    """The device writes the pinned page (mapped or not, in the swap cache or not)."""
    page = _held(s, op.pin)
    if page is None:
        return -ERRNO["EINVAL"]
    s.update_page(page, data=op.value)
    return 0
