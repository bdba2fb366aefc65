"""One parallel block: every linearization of its threads plus the allowances' branches.

A *world* is one partial run inside the block: a state, the results so far, the allowances
used, and the operations left in flight by an allowance. The block's worlds are searched depth
first and deduplicated (states up to renaming of pages and slots). A thread whose next
operation commutes with everything the other threads have left runs alone
(`ptediff.spec.reduction`): the other orders reach the same outcomes.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from ptediff.core.errors import BudgetExceeded
from ptediff.core.outcome import Key, PteState
from ptediff.core.program import Parallel, Result
from ptediff.spec.branch import Branch, Concurrent, Pending
from ptediff.spec.reduction import Footprints, independent_thread
from ptediff.spec.snapshot import fingerprint
from ptediff.spec.state import SpecState
from ptediff.spec.step import finish, step

BUDGET_HINT = (
    "a parallel block has too many interleavings for the spec: use fewer threads or fewer "
    "operations per thread (operations on unrelated processes and pages are cheap; swapons, "
    "and pageouts while swap is on, all race), or raise the limit with "
    "spec.run(..., max_states=N)"
)


class Budget:
    """States kept so far against the limit (deterministic: a count, never a clock)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, states: int = 1) -> None:
        self.used += states
        if self.used > self.limit:
            raise BudgetExceeded("spec states", self.limit, BUDGET_HINT)


@dataclass(frozen=True)
class World:
    state: SpecState
    results: dict[int, Result]
    allowances: frozenset[str] = frozenset()
    checkpoints: tuple[dict[Key, PteState], ...] | None = None
    pending: dict[int, Pending] = field(default_factory=dict)  # thread -> op in flight

    def after(self, branch: Branch, thread: int) -> World:
        """This world once `thread` took a step with outcome `branch`."""
        pending = {t: p for t, p in self.pending.items() if p.op_id not in branch.results}
        if branch.pending is not None:
            pending[thread] = branch.pending
        return World(branch.state, {**self.results, **branch.results},
                     self.allowances | branch.allowances, self.checkpoints, pending)

    def key(self) -> Hashable:
        """What tells two worlds of one block apart, allowances aside (a block's worlds hold
        only its own results: `run_block` starts from none)."""
        threads = sorted(self.pending)
        return (
            fingerprint(self.state, [self.pending[t].page for t in threads]),
            tuple((t, self.pending[t].op_id) for t in threads),
            tuple(sorted(self.results.items())),
        )


def run_block(
    state: SpecState, block: Parallel, first_id: int, budget: Budget, reduce: bool = True
) -> list[World]:
    """Every linearization of the block from `state` (with allowance branches), as finished
    worlds holding only the block's own results and allowances."""
    ids: list[list[int]] = []
    next_id = first_id
    for thread in block.threads:
        ids.append(list(range(next_id, next_id + len(thread.ops))))
        next_id += len(thread.ops)

    footprints = Footprints.of([thread.ops for thread in block.threads])

    finished: list[World] = []
    start = World(state, {})
    stack = [start]
    # Per key, the allowance sets already met. A world whose allowances are a superset of an
    # identical world's is dropped: every outcome it leads to, the other one reaches with
    # fewer allowances, and the spec keeps only the smaller set's.
    seen: dict[Hashable, list[frozenset[str]]] = {start.key(): [start.allowances]}
    budget.charge()

    def push(nxt: World) -> None:
        met = seen.setdefault(nxt.key(), [])
        if not any(allowances <= nxt.allowances for allowances in met):
            met.append(nxt.allowances)
            budget.charge()
            stack.append(nxt)

    while stack:
        current = stack.pop()
        done = [sum(1 for op_id in thread_ids if op_id in current.results) for thread_ids in ids]
        runnable = [(t, ids[t][k], block.threads[t].ops[k]) for t, k in enumerate(done)
                    if k < len(ids[t])]
        if not runnable:
            finished.append(current)
            continue
        if reduce and not current.pending:
            alone = independent_thread(
                current.state, [(t, op) for t, _, op in runnable], done, footprints
            )
            if alone is not None:
                t, op_id, op = next(head for head in runnable if head[0] == alone)
                push(current.after(step(current.state, op_id, op, ())[0], t))
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
                push(current.after(branch, t))
    return finished

