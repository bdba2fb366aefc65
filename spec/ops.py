"""One atomic step of the spec: apply an operation to a state and give its result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptediff.core.errors import SpecError
from ptediff.core.program import (
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
    Result,
    StateCheck,
    Swapon,
    Unpin,
)
from ptediff.spec.fault import do_fault
from ptediff.spec.madvise import do_madvise
from ptediff.spec.mapping import do_exit, do_fork, do_map, do_mprotect, do_munmap
from ptediff.spec.mlock import do_mlock, do_munlock
from ptediff.spec.mremap import do_mremap
from ptediff.spec.observe import do_state_check
from ptediff.spec.paging import do_migrate, do_pageout, do_swapon
from ptediff.spec.pins import do_pin, do_pinread, do_pinwrite, do_unpin
from ptediff.spec.state import SpecState

OPERATIONS: dict[type[Op], Callable[[SpecState, Any], Result]] = {
    Map: do_map,
    Munmap: do_munmap,
    Mprotect: do_mprotect,
    Fault: do_fault,
    Fork: do_fork,
    Exit: do_exit,
    Migrate: do_migrate,
    Swapon: do_swapon,
    Pageout: do_pageout,
    StateCheck: do_state_check,
    Madvise: do_madvise,
    Pin: do_pin,
    Unpin: do_unpin,
    Pinread: do_pinread,
    Pinwrite: do_pinwrite,
    Mlock: do_mlock,
    Munlock: do_munlock,
    Mremap: do_mremap,
}


def apply(s: SpecState, op: Op, op_id: int) -> Result:
    """Run `op` on `s` in place (then free what nobody references) and return its result."""
    _check_processes(s, op, op_id)
    result = OPERATIONS[type(op)](s, op)
    s.collect()
    return result


def _check_processes(s: SpecState, op: Op, op_id: int) -> None:
    # The DSL validator makes these impossible; a hand-built Program may still get them wrong.
    if isinstance(op, Fork) and op.child in s.vmas:
        raise SpecError(f"op {op_id} ({op.KIND}): process {op.child} already exists")
    named = (op.parent,) if isinstance(op, Fork) else op.procs  # pin operations name none
    for proc in named:
        if proc not in s.vmas:
            raise SpecError(f"op {op_id} ({op.KIND}): process {proc} does not exist")
