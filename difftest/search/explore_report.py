"""The report of an exploration (exhaustive or PCT) and its herd7-style plain-text rendering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ptediff.core.program import Program
from ptediff.search.schedules import format_schedule
from ptediff.search.tally import ImplReport, Observation, SignatureKey, read_ops


@dataclass(frozen=True)
class PctParameters:
    """A PCT campaign (Burckhardt et al., ASPLOS 2010): `runs` schedules of bug depth `depth`."""

    runs: int
    depth: int
    seed: int
    threads: int  # n: threads over all parallel blocks
    steps: int  # k: scheduler steps of a run (measured on the default schedule)

    @property
    def probability_bound(self) -> float:
        """PCT's per-run lower bound 1/(n·k^(d−1)) on hitting a given depth-d bug."""
        return 1.0 / (max(self.threads, 1) * max(self.steps, 1) ** (self.depth - 1))


@dataclass
class ExploreReport:
    mode: Literal["exhaustive", "pct"]
    impls: list[ImplReport]
    spec_outcomes: int
    preemption_bound: int | None = None  # exhaustive mode
    pct: PctParameters | None = None  # pct mode
    elapsed: float = 0.0
    program: Program | None = None  # for op-aware formatting (values read in hex)

    def impl(self, name: str) -> ImplReport:
        for report in self.impls:
            if report.impl == name:
                return report
        raise KeyError(name)

    def observe(self, impl: str, signature: str | SignatureKey) -> Observation:
        return self.impl(impl).observe(signature)

    def signature_rows(self) -> list[SignatureKey]:
        """Every signature any implementation showed, in a stable order."""
        keys = {key for report in self.impls for key in report.signatures}
        return sorted(keys, key=lambda k: (k.cls, -1 if k.op is None else k.op))

    def render(self) -> str:
        """Plain-text report in the manner of herd7's outcome listing."""
        return "\n".join(render_lines(self))


def render_lines(report: ExploreReport) -> list[str]:
    if report.mode == "pct" and report.pct is not None:
        p = report.pct
        lines = [
            f"PCT: {p.runs} runs, depth {p.depth}, seed {p.seed}; n={p.threads} threads, "
            f"k={p.steps} steps; per-run bound 1/(n·k^(d-1)) = {p.probability_bound:.3g}"
        ]
    else:
        bound = "unbounded" if report.preemption_bound is None else report.preemption_bound
        lines = [f"exhaustive exploration, preemption bound {bound}"]
    lines.append(f"spec: {report.spec_outcomes} allowed outcome(s)")
    reads = read_ops(report.program) if report.program is not None else frozenset()
    for impl in report.impls:
        state = "complete" if impl.complete else "partial"
        if report.mode == "pct":
            state = f"{impl.distinct_schedules} distinct"
        lines.append("")
        lines.append(
            f"{impl.impl}: {impl.schedules} schedules ({state}, up to {impl.max_preemptions} "
            f"preemptions), {impl.model_runs} model runs, {impl.elapsed:.2f} s, "
            f"{impl.schedules_per_second:.0f} schedules/s"
        )
        lines.append(f"  outcomes {len(impl.outcomes)}:")
        for outcome_class in sorted(impl.outcomes.values(), key=lambda c: -c.count):
            verdict = outcome_class.verdict
            mark = "ok  " if verdict.agrees else "DIFF"
            names = " ".join(map(str, verdict.signatures))
            lines.append(f"    {outcome_class.count:>7} {mark} {names}")
            lines.append(f"            {outcome_class.outcome.describe(reads)}")
            lines.append(f"            witness: {format_schedule(outcome_class.witness)}")
        lines.append(f"  Positive: {impl.schedules - impl.agreeing} Negative: {impl.agreeing}")
        for key in report.signature_rows():
            hits = impl.hits(key)
            witness = impl.witness(key)
            shown = f"  witness {format_schedule(witness)}" if witness is not None else ""
            lines.append(
                f"  Observation {key!s:<40} {impl.observe(key):<9} {hits} {impl.schedules - hits}"
                f"{shown}"
            )
    return lines


__all__ = ["ExploreReport", "PctParameters", "render_lines"]
