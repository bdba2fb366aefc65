"""How a report names an operation of a program: its line and its DSL text."""

from __future__ import annotations

from collections.abc import Sequence

from ptediff.core.program import Op
from ptediff.dsl.printer import format_op


def describe_op(ops: Sequence[Op], op_id: int | None) -> str:
    """`L12 migrate p0 0x1000 1`: the operation as written, with its line when known."""
    if op_id is None or not 0 <= op_id < len(ops):
        return "-" if op_id is None else f"op {op_id}"
    pos = ops[op_id].pos
    where = f"L{pos.line}" if pos is not None else f"op {op_id}"
    return f"{where} {op_text(ops, op_id)}"


def op_text(ops: Sequence[Op], op_id: int) -> str:
    """The operation as the DSL writes it (`op N` for an id the program does not have)."""
    return format_op(ops[op_id]) if 0 <= op_id < len(ops) else f"op {op_id}"
