"""Documented allowances: results the kernel legitimately gives when operations overlap.

Inside a parallel block the allowed outcomes are first of all the linearizations (every
operation atomic). Some kernel races give results no linearization gives; each one the spec
accepts is an `Allowance` in `ALLOWANCES`, with its kernel reason in docs/semantics.md. A rule
sees the state just before an operation and the *concurrent* operations — the next operation of
every other thread of the block, the ones that may be in flight at that moment — and returns
the extra branches it allows. A branch may complete a concurrent operation together with this
one (a joint step) when the race decides both results, or leave this operation in flight
(`Branch.pending`) to be finished by a later step of its thread. Rules never fire outside
parallel blocks.

The rules live in two modules along the race's two sides: `ptediff.spec.cow_races` (the
faulting side: a write fault copying instead of reusing, a fault's access split from its
handling) and `ptediff.spec.busy_races` (the isolating side: busy migrations and pageouts,
stale lookups, a half-done mlock). This module is their table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ptediff.core.program import Op
from ptediff.spec.branch import Branch, Concurrent
from ptediff.spec.busy_races import (
    migrate_busy,
    migrate_stale_lookup,
    migrate_unlocked_vanished,
    mlock_flags_first,
    pageout_busy,
    pageout_stale_lookup,
)
from ptediff.spec.cow_races import (
    access_after_fault,
    wp_copy_racing_copy,
    wp_copy_racing_migration,
    wp_copy_racing_pageout,
)
from ptediff.spec.state import SpecState

Rule = Callable[[SpecState, int, Op, Sequence[Concurrent]], list[Branch]]


@dataclass(frozen=True)
class Allowance:
    name: str
    description: str
    rule: Rule


ALLOWANCES: tuple[Allowance, ...] = (
    Allowance(
        "wp-copy-racing-migration",
        "a write fault that would reuse a page another thread is migrating may copy it instead",
        wp_copy_racing_migration,
    ),
    Allowance(
        "wp-copy-racing-pageout",
        "a write fault that would reuse a page another thread is paging out may copy it instead",
        wp_copy_racing_pageout,
    ),
    Allowance(
        "wp-copy-racing-copy",
        "two write faults on the two mappers of one COW page may both copy it",
        wp_copy_racing_copy,
    ),
    Allowance(
        "migrate-busy",
        "a migration of a page another migrate or pageout isolates fails with -EBUSY; one "
        "racing a fault (or a swap-cache reference) on it may fail with -EAGAIN",
        migrate_busy,
    ),
    Allowance(
        "pageout-busy",
        "a pageout of a page another migrate, pageout or fault holds may leave it resident",
        pageout_busy,
    ),
    Allowance(
        "mlock-flags-first",
        "a migrate or pageout racing another process's mlock may see its vma locked before "
        "the mlock has faulted the range in (the shared page is then not unmapped there)",
        mlock_flags_first,
    ),
    Allowance(
        "access-after-fault",
        "a fault's kernel handling and the access it enables are two steps: other threads "
        "may act in between, and the access faults again if it must",
        access_after_fault,
    ),
    Allowance(
        "migrate-stale-lookup",
        "a migration moves the page it found at the address, even if the address was "
        "remapped by another thread before the move",
        migrate_stale_lookup,
    ),
    Allowance(
        "migrate-unlocked-vanished",
        "a kernel-initiated migration racing an munmap, exit or mremap of its address may "
        "find the vma and then no page (-ENOENT: zapped, moved away, or not moved in yet), or "
        "find no vma while the ptes are still there (-EFAULT)",
        migrate_unlocked_vanished,
    ),
    Allowance(
        "pageout-stale-lookup",
        "a pageout reclaims the page it found at the address, even if the address was "
        "remapped by another thread before the reclaim",
        pageout_stale_lookup,
    ),
)
ALLOWANCE_NAMES: frozenset[str] = frozenset(a.name for a in ALLOWANCES)
