"""The `run` report: a verdict table per file, then each unexpected divergence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ptediff.core.errors import ModelCrash
from ptediff.core.program import Program
from ptediff.judge.verdict import Verdict
from ptediff.report.blocks import Block, Heading, Table, Text, table
from ptediff.report.divergence import allowance_note, divergence_blocks


@dataclass(frozen=True)
class RunFile:
    """One `.pte` file run on the spec and implementations."""

    path: str
    program: Program
    verdicts: tuple[Verdict, ...]
    spec_error: str | None = None  # a `=> RESULT` the spec itself does not meet
    crashes: tuple[ModelCrash, ...] = ()  # models that raised: `crash:<type>` findings
    budget: str | None = None  # a tool limit reached: no verdict for the rest of the file
    skipped: tuple[tuple[str, str], ...] = ()  # (impl, why it could not run the program)
    # (impl, {declared difference: rows it explained}) for the live kernel
    declared: tuple[tuple[str, dict[str, int]], ...] = ()

    @property
    def passed(self) -> bool:
        return (
            self.spec_error is None
            and self.budget is None
            and not self.crashes
            and all(v.passed for v in self.verdicts)
        )


def run_blocks(files: Sequence[RunFile]) -> list[Block]:
    blocks: list[Block] = []
    for item in files:
        blocks.append(Heading(item.path))
        if item.spec_error is not None:
            blocks.append(Text(f"FAIL: {item.spec_error}"))
            continue
        if item.verdicts:
            blocks.append(verdict_table(item.verdicts))
        for crash in item.crashes:
            blocks.append(Text(f"FAIL: {crash.impl} diverges: {crash.cls}: {crash.describe()}"))
        if item.budget is not None:
            blocks.append(Text(f"NO VERDICT: {item.budget}"))
        for impl, reason in item.skipped:
            blocks.append(Text(f"{impl}: not run: {reason}"))
        for impl, fired in item.declared:
            if fired:
                applied = ", ".join(f"{name} ({rows} row{'s' * (rows != 1)})"
                                    for name, rows in fired.items())
                blocks.append(Text(f"{impl}: declared differences applied: {applied}"))
        for verdict in item.verdicts:
            if verdict.judgement.agrees:
                continue
            blocks.append(Heading(verdict.impl, level=2))
            blocks.extend(divergence_blocks(item.program, verdict.judgement, verdict.impl))
    return blocks


def verdict_table(verdicts: Sequence[Verdict]) -> Table:
    rows = []
    for verdict in verdicts:
        judgement = verdict.judgement
        if judgement.agrees:
            observed = "agrees" + allowance_note(judgement.allowances)
        else:
            observed = "diverges: " + " ".join(judgement.divergence.classes)  # type: ignore[union-attr]
        rows.append([
            verdict.impl,
            expected_text(verdict),
            observed,
            verdict_word(verdict),
            "; ".join(verdict.messages) if not verdict.passed else None,
        ])
    return table(("implementation", "expected", "observed", "verdict", "why"), rows)


def expected_text(verdict: Verdict) -> str:
    if verdict.expected is None:
        return "-"
    if verdict.expected == "diverges" and verdict.expect is not None and verdict.expect.signatures:
        return "diverges " + " ".join(verdict.expect.signatures)
    return verdict.expected


def verdict_word(verdict: Verdict) -> str:
    if not verdict.passed:
        return "FAIL"
    return "ok" if verdict.expected is not None else "reported"
