"""One step of the spec: an operation's atomic effect plus what the allowances add."""

from __future__ import annotations

from collections.abc import Sequence

from ptediff.core.program import Fault, Op
from ptediff.spec.allowances import ALLOWANCES
from ptediff.spec.branch import Branch, Concurrent, Pending
from ptediff.spec.fault import handle_fault, needs_fault
from ptediff.spec.ops import apply
from ptediff.spec.state import SpecState


def step(s: SpecState, op_id: int, op: Op, concurrent: Sequence[Concurrent]) -> list[Branch]:
    """Every effect one operation may have: the atomic one, then each allowance's (only when
    other operations are in flight: inside a parallel block)."""
    after = s.clone()
    branches = [Branch(after, {op_id: apply(after, op, op_id)})]
    if concurrent:
        for allowance in ALLOWANCES:
            branches += allowance.rule(s, op_id, op, concurrent)
    return branches


def finish(s: SpecState, pending: Pending, *, others_running: bool) -> list[Branch]:
    """The second half of an operation left in flight. A fault's access that finds the pte
    changed faults again, and that handling may be overtaken again while others run."""
    after = s.clone()
    branches = [Branch(after, {pending.op_id: pending.finish(after)})]
    if others_running and isinstance(pending.op, Fault) and needs_fault(s, pending.op):
        again = s.clone()
        handle_fault(again, pending.op)
        again.collect()
        branches.append(Branch(again, {}, frozenset(), pending))
    return branches
