"""Reports of the live backend: `conform` and `explore --impl linux` (blocks and JSON)."""

from __future__ import annotations

from typing import Any

from ptediff.core.program import Program
from ptediff.dsl.printer import format_program
from ptediff.live.conform import ConformReport
from ptediff.live.declared import DECLARED
from ptediff.live.explore import LiveExploration
from ptediff.report.blocks import Block, Heading, Listing, Text, table
from ptediff.report.divergence import divergence_blocks
from ptediff.report.report_json import divergence_json, document, program_json

Json = dict[str, Any]


def declared_table(fired: dict[str, int], total: int, what: str) -> Block:
    return table(
        ("declared difference", what, "meaning"),
        ([d.name, f"{fired.get(d.name, 0)} / {total}", d.summary] for d in DECLARED),
        title="Declared differences (docs/live-kernel.md): how often each applied",
    )


def conform_blocks(report: ConformReport) -> list[Block]:
    budget = (f"{report.budget_seconds:g} s" if report.budget_seconds is not None
              else f"{report.max_examples} programs")
    blocks: list[Block] = [
        Heading("ptediff conform: the running kernel against the spec"),
        table(("programs run", "agreeing", "undeclared differences", "seconds", "programs/s",
               "level", "budget"),
              [[report.programs, report.agreeing, len(report.findings), f"{report.seconds:.1f}",
                f"{report.throughput:.1f}", report.level, budget]]),
        declared_table(dict(report.fired), report.programs, "programs"),
    ]
    if report.interrupted:
        blocks.append(Text("Interrupted: the figures cover the programs run so far."))
    if report.error is not None:
        blocks.append(Text(f"Stopped early by an error: {report.error}. The figures cover the "
                           "programs run before it; this campaign says nothing about the rest."))
    if not report.findings and report.error is None:
        blocks.append(Text("No undeclared difference."))
    for finding in report.findings:
        blocks.append(Heading(f"undeclared difference: {finding.cls}", level=2))
        where = f" (saved as {finding.saved})" if finding.saved else ""
        again = "seen again while shrinking" if finding.reproduced else "seen once"
        blocks.append(Text(f"Smallest program, {again}{where}:"))
        blocks.append(Listing(format_program(finding.program)))
        blocks.extend(divergence_blocks(finding.program, finding.judgement.judgement, "linux"))
    return blocks


def conform_json(report: ConformReport) -> Json:
    return document(
        "conform",
        passed=not report.findings and report.error is None,
        level=report.level,
        seed=report.seed,
        budget_seconds=report.budget_seconds,
        max_examples=report.max_examples,
        programs=report.programs,
        agreeing=report.agreeing,
        seconds=report.seconds,
        throughput=report.throughput,
        interrupted=report.interrupted,
        error=report.error,
        declared={d.name: report.fired.get(d.name, 0) for d in DECLARED},
        findings=[
            {
                "signature": f.cls,
                "reproduced": f.reproduced,
                "saved": str(f.saved) if f.saved else None,
                "program": program_json(f.program),
                "divergence": divergence_json(f.program, f.judgement.judgement),
            }
            for f in report.findings
        ],
    )


def live_explore_blocks(path: str, report: LiveExploration) -> list[Block]:
    blocks: list[Block] = [
        Heading(f"{path}: {report.runs} runs on the running kernel ({report.level} level)"),
        Text(f"The spec allows {len(report.spec_outcomes)} outcome(s); the kernel showed "
             f"{len(report.outcomes)} distinct outcome(s), {report.spec_seen} of the spec's, "
             f"in {report.seconds:.1f} s."),
        table(("count", "allowed", "outcome", "declared differences", "signatures"),
              ([o.count, "yes" if o.allowed else "NO", o.description, " ".join(o.fired) or "-",
                " ".join(o.classes) or "-"] for o in report.outcomes),
              title="Outcomes seen"),
        table(("outcome the spec allows", "observation"),
              ([d, _seen(report, d)] for d in report.spec_outcomes),
              title="The spec's outcomes on the kernel"),
    ]
    if report.class_runs:
        blocks.append(table(("signature", "observation", "runs"),
                            ([cls, report.observation(cls), n]
                             for cls, n in sorted(report.class_runs.items())),
                            title="Undeclared differences"))
    return blocks


def _seen(report: LiveExploration, description: str) -> str:
    hits = sum(o.count for o in report.outcomes if o.allowed and o.description == description)
    return "Never" if hits == 0 else "Always" if hits == report.runs else f"Sometimes ({hits})"


def live_explore_json(path: str, program: Program, report: LiveExploration) -> Json:
    return document(
        "explore-live",
        path=path,
        passed=not report.unexpected,
        level=report.level,
        runs=report.runs,
        seconds=report.seconds,
        program=program_json(program),
        spec_outcomes=[{"outcome": d, "observation": _seen(report, d).split()[0]}
                       for d in report.spec_outcomes],
        outcomes=[{"outcome": o.description, "count": o.count, "allowed": o.allowed,
                   "declared": list(o.fired), "signatures": list(o.classes)}
                  for o in report.outcomes],
        declared={d.name: report.fired.get(d.name, 0) for d in DECLARED},
    )
