"""Invariants I1-I7: they fire on broken states, skip structures under update, and never fire
on the post-fix model in any interleaving of small races (explored exhaustively by replay)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ptediff import impls
from ptediff.core.outcome import Outcome
from ptediff.core.program import (
    Exit,
    Fault,
    Fork,
    Map,
    Migrate,
    Mprotect,
    Munmap,
    Op,
    Pageout,
    Parallel,
    Program,
    Prot,
    Swapon,
    Thread,
)
from ptediff.impls.invariants import InvariantChecker
from ptediff.impls.pte import PresentPte, SwapPte
from ptediff.impls.testing import booted, drive, mapped

A = 0x1000


def names(checker: InvariantChecker) -> list[str]:
    return [v.name for v in checker.violations]


def test_mapcount_and_cow_invariants_fire_and_wait_for_free_ptls() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, A, 2)
    drive(kernel, kernel.anon_vma_prepare(vma))
    page = kernel.alloc_page()
    kernel.page_add_new_anon_rmap(page, vma, A)
    table = kernel.pte_alloc(mm, A)
    table.ptes[A] = PresentPte(page.pfn, write=True)
    table.ptes[A + 0x1000] = PresentPte(page.pfn, write=True)  # mapcount says 1
    checker = InvariantChecker(kernel)
    drive(kernel, kernel.lock_page(page, "test"))
    table.ptl.owner = page.lock.owner  # a task is mid-update under this page table's lock
    checker.after_step(7)
    assert names(checker) == []
    table.ptl.owner = None
    checker.after_step(7)
    assert names(checker) == ["I3", "I4"]
    assert checker.violations[0].op == 7
    checker.after_step(8)
    assert len(checker.violations) == 2  # deduplicated


def test_writable_pte_in_read_only_vma() -> None:
    kernel, mm = booted()
    mapped(kernel, mm, A, prot=Prot.R)
    page = kernel.alloc_page()
    page.mapcount = 1
    kernel.pte_alloc(mm, A).ptes[A] = PresentPte(page.pfn, write=True)
    checker = InvariantChecker(kernel)
    checker.after_step(None)
    assert names(checker) == ["I5"]


def test_migration_entry_invariants() -> None:
    kernel, mm = booted()
    mapped(kernel, mm, A)
    page = kernel.alloc_page()
    kernel.pte_alloc(mm, A).ptes[A] = SwapPte(kernel.enc.swp_entry(30, page.pfn))
    checker = InvariantChecker(kernel)
    checker.on_page_unlock(page, 3)
    checker.after_step(3)
    assert names(checker) == ["I2", "I1"]


def test_anon_vma_order_and_swap_types() -> None:
    kernel, mm = booted(impls.REGISTRY["prefix"])
    vma = mapped(kernel, mm, A)
    drive(kernel, kernel.anon_vma_prepare(vma))
    child = kernel.new_mm("p1")
    drive(kernel, kernel.dup_mmap(child, mm))
    for _ in range(kernel.enc.max_swapfiles + 1):
        drive(kernel, kernel.sys_swapon(1, None))
    checker = InvariantChecker(kernel)
    checker.after_step(None)
    assert names(checker) == ["I6", "I7", "I7"]


# -- exhaustive exploration of small races on the post-fix model -------------------------------


def with_schedule(program: Program, schedule: tuple[int, ...]) -> Program:
    steps = tuple(
        replace(s, schedule=schedule) if isinstance(s, Parallel) else s for s in program.steps
    )
    return replace(program, steps=steps)


def every_interleaving(program: Program, impl: str = "postfix") -> list[Outcome]:
    """Depth-first over every schedule of the program's one parallel block, by replay."""
    outcomes = []
    pending: list[tuple[int, ...]] = [()]
    while pending:
        prefix = pending.pop()
        out = impls.run(impl, with_schedule(program, prefix))
        outcomes.append(out)
        taken = tuple(step.thread for step in out.trace)
        for i in range(len(prefix), len(taken)):
            pending.extend((*taken[:i], alt) for alt in out.trace[i].runnable if alt != taken[i])
    return outcomes


def race(*setup: Op, threads: tuple[Op, ...]) -> Program:
    written = (Map("p0", A, 1, Prot.RW), Fault("p0", A, True, 7))
    return Program((*written, *setup, Parallel(tuple(Thread((op,)) for op in threads))))


FAST_RACES = {
    "unlocked-migrate-vs-fork": race(
        threads=(Migrate("p0", A, 1, unlocked=True), Fork("p0", "p1"))
    ),
    "unlocked-migrate-vs-mprotect": race(
        threads=(Migrate("p0", A, 1, unlocked=True), Mprotect("p0", A, 1, Prot.R))
    ),
    "unlocked-migrate-vs-exit": race(
        Fork("p0", "p1"), threads=(Migrate("p1", A, 1, unlocked=True), Exit("p0"))
    ),
    "pageout-vs-cow-fault": race(
        Swapon(4), Fork("p0", "p1"), threads=(Pageout("p0", A), Fault("p1", A, True, 3))
    ),
}
SLOW_RACES = {
    "locked-migrate-vs-grandchild-fork": race(
        Fork("p0", "p1"), threads=(Migrate("p0", A, 1), Fork("p1", "p2"))
    ),
    "migrate-vs-write-fault": race(threads=(Migrate("p0", A, 1), Fault("p0", A, True, 5))),
    "migrate-vs-pageout": race(Swapon(4), threads=(Migrate("p0", A, 1), Pageout("p0", A))),
}


def assert_all_clean(outcomes: list[Outcome]) -> None:
    assert len(outcomes) > 1
    for out in outcomes:
        assert out.violations == [], out.trace
        assert out.bugs == [] and out.deadlock is None
        assert all(s.kind != "migration" for s in out.state.values())


@pytest.mark.parametrize("name", sorted(FAST_RACES))
def test_postfix_never_violates_an_invariant(name: str) -> None:
    assert_all_clean(every_interleaving(FAST_RACES[name]))


def test_unlocked_migrate_vs_munmap_only_ever_shows_the_latent_anon_vma_use_after_free() -> None:
    """With no mmap_sem, munmap can free the anon_vma while the migration's pages are all
    migration entries; remove_anon_migration_ptes then locks the freed anon_vma (latent in the
    2006 code, which had no such caller; see docs/semantics.md)."""
    program = race(threads=(Migrate("p0", A, 1, unlocked=True), Munmap("p0", A, 1)))
    outcomes = every_interleaving(program)
    bad = [out for out in outcomes if out.bugs]
    assert bad and len(bad) < len(outcomes)
    for out in outcomes:
        assert out.violations == [] and out.deadlock is None
        assert [(b.signature_class, b.function, b.op) for b in out.bugs] in (
            [], [("use-after-free:anon_vma", "remove_anon_migration_ptes", 2)]
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW_RACES))
def test_postfix_never_violates_an_invariant_slow(name: str) -> None:
    assert_all_clean(every_interleaving(SLOW_RACES[name]))


def test_prefix_variants_do_violate_in_some_interleaving() -> None:
    outcomes = every_interleaving(FAST_RACES["unlocked-migrate-vs-fork"], "prefix-anon-vma-head")
    assert any(s.kind == "migration" for out in outcomes for s in out.state.values())
