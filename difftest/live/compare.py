"""Judge a live run against the spec, applying the declared differences.

For every allowed outcome the differing rows are computed at the requested level, the rows a
declared difference explains are set aside, and the outcome with the fewest rows left is the
one compared with. No rows left (and no contract property broken): the live kernel agrees, and
the judgement lists the declared differences that fired. Otherwise the divergence keeps only the
unexplained rows and the signatures they give.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from ptediff.core.program import Program
from ptediff.judge.check import spec_outcomes
from ptediff.judge.differ import (
    Judgement,
    compare_results,
    compare_states,
    contract_view,
    judge,
    result_class,
)
from ptediff.judge.signature import CONTRACT, FIELD_CLASS, check_level
from ptediff.live.declared import Context, Row, explaining
from ptediff.live.runner import LiveRun

# Classes that no row carries: they stay whenever the judgement shows them.
_ROWLESS = ("kernel-bug", "deadlock", "shared-writable", "writable-in-readonly-vma", "invariant")


@dataclass(frozen=True)
class LiveJudgement:
    judgement: Judgement
    fired: Counter[str] = field(default_factory=Counter)  # declared name -> rows explained

    @property
    def agrees(self) -> bool:
        return self.judgement.agrees


def _explain(rows: list[Row], ctx: Context) -> tuple[list[Row], Counter[str]]:
    fired: Counter[str] = Counter()
    # max-swapfiles on a result decides whether the device rows that follow are explained
    for row in rows:
        if not hasattr(row, "fields") and explaining(row, ctx) == "max-swapfiles":
            ctx = replace(ctx, swap_limit_fired=True)
            break
    left = []
    for row in rows:
        name = explaining(row, ctx)
        if name is None:
            left.append(row)
        else:
            fired[name] += 1
    return left, fired


def judge_live(program: Program, run: LiveRun, *, level: str = "all") -> LiveJudgement:
    contract = check_level(level) == CONTRACT
    allowed = spec_outcomes(program)
    outcome = run.outcome
    ops = program.ops()
    best = None
    for index, candidate in enumerate(allowed):
        if contract:
            keys = set(candidate.state) | set(outcome.state)
            spec_state, model_state = contract_view(candidate, keys), contract_view(outcome, keys)
        else:
            spec_state, model_state = candidate.state, outcome.state
        rows: list[Row] = [*compare_results(ops, candidate.results, outcome.results),
                           *compare_states(spec_state, model_state)]
        left, fired = _explain(rows, Context(program, candidate, run))
        # fewest rows left, then fewest explained: an outcome the kernel matched exactly beats
        # one that needs declared differences (which would then be counted as fired)
        score = (len(left), sum(fired.values()), len(candidate.allowances), index)
        if best is None or score < best[0]:
            best = (score, candidate, left, fired)
    assert best is not None, "the spec allows at least one outcome"
    _, candidate, left, fired = best
    raw = judge(program, [candidate], outcome, level=level)
    if raw.divergence is None:
        return LiveJudgement(raw, fired)
    kept_classes = {FIELD_CLASS[f] for row in left if hasattr(row, "fields") for f in row.fields}
    kept_classes |= {result_class(ops, row) for row in left if not hasattr(row, "fields")}
    signatures = tuple(s for s in raw.divergence.signatures
                       if s.cls in kept_classes or s.family in _ROWLESS)
    if not signatures:
        return LiveJudgement(Judgement(outcome, None, candidate.allowances, candidate), fired)
    divergence = replace(
        raw.divergence,
        signatures=signatures,
        pte_rows=tuple(r for r in raw.divergence.pte_rows
                       if any(FIELD_CLASS[f] in kept_classes for f in r.fields)),
        result_rows=tuple(r for r in raw.divergence.result_rows
                          if result_class(ops, r) in kept_classes),
    )
    return LiveJudgement(Judgement(outcome, divergence, frozenset(), None), fired)
