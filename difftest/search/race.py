"""The race phase of the differential property: a promising program's parallel blocks explored
exhaustively at a small preemption bound, on each model.

A drawn schedule (and its few variants) hits a race window only by luck: the windows of the
migration races are a few steps wide in runs of a dozen steps or more. Model runs are cheap
next to drawing a program and running the spec on it (about 0.3 ms against a few ms), so a
program whose blocks can race also runs under every schedule with at most `RACE_BOUND`
preemptions (CHESS-style context bounding, `ptediff.search.schedules.ScheduleEnumerator`), up
to `RACE_SCHEDULES` of them. The spec's outcomes do not depend on a
schedule, so one spec run judges them all. Everything is a fixed function of the program: the
property stays deterministic, and a divergence carries the witness schedule that shows it.

*Promising*: some block has two threads of which one does something that can race with a
page another thread holds — a migrate, a pageout, an mprotect, a munmap, a fork or an exit —
the operations of the bugs this tool is for (migration entries against fork, COW, protection
changes, teardown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ptediff.core.outcome import Outcome
from ptediff.core.program import Exit, Fork, Migrate, Mprotect, Munmap, Pageout, Program
from ptediff.search.schedules import ScheduleEnumerator
from ptediff.search.shrink_passes import with_schedules

RACE_BOUND = 2  # the folded fixes' races need 1 (fix 3) and 2 (fix 1) preemptions
RACE_SCHEDULES = 80  # per model and program: fix 1's 4-op form has 78 schedules at bound 2
RACING = (Migrate, Pageout, Mprotect, Munmap, Fork, Exit)


def promising(program: Program) -> bool:
    """Whether some block has a racing operation (see the module docstring)."""
    return any(
        len(block.threads) >= 2
        and any(isinstance(op, RACING) for thread in block.threads for op in thread.ops)
        for block in program.blocks()
    )


def race_runs(
    program: Program, run: Callable[[Program], Outcome]
) -> Iterator[tuple[Program, Outcome]]:
    """(the program with a witness schedule, the model's outcome) for each explored schedule,
    in the enumerator's depth-first order."""
    enumerator = ScheduleEnumerator(
        program, run, preemption_bound=RACE_BOUND, max_schedules=RACE_SCHEDULES
    )
    for execution in enumerator:
        yield with_schedules(program, execution.witness), execution.outcome


# Kernel functions (the models' trace names) that open and close a migration's window: from
# the first pte replaced by a migration entry until the last entry is removed again.
UNMAP_FUNCTIONS = frozenset({"try_to_unmap", "try_to_unmap_anon", "try_to_unmap_one"})
REMOVE_FUNCTIONS = frozenset(
    {"remove_migration_ptes", "remove_anon_migration_ptes", "remove_migration_pte"}
)


RACE_TARGETS = ("steps-inside-migration", "sharers-of-migrated-page")


def race_targets(outcome: Outcome) -> dict[str, float]:
    """Quantities whose growth leads toward the migration races.

    * `steps-inside-migration`: steps other threads took while a migration had replaced ptes by
      migration entries and not yet restored them all (fix 1 and fix 3 need a fork there);
    * `sharers-of-migrated-page`: the most processes mapping one page that left node 0.
    """
    return {
        "steps-inside-migration": float(_steps_inside_migration(outcome)),
        "sharers-of-migrated-page": float(_sharers_of_migrated_page(outcome)),
    }


def _steps_inside_migration(outcome: Outcome) -> int:
    windows: dict[tuple[int, int, int], list[int]] = {}  # (block, thread, op) -> [open, close]
    for index, step in enumerate(outcome.trace):
        key = (step.block, step.thread, step.op)
        if step.function in UNMAP_FUNCTIONS and key not in windows:
            windows[key] = [index, index]
        elif step.function in REMOVE_FUNCTIONS and key in windows:
            windows[key][1] = index
    inside = 0
    for (block, thread, _), (start, end) in windows.items():
        inside += sum(
            1
            for step in outcome.trace[start + 1 : end]
            if step.block == block and step.thread != thread
        )
    return inside


def _sharers_of_migrated_page(outcome: Outcome) -> int:
    sharers: dict[object, set[str]] = {}
    for (proc, _), pte in outcome.state.items():
        moved = pte.kind == "migration" or (pte.kind == "present" and pte.node not in (None, 0))
        if moved and pte.frame is not None:
            sharers.setdefault(pte.frame, set()).add(proc)
    return max((len(procs) for procs in sharers.values()), default=0)
