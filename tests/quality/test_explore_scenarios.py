"""Schedule exploration of the fix-1 and fix-3 races on the real models and spec.

Each scenario is explored on the post-fix model and on the pre-fix variant that reverts the
matching fix. Exploration ignores the schedule written in the file and visits every schedule
(within the preemption bound); the counts below were measured on the current models and change
whenever a model gains or loses an interleaving point. The default suite explores with two
preemptions (both races need them); the unbounded explorations are marked slow.

Locked scenarios: p0 and p1 share a page; a migration under p0's mmap_sem races p1 forking p2
(the regression files). Unlocked ones: a kernel-initiated migration (no mmap_sem) races p0
forking p1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from ptediff import impls
from ptediff.core.program import Program
from ptediff.dsl.parse import parse, parse_file
from ptediff.search.explore import explore
from ptediff.search.explore_report import ExploreReport
from ptediff.search.pct import pct
from ptediff.search.schedules import with_schedules
from ptediff.search.tally import ImplReport, SignatureKey, canonical_outcome, spec_judge

REGRESSIONS = Path(__file__).resolve().parents[1] / "regressions"

FIX1_UNLOCKED = """
map    p0 0x1000 1 rw
fault  p0 0x1000 write 0x7
parallel {
  thread { migrate p0 0x1000 1 unlocked }
  thread { fork p0 p1 }
}
fault  p1 0x1000 read
"""

FIX3_UNLOCKED = """
map    p0 0x1000 1 rw
fault  p0 0x1000 write 0x7
parallel {
  thread { migrate p0 0x1000 1 unlocked }
  thread { fork p0 p1 }
}
fault  p1 0x1000 write 0x9
fault  p0 0x1000 read
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str  # a regression file name, or DSL text
    variant: str  # the pre-fix model that reverts the fix
    bug: tuple[SignatureKey, ...]  # the signatures that make up the bug, exactly
    bounded: tuple[int, int]  # (schedules, schedules showing the bug) with 2 preemptions
    unbounded: tuple[int, int]

    def program(self) -> Program:
        if self.source.endswith(".pte"):
            return parse_file(REGRESSIONS / self.source)
        return parse(self.source, f"<{self.name}>")


def orphan(fault_op: int) -> tuple[SignatureKey, ...]:
    return (
        SignatureKey("orphan-migration-entry", None),
        SignatureKey("kernel-bug:migration_entry_to_page", fault_op),
    )


def cow_break(read_op: int) -> tuple[SignatureKey, ...]:
    return (SignatureKey("shared-writable", None), SignatureKey("data", read_op))


SCENARIOS = [
    Scenario("fix1-locked", "fix1.pte", "prefix-anon-vma-head", orphan(5), (105, 2), (6866, 1166)),
    Scenario(
        "fix1-unlocked", FIX1_UNLOCKED, "prefix-anon-vma-head", orphan(4), (78, 2), (2118, 532)
    ),
    Scenario(
        "fix3-locked", "fix3.pte", "prefix-cow-fork-write", cow_break(6), (105, 20), (6866, 3954)
    ),
    Scenario(
        "fix3-unlocked",
        FIX3_UNLOCKED,
        "prefix-cow-fork-write",
        cow_break(5),
        (78, 16),
        (2118, 1071),
    ),
]
IDS = [s.name for s in SCENARIOS]


def assert_bug_observed(
    report: ExploreReport, scenario: Scenario, schedules: int, buggy: int
) -> None:
    post, pre = report.impl("postfix"), report.impl(scenario.variant)
    for impl in (post, pre):
        assert impl.complete
        assert impl.schedules == impl.distinct_schedules == schedules
    # Post-fix: every schedule gives an outcome the spec allows.
    assert post.agreeing == schedules
    assert post.signatures == {}
    for signature in scenario.bug:
        assert post.observe(signature) == "Never"
        assert pre.observe(signature) == "Sometimes"
        assert pre.hits(signature) == buggy
    assert_witnesses_replay(report.program, pre, scenario)


def assert_witnesses_replay(program: Program | None, impl: ImplReport, scenario: Scenario) -> None:
    """The witness of the bug, written as the block's schedule, shows the bug on its own."""
    assert program is not None
    judge, _ = spec_judge(program)
    for signature in scenario.bug:
        witness = impl.witness(signature)
        assert witness is not None
        replayed = impls.run(scenario.variant, with_schedules(program, witness))
        assert signature in judge(replayed).signatures


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_two_preemptions_find_the_bug_in_some_schedules_of_the_variant_only(
    scenario: Scenario,
) -> None:
    report = explore(scenario.program(), ["postfix", scenario.variant], preemption_bound=2)
    assert_bug_observed(report, scenario, *scenario.bounded)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_every_schedule_is_explored(scenario: Scenario) -> None:
    report = explore(scenario.program(), ["postfix", scenario.variant], preemption_bound=None)
    assert_bug_observed(report, scenario, *scenario.unbounded)


@pytest.mark.parametrize("scenario", SCENARIOS[:1], ids=IDS[:1])
def test_without_preemptions_the_race_window_is_never_hit(scenario: Scenario) -> None:
    report = explore(scenario.program(), [scenario.variant], preemption_bound=0)
    impl = report.impl(scenario.variant)
    assert impl.complete and impl.schedules == 2
    assert all(impl.observe(signature) == "Never" for signature in scenario.bug)


def test_pct_finds_the_fork_write_bug_at_depth_two() -> None:
    scenario = SCENARIOS[2]
    report = pct(scenario.program(), ["postfix", scenario.variant], runs=100, depth=2, seed=0)
    assert report.pct is not None
    assert (report.pct.threads, report.pct.depth) == (2, 2)
    assert report.pct.probability_bound == pytest.approx(1 / (2 * report.pct.steps))
    post, pre = report.impl("postfix"), report.impl(scenario.variant)
    assert post.schedules == pre.schedules == 100
    for signature in scenario.bug:
        assert post.observe(signature) == "Never"
        assert pre.observe(signature) == "Sometimes"
    assert_witnesses_replay(report.program, pre, scenario)


@pytest.mark.slow
def test_pct_finds_the_orphan_at_depth_three() -> None:
    scenario = SCENARIOS[0]
    report = pct(scenario.program(), [scenario.variant], runs=1000, depth=3, seed=0)
    pre = report.impl(scenario.variant)
    assert all(pre.observe(signature) == "Sometimes" for signature in scenario.bug)


@pytest.mark.slow
def test_pct_outcomes_are_among_the_exhaustive_ones() -> None:
    scenario = SCENARIOS[3]
    program = scenario.program()
    exhaustive = explore(program, [scenario.variant], preemption_bound=None)
    sampled = pct(program, [scenario.variant], runs=300, depth=3, seed=5)
    reached = set(exhaustive.impls[0].outcomes)
    assert set(sampled.impls[0].outcomes) <= reached
    # And each outcome's witness, replayed, ends in that outcome.
    for outcome_class in exhaustive.impls[0].outcomes.values():
        replayed = impls.run(scenario.variant, with_schedules(program, outcome_class.witness))
        assert canonical_outcome(replayed) == outcome_class.outcome
