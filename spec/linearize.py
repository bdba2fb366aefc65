"""Every outcome a program may have: top-level steps in order, parallel blocks in every
linearization (each thread's operations in order), plus the branches of the allowances.

A *world* is one partial run: a state, the results so far, the allowances used, the
checkpoints, and inside a block the operations left in flight by an allowance. Worlds are
deduplicated after every step (states up to renaming of pages and slots), and a world that
needed a superset of the allowances of an otherwise identical one is dropped: the smaller set
already allows everything it leads to.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from ptediff.core.canon import canonical_state, outcome_key
from ptediff.core.outcome import Key, Outcome, PteState
from ptediff.core.program import Op, Parallel, Program, Result
from ptediff.spec.branch import Branch, Concurrent, Pending
from ptediff.spec.snapshot import fingerprint, pte_states, vma_prots
from ptediff.spec.state import SpecState
from ptediff.spec.step import finish, step


@dataclass(frozen=True)
class World:
    state: SpecState
    results: dict[int, Result]
    allowances: frozenset[str] = frozenset()
    checkpoints: tuple[dict[Key, PteState], ...] | None = None
    pending: dict[int, Pending] = field(default_factory=dict)  # thread -> op in flight

    def identity(self) -> Hashable:
        """What must match for two worlds to be interchangeable (allowances aside)."""
        checkpoints = (
            None if self.checkpoints is None
            else tuple(canonical_state(c) for c in self.checkpoints)
        )
        threads = sorted(self.pending)
        return (
            fingerprint(self.state, [self.pending[t].page for t in threads]),
            tuple((t, self.pending[t].op_id) for t in threads),
            tuple(sorted(self.results.items())),
            checkpoints,
        )

    def after(self, branch: Branch, thread: int) -> World:
        """This world once `thread` took a step with outcome `branch`."""
        pending = {t: p for t, p in self.pending.items() if p.op_id not in branch.results}
        if branch.pending is not None:
            pending[thread] = branch.pending
        return World(branch.state, {**self.results, **branch.results},
                     self.allowances | branch.allowances, self.checkpoints, pending)


def run(program: Program, *, checkpoints: bool = False) -> list[Outcome]:
    """Every allowed outcome of `program`, deduplicated, plain linearizations first."""
    worlds = [World(SpecState(program.config), {}, frozenset(), () if checkpoints else None)]
    next_id = 0
    for item in program.steps:
        if isinstance(item, Parallel):
            worlds = [w for world in worlds for w in _run_block(world, item, next_id)]
            next_id += sum(len(t.ops) for t in item.threads)
        else:
            worlds = [world.after(b, 0) for world in worlds
                      for b in step(world.state, next_id, item, ())]
            next_id += 1
        if checkpoints:
            worlds = [_with_checkpoint(w) for w in worlds]
        if len(worlds) > 1:  # one world has nothing to deduplicate against
            worlds = _prune((w.identity(), w) for w in worlds)
    return _outcomes(worlds, checkpoints)


def _run_block(world: World, block: Parallel, first_id: int) -> list[World]:
    """Every linearization of the block (with allowance branches), as finished worlds."""
    ids: list[list[int]] = []
    next_id = first_id
    for thread in block.threads:
        ids.append(list(range(next_id, next_id + len(thread.ops))))
        next_id += len(thread.ops)

    def heads(current: World) -> list[tuple[int, int, Op]]:
        """(thread, op id, op) of every thread's next (or in-flight) operation."""
        found = []
        for t, thread in enumerate(block.threads):
            pending = [i for i, op_id in enumerate(ids[t]) if op_id not in current.results]
            if pending:
                found.append((t, ids[t][pending[0]], thread.ops[pending[0]]))
        return found

    finished: list[World] = []
    stack = [world]
    seen = {_block_key(world)}
    while stack:
        current = stack.pop()
        runnable = heads(current)
        if not runnable:
            finished.append(current)
            continue
        for t, op_id, op in runnable:
            if t in current.pending:
                branches = finish(current.state, current.pending[t],
                                  others_running=len(runnable) > 1)
            else:
                concurrent = tuple(
                    Concurrent(i, o, current.pending[u].page if u in current.pending else None)
                    for u, i, o in runnable if u != t
                )
                branches = step(current.state, op_id, op, concurrent)
            for branch in branches:
                nxt = current.after(branch, t)
                key = _block_key(nxt)
                if key not in seen:
                    seen.add(key)
                    stack.append(nxt)
    return finished


def _block_key(world: World) -> Hashable:
    # Checkpoints do not change inside a block: they are left out of the key.
    return (replace(world, checkpoints=None).identity(), world.allowances)


def _with_checkpoint(world: World) -> World:
    assert world.checkpoints is not None
    return replace(world, checkpoints=(*world.checkpoints, pte_states(world.state)))


T = TypeVar("T", World, Outcome)


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


def _outcomes(worlds: list[World], checkpoints: bool) -> list[Outcome]:
    outcomes = [
        Outcome(
            results=dict(sorted(w.results.items())),
            state=pte_states(w.state),
            allowances=w.allowances,
            vma_prot=vma_prots(w.state),
            checkpoints=list(w.checkpoints) if w.checkpoints is not None else None,
        )
        for w in worlds
    ]
    distinct = _prune((outcome_key(o, with_checkpoints=checkpoints), o) for o in outcomes)
    return sorted(distinct, key=lambda o: (len(o.allowances), sorted(o.allowances)))
