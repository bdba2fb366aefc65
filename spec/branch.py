"""What one step of a parallel block may lead to: branches, in-flight operations."""

from __future__ import annotations

from dataclasses import dataclass, field

from ptediff.core.outcome import ERRNO
from ptediff.core.program import Fault, Migrate, Op, Pageout, Pin, Result
from ptediff.spec.ops import apply
from ptediff.spec.paging import move_page, pinned_migration, reclaim
from ptediff.spec.state import SpecState


@dataclass(frozen=True)
class Pending:
    """An operation in flight, to be completed by a later step of its thread.

    * a migrate or pageout that has found `page` and will act on it later, wherever the page
      is mapped by then (the kernel isolates the page first, then migrates or reclaims it);
    * a fault whose kernel half is done (`page` is None): the access itself is still to come,
      and faults again if the pte no longer permits it; likewise a pin whose fault is done and
      whose page lookup (get_user_pages' follow_page) is still to come.
    """

    op_id: int
    op: Migrate | Pageout | Fault | Pin
    page: int | None = None

    def finish(self, s: SpecState) -> Result:
        """Complete the operation on `s` in place. A page freed meanwhile needs nothing more:
        the kernel sees its own reference as the last one and counts that as done."""
        if isinstance(self.op, Fault | Pin):
            return apply(s, self.op, self.op_id)
        if self.page in s.pages:
            if isinstance(self.op, Migrate) and s.pinned(self.page):
                # pinned while the migration was in flight: every pass sees the pin
                pinned_migration(s, self.page)
                s.collect()
                return -ERRNO["EAGAIN"]
            if isinstance(self.op, Migrate):
                move_page(s, self.page, self.op.node)
            else:
                reclaim(s, self.page)
        s.collect()
        return self.op.node if isinstance(self.op, Migrate) else 0


@dataclass(frozen=True)
class Concurrent:
    """An operation another thread may have started but not finished (its next one); `held`
    is the page it found, when it is a migrate or pageout already in flight."""

    op_id: int
    op: Op
    held: int | None = None


@dataclass
class Branch:
    """One possible effect of a step: the state after it, the results it fixed (op id ->
    result; more than one for a joint step), the allowances it needed, and the operation left
    in flight (its thread's next step finishes it)."""

    state: SpecState
    results: dict[int, Result]
    allowances: frozenset[str] = field(default_factory=frozenset)
    pending: Pending | None = None
