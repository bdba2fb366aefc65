"""The seeded bugs: each fix folded into commit 0697212a, the variant that reverts it alone,
the divergence class that variant is expected to show, and the known minimal program.

`prefix` reverts all four fixes, so it is searched for all four classes at once (one search per
seed, each class timed on its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from ptediff.core.program import (
    INITIAL_PROC,
    PAGE_SIZE,
    Config,
    Fault,
    Fork,
    Map,
    Migrate,
    Parallel,
    Program,
    Prot,
    Swapon,
    Thread,
)

PREFIX = "prefix"
PAGE = PAGE_SIZE  # canonical programs start at 0x1000 (simplify's canonical form)


@dataclass(frozen=True)
class SeededBug:
    fix: int
    variant: str  # the registered single-fix variant
    expected: str  # divergence class a search must report for it
    minimal: Program  # the known minimal program (schedule left to exploration)
    racy: bool  # needs a parallel block: the minimal preemptions come from exploration

    @property
    def label(self) -> str:
        return f"fix {self.fix}"


def _touched_page() -> tuple[Map, Fault]:
    return Map(INITIAL_PROC, PAGE, 1, Prot.RW), Fault(INITIAL_PROC, PAGE, write=True, value=1)


def _migration_racing_fork(first: str) -> Program:
    """map, write fault, parallel {migrate unlocked | fork}: the fix 1 and fix 3 minimum.

    `first`: which thread comes first ("migrate" or "fork"); a search may settle on either.
    """
    migrate = Thread((Migrate(INITIAL_PROC, PAGE, 1, unlocked=True),))
    fork = Thread((Fork(INITIAL_PROC, "p1"),))
    threads = (migrate, fork) if first == "migrate" else (fork, migrate)
    return Program((*_touched_page(), Parallel(threads)))


SEEDED_BUGS: tuple[SeededBug, ...] = (
    SeededBug(
        1,
        "prefix-anon-vma-head",
        "orphan-migration-entry",
        _migration_racing_fork("migrate"),
        racy=True,
    ),
    SeededBug(
        2,
        "prefix-pte-unmap-arg",
        "kmap-leak:remove_migration_pte",
        Program(
            (*_touched_page(), Migrate(INITIAL_PROC, PAGE, 1)), config=Config(highpte=True)
        ),
        racy=False,
    ),
    SeededBug(
        3,
        "prefix-cow-fork-write",
        "shared-writable",
        _migration_racing_fork("migrate"),
        racy=True,
    ),
    SeededBug(
        4,
        "prefix-swapon-range",
        "result:swapon",
        Program((Swapon(1), Swapon(1), Swapon(1)), config=Config(swap_bits=2)),
        racy=False,
    ),
)

RACE_ORDERS = ("migrate", "fork")  # thread orders of the racy minimum


def minimal_variants(bug: SeededBug) -> list[Program]:
    """The known minimal program in every thread order a search may leave it in."""
    if not bug.racy:
        return [bug.minimal]
    return [_migration_racing_fork(first) for first in RACE_ORDERS]


def search_plan(only: tuple[str, ...] | None = None) -> list[tuple[str, tuple[SeededBug, ...]]]:
    """(implementation, bugs it is searched for): each variant for its own bug, then prefix
    for all four. `only` keeps the named implementations."""
    plan = [(bug.variant, (bug,)) for bug in SEEDED_BUGS]
    plan.append((PREFIX, SEEDED_BUGS))
    if only is not None:
        plan = [entry for entry in plan if entry[0] in only]
    return plan


def bug_impls() -> tuple[str, ...]:
    return tuple(impl for impl, _ in search_plan())
