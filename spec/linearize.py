"""Every outcome a program may have: top-level steps in order, parallel blocks in every
linearization (each thread's operations in order), plus the branches of the allowances.

Between top-level steps the partial runs are kept *grouped by state*: one state (up to
renaming of pages and slots) with every history that reached it — the results so far, the
allowances used, the checkpoints. The future of a run depends only on its state, so each step
(and each block's enumeration, `ptediff.spec.block`) runs once per distinct state, not once per
history: a block is memoised for every history that enters it in the same state. Histories are
deduplicated, and one that needed a superset of the allowances of an otherwise identical one is
dropped: the smaller set already allows everything it leads to.

Budget: the search counts the distinct states it keeps (block states plus the histories
carried between steps). Past `max_states` (default `MAX_STATES`) it stops with
`BudgetExceeded` instead of growing without bound: memory is proportional to what is kept (a
few kilobytes per state for the small programs the DSL is for), so the budget bounds memory.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from ptediff.core.canon import canonical_state
from ptediff.core.outcome import Key, Outcome, PteState
from ptediff.core.program import Parallel, Program, Result, Step
from ptediff.spec.block import Budget, World, run_block
from ptediff.spec.snapshot import fingerprint, pte_states, vma_prots
from ptediff.spec.state import SpecState
from ptediff.spec.step import step

__all__ = ["MAX_STATES", "World", "run"]

# States the spec may keep while enumerating one program. Generated programs (blocks of at
# most four operations) stay below 3,000; 6 threads of 2 swapons each (12!/2^6 orders,
# nearly all different) would need millions.
MAX_STATES = 25_000


@dataclass(frozen=True)
class History:
    """How a run got to its state: results, allowances used, checkpoints."""

    results: dict[int, Result]
    allowances: frozenset[str] = frozenset()
    checkpoints: tuple[dict[Key, PteState], ...] | None = None

    def key(self) -> Hashable:
        checkpoints = (
            None if self.checkpoints is None
            else tuple(canonical_state(c) for c in self.checkpoints)
        )
        return (tuple(sorted(self.results.items())), checkpoints)


# A successor of a state: (state after, results fixed, allowances used)
Successor = tuple[SpecState, dict[int, Result], frozenset[str]]


@dataclass
class _Group:
    state: SpecState
    histories: list[History]


def run(
    program: Program,
    *,
    checkpoints: bool = False,
    max_states: int | None = None,
    reduce: bool = True,
) -> list[Outcome]:
    """Every allowed outcome of `program`, deduplicated, plain linearizations first.

    max_states: the state budget (default `MAX_STATES`); past it `BudgetExceeded` is raised.
    reduce: skip the orders of commuting operations (the outcomes are the same either way;
    False enumerates every linearization, for testing the reduction).
    """
    budget = Budget(MAX_STATES if max_states is None else max_states)
    groups = [_Group(SpecState(program.config), [History({}, frozenset(),
                                                         () if checkpoints else None)])]
    next_id = 0
    for item in program.steps:
        first_id = next_id
        next_id += sum(len(t.ops) for t in item.threads) if isinstance(item, Parallel) else 1
        successors = partial(_successors, item=item, first_id=first_id, budget=budget,
                             reduce=reduce)
        groups = _advance(groups, successors, checkpoints, budget)
    return _outcomes(groups, checkpoints)


def _successors(
    state: SpecState, item: Step, first_id: int, budget: Budget, reduce: bool
) -> list[Successor]:
    """Every state one top-level step (an operation or a whole block) may lead to."""
    if isinstance(item, Parallel):
        return [(end.state, end.results, end.allowances)
                for end in run_block(state, item, first_id, budget, reduce)]
    return [(b.state, b.results, b.allowances) for b in step(state, first_id, item, ())]


def _advance(
    groups: list[_Group],
    successors: Callable[[SpecState], list[Successor]],
    checkpoints: bool,
    budget: Budget,
) -> list[_Group]:
    """Every group's successors, regrouped by state, histories extended and deduplicated."""
    produced = [(group, after) for group in groups for after in successors(group.state)]
    if len(produced) == 1:  # one state: nothing to group, nothing to deduplicate
        group, (state, results, allowances) = produced[0]
        return [_Group(state, [_extended(h, state, results, allowances, checkpoints)
                               for h in group.histories])]
    by_state: dict[Hashable, tuple[_Group, int]] = {}
    regrouped: list[_Group] = []
    merged: set[int] = set()
    for group, (state, results, allowances) in produced:
        key = fingerprint(state)
        if key in by_state:
            target, index = by_state[key]
            merged.add(index)
        else:
            target = _Group(state, [])
            by_state[key] = (target, len(regrouped))
            regrouped.append(target)
        target.histories += [_extended(h, target.state, results, allowances, checkpoints)
                             for h in group.histories]
    for index in merged:  # histories from several sources may now coincide
        regrouped[index].histories = _prune((h.key(), h) for h in regrouped[index].histories)
    budget.charge(sum(len(g.histories) for g in regrouped))
    return regrouped


def _extended(history: History, state: SpecState, results: dict[int, Result],
              allowances: frozenset[str], checkpoints: bool) -> History:
    return History(
        {**history.results, **results},
        history.allowances | allowances,
        (*history.checkpoints, pte_states(state)) if checkpoints and history.checkpoints
        is not None else history.checkpoints,
    )


T = TypeVar("T", History, Outcome)


def _prune(keyed: Iterable[tuple[Hashable, T]]) -> list[T]:
    """Drop duplicates, and items whose allowances are a superset of an identical item's."""
    groups: dict[Hashable, list[T]] = {}
    for key, item in keyed:
        groups.setdefault(key, []).append(item)
    kept: list[T] = []
    for group in groups.values():
        group.sort(key=lambda item: (len(item.allowances), sorted(item.allowances)))
        minimal: list[T] = []
        for item in group:
            if not any(m.allowances <= item.allowances for m in minimal):
                minimal.append(item)
        kept += minimal
    return kept


def _outcomes(groups: list[_Group], checkpoints: bool) -> list[Outcome]:
    keyed = []
    # outcome_key's layout, with the canonical state computed (and hashed) once per group:
    # each distinct one becomes a small number, the same for every group that has it
    state_ids: dict[Hashable, int] = {}
    for group in groups:
        ptes = pte_states(group.state)
        prots = vma_prots(group.state)
        state_id = 0 if len(groups) == 1 else state_ids.setdefault(  # one group: one state
            (canonical_state(ptes), tuple(sorted(prots.items()))), len(state_ids))
        for h in group.histories:
            outcome = Outcome(
                results=dict(sorted(h.results.items())),
                state=dict(ptes),
                allowances=h.allowances,
                vma_prot=dict(prots),
                checkpoints=list(h.checkpoints) if h.checkpoints is not None else None,
            )
            history_checkpoints = (
                tuple(canonical_state(c) for c in h.checkpoints)
                if checkpoints and h.checkpoints is not None else None
            )
            keyed.append(((tuple(outcome.results.items()), state_id, history_checkpoints),
                          outcome))
    distinct = _prune(keyed)
    return sorted(distinct, key=lambda o: (len(o.allowances), sorted(o.allowances)))
