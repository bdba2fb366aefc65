"""The `explore` report: schedules per implementation, observations, outcomes reached."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ptediff.core.program import Op, Program
from ptediff.judge.signature import family_rank
from ptediff.report.blocks import Block, Cell, Heading, Text, table
from ptediff.report.operations import describe_op, unlocked_note
from ptediff.search.explore_report import ExploreReport
from ptediff.search.schedules import format_schedule


def explore_blocks(
    path: str, program: Program, exploration: ExploreReport, unexpected: Mapping[str, str]
) -> list[Block]:
    """Schedules per implementation, the Never/Sometimes/Always table, the outcomes reached.

    `unexpected` maps an implementation to why its exploration contradicts its expectation.
    """
    blocks: list[Block] = [Heading(f"explore {path}"), Text(explore_mode(exploration))]
    note = unlocked_note(program)
    if note is not None:
        blocks.append(Text(note))
    ops = program.ops()
    blocks.append(
        table(
            ("implementation", "schedules", "complete", "model runs", "seconds", "outcomes",
             "agreeing", "verdict"),
            (
                [
                    impl.impl,
                    impl.schedules,
                    "yes" if impl.complete else "no",
                    impl.model_runs,
                    f"{impl.elapsed:.2f}",
                    len(impl.outcomes),
                    impl.agreeing,
                    f"UNEXPECTED: {unexpected[impl.impl]}" if impl.impl in unexpected else "ok",
                ]
                for impl in exploration.impls
            ),
            title="schedules",
        )
    )
    blocks.append(table(
        ("implementation", "signature", "observation", "schedules", "first shows at", "witness"),
        _observation_rows(exploration, ops),
        title="signatures (herd-style observations)",
    ))
    for impl in exploration.impls:
        blocks.append(table(
            ("schedules", "verdict", "outcome", "witness"),
            (
                [
                    outcome.count,
                    "agrees" if outcome.verdict.agrees
                    else " ".join(s.cls for s in outcome.verdict.signatures),
                    outcome.outcome.describe(),
                    format_schedule(outcome.witness),
                ]
                for outcome in sorted(impl.outcomes.values(), key=lambda c: -c.count)
            ),
            title=f"outcomes of {impl.impl}",
        ))
    return blocks


def explore_mode(exploration: ExploreReport) -> str:
    spec = f"the spec allows {exploration.spec_outcomes} outcome(s)"
    if exploration.mode == "pct" and exploration.pct is not None:
        p = exploration.pct
        return (
            f"PCT: {p.runs} runs of depth {p.depth}, seed {p.seed}; n={p.threads} threads, "
            f"k={p.steps} steps; each run finds a given depth-{p.depth} bug with probability "
            f"at least 1/(n·k^(d-1)) = {p.probability_bound:.3g}; {spec}."
        )
    bound = exploration.preemption_bound
    limit = (
        "every schedule" if bound is None else f"every schedule with at most {bound} preemptions"
    )
    return f"Exhaustive: {limit}; {spec}."


def _observation_rows(exploration: ExploreReport, ops: Sequence[Op]) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for impl in exploration.impls:
        if not impl.classes:
            rows.append([impl.impl, "-", "Never", f"0/{impl.schedules}", None, None])
        for cls in sorted(impl.classes, key=lambda c: (family_rank(c), c)):
            hits = impl.hits(cls)
            first_ops = sorted(
                {key.op for key in impl.signatures if key.cls == cls and key.op is not None}
            )
            witness = impl.witness(cls)
            rows.append([
                impl.impl,
                cls,
                impl.observe(cls),
                f"{hits}/{impl.schedules}",
                "; ".join(describe_op(ops, op) for op in first_ops) or None,
                format_schedule(witness) if witness is not None else None,
            ])
    return rows
