"""One judgement's divergence: signatures, differing ptes and results, BUGs, violations.

The pytest plugin shows a failing regression item with `format_divergence`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ptediff.core.outcome import PteState, format_result
from ptediff.core.program import Fault, Op, Program, Result
from ptediff.judge.differ import Judgement, PteRow
from ptediff.report.blocks import Block, Cell, Table, Text, TextFormat, _plain_cell, render, table
from ptediff.report.operations import describe_op, op_text, unlocked_note
from ptediff.report.timeline import timeline_blocks

PTE_FIELDS = ("kind", "writable", "frame", "node", "data", "swap")


def format_divergence(
    program: Program, judgement: Judgement, impl: str, fmt: TextFormat = "plain"
) -> str:
    """The whole divergence report of one judgement as text (the pytest plugin's failure)."""
    return render(divergence_blocks(program, judgement, impl), fmt)


def divergence_blocks(program: Program, judgement: Judgement, impl: str) -> list[Block]:
    """Signatures, differing ptes side by side, differing results, BUGs, invariant
    violations, deadlock, allowances and the executed interleaving of one judgement."""
    divergence = judgement.divergence
    ops = program.ops()
    blocks: list[Block] = []
    if divergence is None:
        blocks.append(Text(f"{impl} agrees with the spec{allowance_note(judgement.allowances)}."))
        return blocks
    blocks.append(table(
        ("signature", "level", "first shows at", "note"),
        ([sig.cls, sig.level, describe_op(ops, sig.op),
          "secondary: after the first BUG" if sig.cls in divergence.secondary else ""]
         for sig in divergence.signatures),
        title=f"{impl} diverges from the spec ({divergence.level} level)",
    ))
    if divergence.pte_rows:
        blocks.append(pte_table(divergence.pte_rows, impl))
    if divergence.result_rows:
        blocks.append(table(
            ("line", "operation", "spec", impl),
            (
                [row.line, op_text(ops, row.op),
                 _result_text(ops, row.op, row.spec), _result_text(ops, row.op, row.model)]
                for row in divergence.result_rows
            ),
            title="results that differ",
        ))
    if divergence.bugs:
        blocks.append(table(
            ("class", "function", "reason", "during"),
            ([bug.signature_class, bug.function, bug.reason, describe_op(ops, bug.op)]
             for bug in divergence.bugs),
            title="kernel BUGs and memory errors",
        ))
    if divergence.violations:
        blocks.append(table(
            ("invariant", "detail", "after"),
            ([v.name, v.detail, describe_op(ops, v.op)] for v in divergence.violations),
            title="invariant violations",
        ))
    if divergence.deadlock is not None:
        blocks.append(Text(f"deadlock: {divergence.deadlock}"))
    if divergence.closest.allowances:
        names = ", ".join(sorted(divergence.closest.allowances))
        blocks.append(Text(f"The closest allowed outcome uses the allowances: {names}."))
    note = unlocked_note(program)
    if note is not None:
        blocks.append(Text(note))
    blocks.extend(timeline_blocks(program, judgement.outcome.trace))
    return blocks


def pte_table(rows: Sequence[PteRow], impl: str) -> Table:
    """Differing ptes: spec fields, then the implementation's; `*` marks a differing field.

    Frames are canonical labels (P<n> pages, S<n> swap slots) numbered separately on each
    side: only which ptes share a label matters, not the label itself.
    """
    body = []
    for row in rows:
        marks = {"frame" if name == "sharing" else name for name in row.fields}
        spec = _pte_cells(row.spec, row.spec_frame, set())
        model = _pte_cells(row.model, row.model_frame, marks)
        body.append([row.proc, f"{row.addr:#x}", *spec, *model])
    headers = (
        "process", "address",
        *(f"spec {name}" for name in PTE_FIELDS),
        *(f"impl {name}" for name in PTE_FIELDS),
    )
    title = f"page-table entries that differ (impl = {impl}; * = differs)"
    return table(headers, body, title=title)


def _pte_cells(pte: PteState | None, frame: str | None, marks: set[str]) -> list[Cell]:
    if pte is None:
        return ["-", None, None, None, None, None]
    values: dict[str, Cell] = {
        "kind": pte.kind,
        "writable": ("yes" if pte.writable else "no") if pte.kind != "none" else None,
        "frame": frame,
        "node": pte.node,
        "data": hex(pte.data) if pte.data is not None else None,
        "swap": pte.swap,
    }
    if "kind" in marks:
        marks = set(PTE_FIELDS) - {"kind"} | {"kind"}
    return [
        f"{_plain_cell(values[name]) or '-'}*" if name in marks else values[name]
        for name in PTE_FIELDS
    ]


def _result_text(ops: Sequence[Op], op_id: int, result: Result | None) -> str:
    if result is None:
        return "(no result)"
    op = ops[op_id] if 0 <= op_id < len(ops) else None
    return format_result(result, value=isinstance(op, Fault) and not op.write)


def allowance_note(allowances: Iterable[str]) -> str:
    names = sorted(allowances)
    if not names:
        return ""
    return f" (using the allowance{'s' if len(names) > 1 else ''} {', '.join(names)})"
