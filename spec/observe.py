"""State checks: `expect PROC ADDR STATE`, an assertion on one pte at one point of a program."""

from __future__ import annotations

from ptediff.core.program import Result, StateCheck, state_check_result
from ptediff.spec.state import Present, SpecState, Swapped


def do_state_check(s: SpecState, op: StateCheck) -> Result:
    """HOLDS when the pte at (PROC, ADDR) is as the check says, else the pte as found.

    The spec has no transient ptes (migration is atomic), so the check sees the state between
    two atomic operations. An address outside every vma has no pte: `none`.
    """
    pte = s.ptes.get((op.proc, op.addr))
    if isinstance(pte, Present):
        return state_check_result(op, "present", pte.writable)
    if isinstance(pte, Swapped):
        return state_check_result(op, "swap")
    return state_check_result(op, "none")
