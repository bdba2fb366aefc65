"""The allowance for a pin whose fault and page lookup other threads come between."""

from __future__ import annotations

from collections.abc import Sequence

from ptediff.core.program import Fault, Op, Pin
from ptediff.spec.branch import Branch, Concurrent, Pending
from ptediff.spec.fault import handle_fault, needs_fault
from ptediff.spec.state import SpecState


def pin_after_fault(
    s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]
) -> list[Branch]:
    """get_user_pages faults the page in (handle_mm_fault) and then looks it up again
    (follow_page, which takes the reference): two steps, with the pte lock dropped between."""
    if not isinstance(op, Pin) or op.proc not in s.vmas:
        return []
    vma = s.vma_at(op.proc, op.addr)
    if vma is None or not vma.prot.readable or (op.write and not vma.prot.writable):
        return []
    access = Fault(op.proc, op.addr, write=op.write)
    if not op.write and (op.proc, op.addr) not in s.ptes and not s.has_table(op.proc, op.addr):
        return []  # FOLL_ANON: the zero page without a fault
    if not needs_fault(s, access):
        return []
    after = s.clone()
    handle_fault(after, access)
    after.collect()
    return [Branch(after, {}, frozenset(("pin-after-fault",)), Pending(op_id, op))]
