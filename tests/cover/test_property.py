"""The differential property: one exception type per (implementation, class), schedule
variants, targets, and the budgets that let a hunt's shrinking wind down."""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from ptediff.core.outcome import Outcome, PteState, TraceStep
from ptediff.core.program import (
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
from ptediff.impls import Kernel
from ptediff.search.property import (
    BudgetSpent,
    DifferentialProperty,
    DivergenceFound,
    collect_failures,
    differential_test,
    divergence_type,
    race_targets,
    resolve_impls,
    schedule_variants,
    without_schedules,
)

SWAPONS = Program((Swapon(1), Swapon(1), Swapon(1)), config=Config(swap_bits=2))
HIGHPTE_MIGRATE = Program(
    (Map("p0", 0x1000, 1, Prot.RW), Fault("p0", 0x1000, True, 1), Migrate("p0", 0x1000, 1)),
    config=Config(highpte=True),
)
COW_RACE = Program(
    (
        Map("p0", 0x1000, 1, Prot.RW),
        Fault("p0", 0x1000, True, 1),
        Parallel(
            (Thread((Migrate("p0", 0x1000, 1, unlocked=True),)), Thread((Fork("p0", "p1"),))),
            schedule=(0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1),
        ),
    )
)


def prop_for(*names: str, **options: Any) -> DifferentialProperty:
    return DifferentialProperty(resolve_impls(names), **options)


def test_divergence_types_are_cached_per_impl_and_class() -> None:
    first = divergence_type("prefix", "shared-writable")
    assert first is divergence_type("prefix", "shared-writable")
    assert first is not divergence_type("prefix", "data")
    assert first is not divergence_type("prefix-cow-fork-write", "shared-writable")
    assert issubclass(first, DivergenceFound) and issubclass(first, AssertionError)
    assert (first.impl, first.cls) == ("prefix", "shared-writable")
    assert first.__name__ == "Divergence_prefix__shared_writable"


def test_swapon_beyond_the_limit_raises_its_own_type_on_the_prefix_variant() -> None:
    prop_for("postfix")(SWAPONS)  # agrees: no exception
    with pytest.raises(DivergenceFound) as caught:
        prop_for("postfix", "prefix-swapon-range")(SWAPONS)
    error = caught.value
    assert error.key == ("prefix-swapon-range", "kernel-bug:sys_swapon")
    assert type(error) is divergence_type("prefix-swapon-range", "kernel-bug:sys_swapon")
    assert error.program == SWAPONS
    assert error.judgement is not None and error.op == 2
    assert "prefix-swapon-range diverges from the spec: kernel-bug:sys_swapon at op 2" in str(error)


def test_ignored_classes_do_not_raise_and_the_next_impl_does() -> None:
    ignore = frozenset({("prefix-swapon-range", "kernel-bug:sys_swapon")})
    prop_for("prefix-swapon-range", ignore=ignore)(SWAPONS)
    with pytest.raises(DivergenceFound) as caught:
        prop_for("prefix-swapon-range", "prefix", ignore=ignore)(SWAPONS)
    assert caught.value.key == ("prefix", "kernel-bug:sys_swapon")


class CrashingSwapon(Kernel):
    NAME = "crashing-swapon"

    def sys_swapon(self, nslots: int, prio: int | None) -> Generator[Any, Any, int]:
        raise RuntimeError("model bug")
        yield


def test_a_crashing_model_is_a_class_of_its_own() -> None:
    with pytest.raises(DivergenceFound) as caught:
        DifferentialProperty(resolve_impls([CrashingSwapon]))(SWAPONS)
    assert caught.value.key == ("crashing-swapon", "crash:RuntimeError")
    assert caught.value.judgement is None
    assert "model bug" in str(caught.value)


def test_observer_sees_every_impl_and_the_spec_runs_once() -> None:
    seen: list[tuple[str, bool]] = []
    prop = prop_for(
        "postfix",
        "prefix-pte-unmap-arg",
        ignore=frozenset({("prefix-pte-unmap-arg", "kmap-leak:remove_migration_pte")}),
        observer=lambda program, judged: seen.extend(
            (n, j is not None and j.agrees) for n, j in judged
        ),
    )
    prop(HIGHPTE_MIGRATE)
    assert seen == [("postfix", True), ("prefix-pte-unmap-arg", False)]
    prop(HIGHPTE_MIGRATE)  # cached: same judgements again, nothing re-run
    assert len(seen) == 4 and len(prop._runs) == 1


def test_hypothesis_reports_each_class_separately() -> None:
    prop = prop_for("prefix-swapon-range", "prefix-pte-unmap-arg")
    test = differential_test(prop, st.sampled_from([SWAPONS, HIGHPTE_MIGRATE]))
    test = settings(database=None, max_examples=20, phases=[Phase.generate, Phase.shrink])(test)
    with pytest.raises(BaseException) as caught:
        test()
    collected = collect_failures(caught.value)
    assert collected.errors == []
    assert sorted(d.key for d in collected.divergences) == [
        ("prefix-pte-unmap-arg", "kmap-leak:remove_migration_pte"),
        ("prefix-swapon-range", "kernel-bug:sys_swapon"),
    ]


def test_schedule_variants_are_a_fixed_function_of_the_program() -> None:
    variants = schedule_variants(COW_RACE, 4)
    assert len(variants) == 4 and variants[0] == COW_RACE
    schedules = [p.blocks()[0].schedule for p in variants]
    assert schedules[1] == (1, 1, 1, 1, 1)  # trailing thread-0 steps are dropped
    assert schedules[2] == (0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1)
    assert len(set(schedules)) == 4
    assert schedule_variants(COW_RACE, 4) == variants
    sequential = without_schedules(COW_RACE)
    assert sequential.blocks()[0].schedule is None
    assert schedule_variants(sequential, 4) == [sequential]


def test_a_variant_schedule_finds_the_race_and_the_error_carries_it() -> None:
    threads = COW_RACE.blocks()[0].threads
    drawn = Parallel(threads, schedule=(1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1))
    program = Program((*COW_RACE.steps[:2], drawn))
    prop_for("prefix-cow-fork-write")(program)  # the fork copies the pte first: no race
    with pytest.raises(DivergenceFound) as caught:
        prop_for("prefix-cow-fork-write", schedule_variants=2)(program)
    assert caught.value.key == ("prefix-cow-fork-write", "shared-writable")
    # the variant with the threads' roles swapped: the migration runs first
    rotated = Parallel(threads, schedule=(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1))
    assert caught.value.program == Program((*COW_RACE.steps[:2], rotated))


def test_race_targets_count_steps_inside_a_migration_window() -> None:
    trace = [
        TraceStep(0, 0, "sys_move_pages", 2),
        TraceStep(0, 0, "try_to_unmap_one", 2),
        TraceStep(0, 1, "do_fork", 3),
        TraceStep(0, 1, "copy_pte_range", 3),
        TraceStep(0, 0, "remove_anon_migration_ptes", 2),
        TraceStep(0, 1, "copy_pte_range", 3),
    ]
    state = {
        ("p0", 0x1000): PteState("present", True, 7, 1, 1),
        ("p1", 0x1000): PteState("present", True, 7, 1, 1),
        ("p1", 0x2000): PteState("present", False, 8, 0, 0),
    }
    targets = race_targets(Outcome(state=state, trace=trace))
    assert targets == {"steps-inside-migration": 2.0, "sharers-of-migrated-page": 2.0}
    assert race_targets(Outcome()) == {
        "steps-inside-migration": 0.0,
        "sharers-of-migrated-page": 0.0,
    }


def test_budgets_stop_the_run_but_keep_known_results() -> None:
    prop = prop_for("prefix-swapon-range", shrink_budget=1)
    bigger = Program((Swapon(1), Swapon(1), Swapon(2), Swapon(1)), config=Config(swap_bits=2))
    with pytest.raises(DivergenceFound):
        prop(bigger)
    with pytest.raises(DivergenceFound):
        prop(SWAPONS)  # one call after the first failure: still run
    unseen = Program((Swapon(4), Swapon(1), Swapon(1)), config=Config(swap_bits=2))
    with pytest.raises(BudgetSpent):
        prop(unseen)  # over budget: stops the whole hypothesis run
    assert unseen not in prop._runs
    with pytest.raises(DivergenceFound):
        prop(bigger)  # known failures still fail: nothing turns flaky
    assert prop.smallest[("prefix-swapon-range", "kernel-bug:sys_swapon")].program == SWAPONS
    late = prop_for("prefix-swapon-range", deadline=time.monotonic() - 1)
    with pytest.raises(BudgetSpent):
        late(SWAPONS)
    assert late._runs == {}
