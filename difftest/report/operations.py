"""How a report names an operation of a program: its line and its DSL text."""

from __future__ import annotations

from collections.abc import Sequence

from ptediff.core.program import Migrate, Op, Program
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


UNLOCKED_NOTE = (
    "Note: this program uses `migrate ... unlocked`, a kernel-initiated migration holding no "
    "mmap_sem. No 2006 kernel had such a caller (memory hot-remove came in 2.6.24, compaction "
    "in 2.6.35): what it shows is how a later caller would meet this code."
)


def unlocked_note(program: Program) -> str | None:
    """The caveat every report of a program using the `unlocked` migration mode carries."""
    if any(isinstance(op, Migrate) and op.unlocked for op in program.ops()):
        return UNLOCKED_NOTE
    return None
