"""The `hunt` report: the summary of divergence classes found, then each minimal program."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptediff.core.errors import DslError
from ptediff.core.program import Program
from ptediff.dsl.parse import parse
from ptediff.report.blocks import Block, Cell, Heading, Listing, Text, table
from ptediff.report.grouping import bug_blocks, bugs_of, bugs_table, roots_of
from ptediff.report.operations import describe_op, unlocked_note
from ptediff.report.stats import campaign_blocks

if TYPE_CHECKING:  # only for annotations: importing the hunt engine loads hypothesis
    from ptediff.search.findings import Finding, HuntReport


@dataclass(frozen=True)
class HuntFinding:
    """A hunt finding as reported: its minimal program re-read from its printed text, so that
    line numbers in the report point into the listing shown."""

    finding: Finding
    program: Program
    text: str
    expected: bool  # the implementation reverts a fix: diverging is its purpose

    @classmethod
    def of(cls, finding: Finding, *, expected: bool) -> HuntFinding:
        text = finding.text
        try:
            program = parse(text)
        except DslError:  # cannot happen for a printed program; keep the report going anyway
            program = finding.program
        return cls(finding, program, text, expected)

    @property
    def concurrency(self) -> str:
        preemptions = self.finding.size.preemptions
        if self.finding.concurrency == "preemptions":
            return f"{preemptions} preemption{'s' * (preemptions != 1)}"
        return self.finding.concurrency


def hunt_blocks(
    hunted: HuntReport, findings: Sequence[HuntFinding], *, saving: bool
) -> list[Block]:
    """The summary table (implementation × signature class), then each minimal program."""
    seed = "no seed" if hunted.seed is None else f"seed {hunted.seed}"
    bugs = bugs_of(findings)
    summary = (
        f"{hunted.examples} examples in {hunted.seconds:.1f} s ({seed}, profile "
        f"{hunted.profile}); {len(findings)} divergence class(es) found: "
        f"{len(bugs)} bug{'s' * (len(bugs) != 1)}."
    )
    roots = len(set(roots_of(bugs)))
    impls = len({bug.impl for bug in bugs})
    if impls > 1 and roots < len(bugs):
        summary = summary[:-1] + (f" on {impls} implementations, from {roots} root cause"
                                  f"{'s' * (roots != 1)} (the same code change, the same "
                                  "latent class, or the same program showing the same class).")
    if hunted.interrupted:
        summary = (
            f"INTERRUPTED by {hunted.signal or 'SIGINT'} before the budget was spent: the report "
            "so far. " + summary
        )
    if hunted.over_budget:
        summary += (
            f" {hunted.over_budget} example(s) skipped: a tool limit was reached (budget "
            "exceeded, no verdict)."
        )
    blocks: list[Block] = [Heading("hunt"), Text(summary)]
    rows: list[list[Cell]] = []
    for impl in hunted.impls:
        found = [f for f in findings if f.finding.impl == impl]
        if not found:
            rows.append([impl, "-", "no", None, None, None, None, None, None, None])
        for item in found:
            finding = item.finding
            saved = _saved_cell(finding, saving)
            rows.append([
                impl,
                finding.signature,
                _found_word(item),
                finding.examples_to_first,
                f"{finding.seconds_to_first:.1f}",
                finding.size.ops,
                finding.size.lines,
                item.concurrency,
                finding.classification,
                saved,
            ])
    blocks.append(table(
        ("implementation", "signature", "found", "examples", "seconds", "ops", "lines",
         "concurrency", "classification", "saved"),
        rows,
        title="divergences (examples and seconds to the first failure; size of the minimal "
              "program)",
    ))
    if bugs:
        blocks.append(bugs_table(bugs))
    items = {id(item.finding): item for item in findings}
    for number, bug in enumerate(bugs, start=1):  # one entry per bug, its classes inside
        blocks.extend(bug_blocks(number, bug, items, _finding_blocks))
    blocks.extend(campaign_blocks(hunted))
    return blocks


def _saved_cell(finding: Finding, saving: bool) -> str | None:
    if finding.saved:
        return str(finding.saved)
    if finding.save_error is not None:
        return "NOT SAVED (see below)"
    if saving and finding.judgement is None:
        return "-"  # a crash has no verdict to write down
    return "(already saved)" if saving else None


def _finding_blocks(item: HuntFinding) -> list[Block]:
    finding = item.finding
    blocks: list[Block] = [Heading(f"{finding.impl}: {finding.signature}", level=2)]
    facts = [f"needs {item.concurrency}" if item.concurrency != "sequential" else "sequential"]
    if finding.op is not None:
        facts.insert(0, f"first shows at {describe_op(item.program.ops(), finding.op)}")
    if finding.classification is not None:
        facts.append(f"classification {finding.classification}")
    if finding.saved is not None:
        facts.append(f"saved as {finding.saved}")
    if finding.save_error is not None:
        facts.append(f"NOT SAVED: {finding.save_error}")
    if not finding.simplified:
        facts.append("not simplified (the hunt was interrupted): as hypothesis left it")
    if finding.detail:
        facts.append(finding.detail)
    blocks.append(Text("; ".join(facts) + "."))
    blocks.append(Listing(item.text))
    note = unlocked_note(item.program)
    if note is not None:
        blocks.append(Text(note))
    return blocks


def _found_word(item: HuntFinding) -> str:
    """yes: what the implementation reverts; latent: a documented latent bug of the 2006 code
    (expected, and kept as a regression file); UNEXPECTED otherwise."""
    if not item.expected:
        return "UNEXPECTED"
    return "latent" if item.finding.classification == "latent" else "yes"
