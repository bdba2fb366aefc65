"""Whole-program checks of pins: `pin` numbers, and what `unpin`, `pinread`, `pinwrite` name.

Pins are numbered 0, 1, ... in op-id order. An operation may name a pin made earlier on its own
path: at top level before it, earlier in its own thread, or before its parallel block. A pin
another thread of the same block makes or unpins is off limits to a thread (its existence
would depend on the interleaving); after the block, the block's pins and unpins count. A pin
is unpinned at most once, and only a write pin may be written through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ptediff.core.errors import DslError
from ptediff.core.program import PIN_OPS, Op, Parallel, Pin, Pinwrite, Pos, Program, Unpin
from ptediff.dsl.source import Problem

Fail = Callable[[object, str | None, Problem], DslError]


@dataclass
class _Pins:
    made: dict[int, Pin] = field(default_factory=dict)
    unpinned: dict[int, Pos | None] = field(default_factory=dict)

    def copy(self) -> _Pins:
        return _Pins(dict(self.made), dict(self.unpinned))


def check_pins(program: Program, fail: Fail) -> None:
    """Raise (through `fail`) at the first pin problem, in op-id order."""
    pins = _Pins()
    counter = [0]
    for step in program.steps:
        if isinstance(step, Parallel):
            _check_block(step, pins, counter, fail)
        else:
            _check_op(step, pins, counter, {}, fail)


def _check_block(block: Parallel, pins: _Pins, counter: list[int], fail: Fail) -> None:
    made_by = [{op.id: op.pos for op in t.ops if isinstance(op, Pin)} for t in block.threads]
    unpinned_by = [{op.pin: op.pos for op in t.ops if isinstance(op, Unpin)} for t in block.threads]
    after = pins.copy()
    for index, thread in enumerate(block.threads):
        elsewhere: dict[int, str] = {}
        for other in range(len(block.threads)):
            if other != index:
                for pin, pos in made_by[other].items():
                    elsewhere[pin] = "made by another thread of this parallel block" + _line(pos)
                for pin, pos in unpinned_by[other].items():
                    elsewhere.setdefault(
                        pin, "unpinned by another thread of this parallel block" + _line(pos)
                    )
        mine = pins.copy()
        for op in thread.ops:
            _check_op(op, mine, counter, elsewhere, fail)
        after.made.update(mine.made)
        after.unpinned.update(mine.unpinned)
    pins.made, pins.unpinned = after.made, after.unpinned


def _check_op(
    op: Op, pins: _Pins, counter: list[int], elsewhere: dict[int, str], fail: Fail
) -> None:
    if isinstance(op, Pin):
        if op.id != counter[0]:
            raise fail(op, None, Problem(
                f"this pin is number {counter[0]}, but it says {op.id}",
                "pins are numbered 0, 1, ... in program order (the parser does it)",
            ))
        counter[0] += 1
        pins.made[op.id] = op
        return
    if not isinstance(op, PIN_OPS):
        return
    pin = op.pin
    if not isinstance(pin, int) or pin < 0:
        raise fail(op, "pin", Problem(f"{pin!r} is not a pin number", "pins are 0, 1, ..."))
    if pin in elsewhere:
        raise fail(op, "pin", Problem(
            f"pin {pin} is {elsewhere[pin]}",
            "a thread can use the pins it makes itself and those made before the block",
        ))
    if pin not in pins.made:
        known = ", ".join(str(n) for n in sorted(pins.made)) or "none"
        raise fail(op, "pin", Problem(
            f"no pin {pin} here",
            f"`pin PROC ADDR [write]` makes pins 0, 1, ... in program order; pins here: {known}",
        ))
    if pin in pins.unpinned:
        raise fail(op, "pin", Problem(
            f"pin {pin} is already unpinned" + _line(pins.unpinned[pin]),
            "a pin is unpinned once; pin the page again for another reference",
        ))
    if isinstance(op, Pinwrite) and not pins.made[pin].write:
        raise fail(op, "pin", Problem(
            f"pin {pin} is a read pin" + _line(pins.made[pin].pos),
            "the device writes only through a write pin: `pin PROC ADDR write`",
        ))
    if isinstance(op, Unpin):
        pins.unpinned[pin] = op.pos


def _line(pos: Pos | None) -> str:
    return f" (line {pos.line})" if pos is not None else ""
