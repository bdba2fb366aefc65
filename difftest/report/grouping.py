"""Report blocks and JSON for findings grouped by root cause (`ptediff.search.grouping`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ptediff.report.blocks import Block, Cell, Heading, Listing, Text, table

if TYPE_CHECKING:
    from ptediff.report.hunt import HuntFinding
    from ptediff.search.grouping import Bug


def bugs_of(findings: Sequence[HuntFinding]) -> list[Bug]:
    from ptediff.search.grouping import group_findings

    return group_findings([item.finding for item in findings])


def roots_of(bugs: Sequence[Bug]) -> list[int]:
    from ptediff.search.grouping import root_causes

    return root_causes(bugs)


def bugs_table(bugs: Sequence[Bug]) -> Block:
    rows: list[list[Cell]] = []
    roots = roots_of(bugs)
    for number, bug in enumerate(bugs, start=1):
        first = bug.first
        rows.append([
            number,
            roots[number - 1] + 1,
            bug.impl,
            bug.lead.signature,
            ", ".join(cls for cls in bug.classes[1:]) or "-",
            first.examples_to_first,
            f"{first.seconds_to_first:.1f}",
            bug.lead.size.ops,
        ])
    return table(
        ("bug", "root", "implementation", "lead class", "also found as", "examples", "seconds",
         "ops"),
        rows,
        title="bugs (divergence classes grouped by root cause; `root`: bugs of different "
              "implementations with one number are one root cause; examples and seconds to "
              "the bug's first failure, ops of the lead's minimal program)",
    )


def bug_blocks(number: int, bug: Bug, items: dict[int, HuntFinding],
               finding_blocks: Any) -> list[Block]:
    """One entry per bug: the lead's minimal program, its symptoms, then each grouped class
    with why it was grouped and its own minimal program."""
    lead = items[id(bug.lead)]
    blocks: list[Block] = [Heading(f"bug {number} on {bug.impl}: {bug.lead.signature}", level=2)]
    blocks.append(Text("symptoms: " + ", ".join(bug.symptoms) + "."))
    if bug.cause is not None:
        blocks.append(Text(f"cause: {bug.cause} (the one code change whose model alone shows "
                           "it; postfix agrees)."))
    blocks.extend(finding_blocks(lead)[1:])
    for member in bug.members[1:]:
        item = items[id(member)]
        blocks.append(Text(f"also found as {member.signature} ({bug.reasons[member.signature]}); "
                           "its minimal program:"))
        blocks.append(Listing(item.text))
    return blocks


def bugs_json(bugs: Sequence[Bug], findings: Sequence[HuntFinding]) -> list[dict[str, Any]]:
    index = {id(item.finding): i for i, item in enumerate(findings)}
    roots = roots_of(bugs)
    return [
        {
            "impl": bug.impl,
            "root": root,
            "lead": bug.lead.signature,
            "classes": bug.classes,
            "findings": [index[id(member)] for member in bug.members],
            "symptoms": bug.symptoms,
            "cause": bug.cause,
            "reasons": [
                {"class": cls, "reason": reason} for cls, reason in bug.reasons.items()
            ],
            "examples_to_first": bug.first.examples_to_first,
            "seconds_to_first": bug.first.seconds_to_first,
        }
        for bug, root in zip(bugs, roots, strict=True)
    ]
