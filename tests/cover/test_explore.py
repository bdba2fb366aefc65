"""Schedule enumeration and PCT sampling on a toy scheduler whose schedule counts are known.

The toy runner follows the scheduling contract of `impls.run` (docs/design.md) without any
kernel: a `map` of N pages takes N steps, a `migrate` takes 3 steps holding its page's lock, a
`fault` on a page locked by another thread cannot run, anything else takes 1 step. Each result
is the op's completion order, so the interleaving shows in the outcome.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ptediff.core.errors import ImplLoadError
from ptediff.core.outcome import Outcome, PteState, TraceStep
from ptediff.core.program import Fault, Map, Migrate, Op, Parallel, Program, Prot, Step, Thread
from ptediff.search.explore import explore
from ptediff.search.explore_report import ExploreReport
from ptediff.search.pct import PctSampler, PriorityPlan, pct
from ptediff.search.schedules import (
    Execution,
    ExploreError,
    ScheduleEnumerator,
    check_limits,
    count_preemptions,
    with_schedules,
)
from ptediff.search.tally import Judge, SignatureKey, Verdict, canonical_outcome, tally

MIGRATE_STEPS = 3


def op_steps(op: Op) -> int:
    if isinstance(op, Map):
        return op.npages
    if isinstance(op, Migrate):
        return MIGRATE_STEPS
    return 1


def toy_run(program: Program) -> Outcome:
    outcome = Outcome()
    op_id = 0
    block_index = 0
    for step in program.steps:
        if not isinstance(step, Parallel):
            outcome.results[op_id] = len(outcome.results)
            op_id += 1
            continue
        first_ids = []
        for thread in step.threads:
            first_ids.append(op_id)
            op_id += len(thread.ops)
        run_block(step, block_index, first_ids, outcome)
        block_index += 1
    return outcome


def run_block(block: Parallel, index: int, first_ids: list[int], outcome: Outcome) -> None:
    position = [0] * len(block.threads)  # next op of each thread
    done_steps = [0] * len(block.threads)  # steps taken in that op
    locks: dict[int, int] = {}  # page -> thread holding it
    schedule = block.schedule or ()

    def current(t: int) -> Op | None:
        ops = block.threads[t].ops
        return ops[position[t]] if position[t] < len(ops) else None

    def can_run(t: int) -> bool:
        op = current(t)
        if op is None:
            return False
        if isinstance(op, Fault | Migrate):
            return locks.get(op.addr, t) == t
        return True

    for k in itertools.count():
        runnable = tuple(t for t in range(len(block.threads)) if can_run(t))
        if not runnable:
            if any(current(t) is not None for t in range(len(block.threads))):
                outcome.deadlock = "toy deadlock"
            return
        wanted = schedule[k] if k < len(schedule) else None
        t = wanted if wanted in runnable else runnable[0]
        op = current(t)
        assert op is not None
        op_id = first_ids[t] + position[t]
        outcome.trace.append(TraceStep(index, t, op.KIND, op_id, runnable))
        if isinstance(op, Migrate):
            locks[op.addr] = t
        done_steps[t] += 1
        if done_steps[t] == op_steps(op):
            if isinstance(op, Migrate):
                del locks[op.addr]
            outcome.results[op_id] = len(outcome.results)
            position[t] += 1
            done_steps[t] = 0


def maps(npages: int) -> Thread:
    return Thread((Map("p0", 0x1000, npages, Prot.RW),))


def block(*lengths: int) -> Parallel:
    return Parallel(tuple(maps(n) for n in lengths))


def program(*steps: Step) -> Program:
    return Program(tuple(steps))


def schedules(prog: Program, bound: int | None) -> list[tuple[tuple[int, ...], ...]]:
    return [e.schedule for e in ScheduleEnumerator(prog, toy_run, preemption_bound=bound)]


def brute_force(lengths: tuple[int, ...], bound: int | None) -> set[tuple[int, ...]]:
    """Every interleaving of non-blocking threads with the given step counts, by preemptions."""
    pool = [t for t, n in enumerate(lengths) for _ in range(n)]
    found = set()
    for order in set(itertools.permutations(pool)):
        left = list(lengths)
        preemptions = 0
        for i, t in enumerate(order):
            if i and order[i - 1] != t and left[order[i - 1]] > 0:
                preemptions += 1
            left[t] -= 1
        if bound is None or preemptions <= bound:
            found.add(order)
    return found


# --------------------------------------------------------------------------------------------
# Enumeration


@pytest.mark.parametrize(
    ("lengths", "bound", "expected"),
    [
        ((2, 2), 0, 2),
        ((2, 2), 1, 4),
        ((2, 2), 2, 6),
        ((2, 2), None, 6),
        ((3, 3), 0, 2),
        ((3, 3), 1, 6),
        ((3, 3), None, 20),
        ((1, 1, 1), 0, 6),
        ((2, 1, 1), None, 12),
    ],
)
def test_schedule_counts_of_small_blocks(
    lengths: tuple[int, ...], bound: int | None, expected: int
) -> None:
    found = schedules(program(block(*lengths)), bound)
    assert len(found) == expected
    assert len(set(found)) == expected


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 3), min_size=2, max_size=3).filter(lambda ls: sum(ls) <= 7),
    bound=st.one_of(st.none(), st.integers(0, 3)),
)
def test_enumeration_matches_brute_force(lengths: list[int], bound: int | None) -> None:
    found = schedules(program(block(*lengths)), bound)
    assert len(found) == len(set(found))
    assert {s[0] for s in found} == brute_force(tuple(lengths), bound)


def test_blocks_are_explored_jointly_with_one_preemption_budget() -> None:
    prog = program(block(2, 2), Map("p0", 0x9000, 1, Prot.R), block(1, 1))
    assert len(schedules(prog, None)) == 6 * 2
    # The second block's switches are all forced (a thread finished): only the first preempts.
    assert len(schedules(prog, 0)) == 2 * 2
    assert len(schedules(prog, 1)) == 4 * 2
    assert all(len(s) == 2 for s in schedules(prog, None))


def test_preemptions_are_counted_over_all_blocks() -> None:
    prog = program(block(2, 2), block(2, 2))
    assert len(schedules(prog, None)) == 36
    assert len(schedules(prog, 0)) == 4
    # At most one preemption in total: 0+0, 1+0 or 0+1 of the per-block counts (2, 2, 2).
    assert len(schedules(prog, 1)) == 2 * 2 + 2 * 2 + 2 * 2


def test_blocked_threads_are_not_alternatives() -> None:
    migrate = Thread((Migrate("p0", 0x1000, 1),))
    fault = Thread((Fault("p0", 0x1000, write=False),))
    prog = program(Map("p0", 0x1000, 1, Prot.RW), Parallel((migrate, fault)))
    found = schedules(prog, None)
    # The fault goes before the migration takes the page lock or after it drops it.
    assert sorted(found) == [((0, 0, 0, 1),), ((1, 0, 0, 0),)]


def test_unbounded_enumeration_wastes_no_run_and_branches_only_on_choices() -> None:
    migrate = Thread((Migrate("p0", 0x1000, 1),))
    fault = Thread((Fault("p0", 0x1000, write=False),))
    prog = program(Parallel((migrate, fault)), block(3, 2))
    enumerator = ScheduleEnumerator(prog, toy_run, preemption_bound=None)
    found = [e.schedule for e in enumerator]
    assert enumerator.complete
    assert len(found) == 2 * 10
    assert enumerator.model_runs == len(found)


def test_bounded_enumeration_stays_within_its_bound() -> None:
    for bound in (0, 1, 2):
        enumerator = ScheduleEnumerator(program(block(3, 2, 1)), toy_run, preemption_bound=bound)
        executions = list(enumerator)
        assert executions
        assert all(e.preemptions <= bound for e in executions)
        assert all(count_preemptions(e.outcome.trace) == e.preemptions for e in executions)
        assert {e.schedule[0] for e in executions} == brute_force((3, 2, 1), bound)
        # Replays keep the last chosen thread running, so none overshoots the bound here.
        assert enumerator.model_runs == len(executions)


def test_enumeration_is_deterministic() -> None:
    prog = program(block(2, 3, 1))
    assert schedules(prog, 2) == schedules(prog, 2)


def test_a_budget_stops_early_and_says_so() -> None:
    enumerator = ScheduleEnumerator(
        program(block(3, 3)), toy_run, preemption_bound=None, max_schedules=5
    )
    assert len(list(enumerator)) == 5
    assert not enumerator.complete


def test_a_program_without_parallel_blocks_has_one_schedule() -> None:
    enumerator = ScheduleEnumerator(program(Map("p0", 0x1000, 1, Prot.RW)), toy_run)
    [execution] = list(enumerator)
    assert execution.schedule == ()
    assert enumerator.complete


def test_witnesses_are_short_and_replay_their_schedule() -> None:
    prog = program(block(2, 2), block(1, 2))
    for execution in ScheduleEnumerator(prog, toy_run, preemption_bound=None):
        replayed = toy_run(with_schedules(prog, execution.witness))
        assert [(s.block, s.thread) for s in replayed.trace] == [
            (s.block, s.thread) for s in execution.outcome.trace
        ]
        for full, short in zip(execution.schedule, execution.witness, strict=True):
            assert full[: len(short)] == short
    default = next(iter(ScheduleEnumerator(prog, toy_run)))
    assert default.witness == ((), ())


def test_an_unfaithful_replay_is_an_explore_error() -> None:
    def ignores_schedules(prog: Program) -> Outcome:
        return toy_run(with_schedules(prog, [()] * len(prog.blocks())))

    with pytest.raises(ExploreError, match="did not replay"):
        list(ScheduleEnumerator(program(block(1, 1)), ignores_schedules))


@pytest.mark.parametrize(("bound", "budget"), [(-1, None), (2, 0)])
def test_bad_limits_are_explore_errors(bound: int, budget: int | None) -> None:
    with pytest.raises(ExploreError):
        check_limits(bound, budget)
    with pytest.raises(ExploreError):
        explore(program(block(1, 1)), "postfix", preemption_bound=bound, max_schedules=budget)


# --------------------------------------------------------------------------------------------
# Canonical outcomes and the tally


def test_canonical_outcomes_rename_frames_and_slots_apart() -> None:
    def outcome(a: int, b: int, slot: int) -> Outcome:
        return Outcome(
            results={0: 0},
            state={
                ("p0", 0x1000): PteState("present", True, a, 0, 1),
                ("p1", 0x1000): PteState("migration", False, a),
                ("p1", 0x2000): PteState("present", False, b, 1, 2),
                ("p2", 0x1000): PteState("swap", False, slot, None, 3, 0),
            },
        )

    assert canonical_outcome(outcome(7, 9, 4)) == canonical_outcome(outcome(3, 1, 0))
    renamed = dict(canonical_outcome(outcome(7, 9, 4)).state)
    assert [renamed[k].frame for k in sorted(renamed)] == [0, 0, 1, 0]
    assert canonical_outcome(outcome(7, 7, 4)) != canonical_outcome(outcome(7, 9, 4))


def finished_first(op: int) -> Verdict:
    """A stand-in judge input: flags runs where op 1 finished before op 0."""
    return Verdict((SignatureKey("late", op),))


def order_judge(outcome: Outcome) -> Verdict:
    return finished_first(1) if outcome.results[1] < outcome.results[0] else Verdict(())


def test_tally_counts_outcomes_signatures_and_witnesses() -> None:
    prog = program(block(2, 2))
    report = tally("toy", ScheduleEnumerator(prog, toy_run, preemption_bound=None), order_judge)
    assert report.schedules == report.distinct_schedules == 6
    assert sorted(c.count for c in report.outcomes.values()) == [3, 3]
    late = SignatureKey("late", 1)
    assert report.hits(late) == report.hits("late") == 3
    assert report.observe(late) == "Sometimes"
    assert report.agreeing == 3
    witness = report.witness(late)
    assert witness is not None
    replayed = toy_run(with_schedules(prog, witness))
    assert order_judge(replayed).signatures == (late,)


def test_observations_never_sometimes_always() -> None:
    prog = program(block(2, 2))
    judges: dict[str, Judge] = {
        "sometimes": order_judge,
        "never": lambda o: Verdict(()),
        "always": lambda o: finished_first(1),
    }
    report = ExploreReport(
        "exhaustive",
        [
            tally(name, ScheduleEnumerator(prog, toy_run, preemption_bound=None), judge)
            for name, judge in judges.items()
        ],
        spec_outcomes=1,
    )
    late = SignatureKey("late", 1)
    assert report.signature_rows() == [late]
    assert [report.observe(name, late) for name in ("sometimes", "never", "always")] == [
        "Sometimes",
        "Never",
        "Always",
    ]
    text = report.render()
    assert "Observation late@#1" in text and "Never" in text and "Always" in text


def test_each_canonical_outcome_is_judged_once() -> None:
    calls: Counter[int] = Counter()

    def counting_judge(outcome: Outcome) -> Verdict:
        calls[outcome.results[0]] += 1
        return order_judge(outcome)

    tally(
        "toy",
        ScheduleEnumerator(program(block(3, 3)), toy_run, preemption_bound=None),
        counting_judge,
    )
    assert sum(calls.values()) == 2


# --------------------------------------------------------------------------------------------
# PCT


def pct_runs(prog: Program, *, runs: int, depth: int, seed: int) -> list[Execution]:
    return list(PctSampler(prog, toy_run, runs=runs, depth=depth, seed=seed))


def test_pct_is_deterministic_for_a_seed() -> None:
    prog = program(block(3, 2, 2))
    first = [e.schedule for e in pct_runs(prog, runs=20, depth=3, seed=7)]
    assert first == [e.schedule for e in pct_runs(prog, runs=20, depth=3, seed=7)]
    assert first != [e.schedule for e in pct_runs(prog, runs=20, depth=3, seed=8)]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_pct_preempts_only_at_its_change_points(depth: int) -> None:
    prog = program(block(3, 2, 2))
    executions = pct_runs(prog, runs=30, depth=depth, seed=1)
    assert all(e.preemptions <= depth - 1 for e in executions)
    valid = brute_force((3, 2, 2), None)
    assert all(e.schedule[0] in valid for e in executions)
    if depth > 1:
        assert any(e.preemptions > 0 for e in executions)


def test_pct_reaches_both_orders_and_reports_its_bound() -> None:
    prog = program(block(2, 2))
    sampler = PctSampler(prog, toy_run, runs=40, depth=2, seed=0)
    report = tally("toy", sampler, order_judge)
    assert report.schedules == 40
    assert report.observe("late") == "Sometimes"
    parameters = sampler.parameters()
    assert (parameters.threads, parameters.steps) == (2, 4)
    assert parameters.probability_bound == pytest.approx(1 / (2 * 4))


def test_pct_priorities_follow_the_plan() -> None:
    prog = program(block(2, 2, 2))
    sampler = PctSampler(prog, toy_run, runs=1, depth=1, seed=0)
    plan = PriorityPlan({(0, 0): 1, (0, 1): 3, (0, 2): 2}, {})
    execution = sampler._follow(plan)
    assert execution.schedule == ((1, 1, 2, 2, 0, 0),)
    lowered = PriorityPlan({(0, 0): 2, (0, 1): 4, (0, 2): 3}, {2: 1})
    # Step 2 lowers thread 1 (running) below everyone: thread 2 preempts it.
    assert sampler._follow(lowered).schedule == ((1, 2, 2, 0, 0, 1),)


@pytest.mark.parametrize(("runs", "depth"), [(0, 2), (5, 0)])
def test_bad_pct_arguments_are_explore_errors(runs: int, depth: int) -> None:
    with pytest.raises(ExploreError):
        pct(program(block(1, 1)), "postfix", runs=runs, depth=depth, seed=0)


def test_implementations_are_resolved_with_clear_errors() -> None:
    with pytest.raises(ImplLoadError):
        explore(program(block(1, 1)), "no-such-implementation")
    with pytest.raises(ExploreError, match="no implementation"):
        explore(program(block(1, 1)), [])
