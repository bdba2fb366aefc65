"""Every outcome a program may have: top-level steps in order, parallel blocks in every
linearization (each thread's operations in order), plus the branches of the allowances.

A *world* is one partial run: a state, the results so far, the allowances used, the
checkpoints. Worlds are deduplicated after every step (states up to renaming of pages and
slots), and a world that needed a superset of the allowances of an otherwise identical one is
dropped: the smaller set already allows everything it leads to.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from difftest.canon import canonical_state, outcome_key
from difftest.outcome import Key, Outcome, PteState
from difftest.program import Op, Parallel, Program, Result
from spec.allowances import Concurrent, step
from spec.snapshot import fingerprint, pte_states, vma_prots
from spec.state import SpecState


@dataclass(frozen=True)
class World:
    state: SpecState
    results: dict[int, Result]
    allowances: frozenset[str] = frozenset()
    checkpoints: tuple[dict[Key, PteState], ...] | None = None

    def identity(self) -> Hashable:
        """What must match for two worlds to be interchangeable (allowances aside)."""
        checkpoints = (
            None if self.checkpoints is None
            else tuple(canonical_state(c) for c in self.checkpoints)
        )
        return (fingerprint(self.state), tuple(sorted(self.results.items())), checkpoints)


def run(program: Program, *, checkpoints: bool = False) -> list[Outcome]:
    """Every allowed outcome of `program`, deduplicated, plain linearizations first."""
    worlds = [World(SpecState(program.config), {}, frozenset(), () if checkpoints else None)]
    next_id = 0
    for item in program.steps:
        if isinstance(item, Parallel):
            worlds = [w for world in worlds for w in _run_block(world, item, next_id)]
            next_id += sum(len(t.ops) for t in item.threads)
        else:
            worlds = [w for world in worlds for w in _advance(world, next_id, item, ())]
            next_id += 1
        if checkpoints:
            worlds = [_with_checkpoint(w) for w in worlds]
        worlds = _prune((w.identity(), w) for w in worlds)
    return _outcomes(worlds, checkpoints)


def _advance(
    world: World, op_id: int, op: Op, concurrent: tuple[Concurrent, ...]
) -> list[World]:
    return [
        World(b.state, {**world.results, **b.results}, world.allowances | b.allowances,
              world.checkpoints)
        for b in step(world.state, op_id, op, concurrent)
    ]


def _run_block(world: World, block: Parallel, first_id: int) -> list[World]:
    """Every linearization of the block (with allowance branches), as finished worlds."""
    ids: list[list[int]] = []
    next_id = first_id
    for thread in block.threads:
        ids.append(list(range(next_id, next_id + len(thread.ops))))
        next_id += len(thread.ops)

    def heads(done: frozenset[int]) -> list[tuple[int, int, Op]]:
        """(thread, op id, op) of every thread's next operation."""
        found = []
        for t, thread in enumerate(block.threads):
            pending = [i for i, op_id in enumerate(ids[t]) if op_id not in done]
            if pending:
                found.append((t, ids[t][pending[0]], thread.ops[pending[0]]))
        return found

    finished: list[World] = []
    start = world
    stack = [start]
    seen = {_block_key(start)}
    while stack:
        current = stack.pop()
        done = frozenset(current.results)
        runnable = heads(done)
        if not runnable:
            finished.append(current)
            continue
        for t, op_id, op in runnable:
            concurrent = tuple(Concurrent(i, o) for u, i, o in runnable if u != t)
            for nxt in _advance(current, op_id, op, concurrent):
                key = _block_key(nxt)
                if key not in seen:
                    seen.add(key)
                    stack.append(nxt)
    return finished


def _block_key(world: World) -> Hashable:
    # Checkpoints do not change inside a block, so they are left out of the key.
    return (fingerprint(world.state), tuple(sorted(world.results.items())), world.allowances)


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
