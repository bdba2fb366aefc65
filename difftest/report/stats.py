"""The `stats` report: a campaign's operation mix, program shapes, kernel-function coverage and
divergences over time, as tables; the kernel-function coverage table is shared with `hunt`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ptediff.report.blocks import Block, Cell, Heading, Text, table

if TYPE_CHECKING:
    from ptediff.search.coverage import KernelCoverage
    from ptediff.search.findings import HuntReport
    from ptediff.search.stats import CampaignStats


def campaign_blocks(hunted: HuntReport) -> list[Block]:
    """The end of a hunt report: how the campaign ran (workers, database) and its coverage."""
    facts = []
    if hunted.jobs > 1:
        facts.append(f"{hunted.jobs} worker processes")
    if hunted.replayed:
        replayed = sum(f.from_database for f in hunted.findings)
        facts.append(f"{hunted.replayed} stored failure(s) replayed from the database first, "
                     f"{replayed} finding(s) from them")
    blocks: list[Block] = [Heading("campaign", level=2)]
    if facts:
        blocks.append(Text("; ".join(facts) + "."))
    if hunted.coverage is not None:
        blocks.extend(coverage_blocks(hunted.coverage, title="modelled kernel functions "
                                      "reached by the generated programs"))
    return blocks if len(blocks) > 1 else []


def coverage_blocks(coverage: KernelCoverage, *, title: str) -> list[Block]:
    """The share of modelled kernel functions reached, a table of each, the unreached ones."""
    reached = len(coverage.functions) - len(coverage.unreached)
    blocks: list[Block] = [Text(
        f"kernel-function coverage: {reached} of {len(coverage.functions)} modelled kernel "
        f"functions reached ({coverage.fraction:.0%}) by {coverage.programs} programs."
    )]
    rows: list[list[Cell]] = []
    for name, cited, programs, calls in coverage.rows():
        share = f"{programs / coverage.programs:.0%}" if coverage.programs else "-"
        rows.append([name, cited, programs, share, calls])
    blocks.append(table(("function", "file", "programs", "share", "calls"), rows, title=title))
    if coverage.unreached:
        blocks.append(Text("not exercised: " + ", ".join(coverage.unreached) + "."))
    return blocks


def stats_blocks(stats: CampaignStats, plot: Path | None) -> list[Block]:
    outcomes = ", ".join(f"{count} {name}" for name, count in stats.outcomes.most_common())
    workers = f" from {len(stats.workers)} workers" if len(stats.workers) > 1 else ""
    blocks: list[Block] = [
        Heading(f"stats: {stats.path}"),
        Text(
            f"{stats.cases} programs over {stats.seconds:.1f} s{workers} ({outcomes or 'none'});"
            f" {stats.skipped} other line(s) skipped (test cases hypothesis gave up on, info, other"
            " tests)."
            + (f" Plot: {plot}." if plot is not None else "")
        ),
    ]
    total = sum(stats.ops.values())
    blocks.append(table(
        ("operation", "ops", "share", "programs"),
        [[kind, count, f"{count / total:.1%}", stats.programs_with[kind]]
         for kind, count in stats.ops.most_common()],
        title="operation mix",
    ))
    shapes: list[list[Cell]] = [["parallel block(s)", stats.parallel]]
    shapes += [[f"{k}{'+' if k == 3 else ''} preemption(s)", v]
               for k, v in sorted(stats.preemptions.items())]
    shapes += [[config, count] for config, count in stats.configs.most_common()]
    blocks.append(table(("programs with", "programs"), shapes, title="program shapes"))
    blocks.append(table(
        ("divergence", "programs", "first at program", "first at s"),
        [[d.name, d.count, d.first_case, f"{d.first_seconds:.1f}"] for d in stats.divergences],
        title="divergences over time",
    ) if stats.divergences else Text("no divergence observed."))
    blocks.extend(coverage_blocks(stats.coverage, title="modelled kernel functions"))
    return blocks
