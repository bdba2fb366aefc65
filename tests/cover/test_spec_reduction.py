"""The spec's partial-order reduction and its state budget.

Soundness of the reduction: on generated programs, the reduced enumeration gives exactly the
outcomes (frames up to renaming, with the same allowance sets) of the full one. The programs
come from the search's own strategy (threads that collide on one page: little to reduce) and
from a strategy built to reduce: threads working on processes forked before any page was
written (nothing shared), with swap on or off, mixed with a thread on the shared parent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ptediff import spec
from ptediff.core.canon import outcome_key
from ptediff.core.errors import BudgetExceeded
from ptediff.core.outcome import Outcome
from ptediff.core.program import (
    Config,
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
    Step,
    Swapon,
    Thread,
)
from ptediff.dsl.parse import parse
from ptediff.dsl.validate import validate
from ptediff.search.strategies import programs
from ptediff.spec import block as spec_block
from ptediff.spec.state import SpecState
from ptediff.spec.step import step as spec_step

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcomes(outcomes: list[Outcome]) -> Counter[Hashable]:
    return Counter((outcome_key(o), o.allowances) for o in outcomes)


def _same_either_way(program: Program) -> None:
    assert _outcomes(spec.run(program)) == _outcomes(spec.run(program, reduce=False))


@SETTINGS
@given(programs(max_ops=10))
def test_reduction_keeps_every_outcome_of_generated_programs(program: Program) -> None:
    _same_either_way(program)


PAGES = (0x1000, 0x2000)


def _own_op(draw: st.DrawFn, proc: str, child: str) -> Op:
    """An operation on `proc` alone (a fork makes `child`)."""
    addr = draw(st.sampled_from(PAGES))
    kind = draw(st.sampled_from(
        ("write", "write", "read", "migrate", "mprotect", "munmap", "pageout", "fork")
    ))
    if kind == "write":
        return Fault(proc, addr, write=True, value=draw(st.integers(1, 9)))
    if kind == "read":
        return Fault(proc, addr, write=False)
    if kind == "migrate":
        return Migrate(proc, addr, draw(st.integers(0, 1)), unlocked=draw(st.booleans()))
    if kind == "mprotect":
        return Mprotect(proc, addr, 1, draw(st.sampled_from((Prot.R, Prot.RW, Prot.NONE))))
    if kind == "munmap":
        return Munmap(proc, addr, 1)
    if kind == "pageout":
        return Pageout(proc, addr)
    return Fork(proc, child)


@st.composite
def disjoint_programs(draw: st.DrawFn) -> Program:
    """p0 maps two pages and forks p1..pN before writing anything (so nothing is shared), each
    child writes its own pages, then a block whose threads mostly keep to their own process."""
    n_threads = draw(st.integers(2, 3))
    steps: list[Step] = [Map("p0", PAGES[0], len(PAGES), Prot.RW)]
    if draw(st.booleans()):
        steps.append(Swapon(draw(st.integers(1, 3))))
    children = [f"p{i + 1}" for i in range(n_threads)]
    steps += [Fork("p0", child) for child in children]
    for index, child in enumerate(children):
        steps.append(Fault(child, PAGES[index % 2], write=True, value=index + 1))
        if draw(st.booleans()):
            steps.append(Fault(child, PAGES[(index + 1) % 2], write=True, value=index + 5))
    threads = []
    for index, child in enumerate(children):
        # a thread on the shared parent now and then: it must stop the reduction there
        proc = "p0" if draw(st.integers(0, 5)) == 0 else child
        ops = [_own_op(draw, proc, f"p{10 + 3 * index + k}")
               for k in range(draw(st.integers(1, 3)))]
        # a forked grandchild belongs to its thread: later ops of the thread may use it
        for k, op in enumerate(ops):
            if isinstance(op, Fork) and k + 1 < len(ops):
                ops[k + 1] = _own_op(draw, op.child, f"p{40 + 3 * index + k}")
        if draw(st.integers(0, 7)) == 0:
            ops.append(Swapon(1))
        threads.append(Thread(tuple(ops)))
    steps.append(Parallel(tuple(threads)))
    steps.append(Fault("p0", PAGES[0], write=False))
    program = Program(tuple(steps), config=Config(swap_bits=draw(st.sampled_from((2, 5)))))
    validate(program)
    return program


@SETTINGS
@given(disjoint_programs())
def test_reduction_keeps_every_outcome_of_blocks_on_separate_processes(
    program: Program,
) -> None:
    _same_either_way(program)


def _states(program: Program, *, reduce: bool) -> int:
    """The states the spec keeps for the first block, run from the state before it."""
    position = next(i for i, item in enumerate(program.steps) if isinstance(item, Parallel))
    state = SpecState(program.config)
    for op_id, op in enumerate(program.steps[:position]):
        assert not isinstance(op, Parallel)
        state = spec_step(state, op_id, op, ())[0].state
    block = program.steps[position]
    assert isinstance(block, Parallel)
    budget = spec_block.Budget(10**9)
    spec_block.run_block(state, block, position, budget, reduce)
    return budget.used


FOUR_PROCESSES = """
map    p0 0x1000 1 rw
fork   p0 p1
fork   p0 p2
fork   p0 p3
parallel {
  thread { fault p0 0x1000 write 0x1
           migrate p0 0x1000 1 }
  thread { fault p1 0x1000 write 0x2
           migrate p1 0x1000 1 }
  thread { fault p2 0x1000 write 0x3
           migrate p2 0x1000 1 }
  thread { fault p3 0x1000 write 0x4
           migrate p3 0x1000 1 }
}
"""


def test_threads_on_unrelated_processes_run_in_one_order() -> None:
    program = parse(FOUR_PROCESSES)
    # 8! / 2^4 = 2520 interleavings; commuting steps leave one: 9 states, start included
    assert _states(program, reduce=True) == 9
    assert _states(program, reduce=False) > 100
    _same_either_way(program)


def test_threads_sharing_a_page_commute_only_once_their_copies_are_private() -> None:
    # Written before the forks, the page is shared by all four: a write fault copies it (or,
    # the last sharer, reuses it), and only from then on does the thread commute.
    program = parse(FOUR_PROCESSES.replace("map    p0 0x1000 1 rw",
                                           "map    p0 0x1000 1 rw\nfault  p0 0x1000 write 0x9"))
    reduced, full = _states(program, reduce=True), _states(program, reduce=False)
    assert 9 < reduced < full
    _same_either_way(program)


def _swapons(threads: int) -> str:
    body = "\n".join(f"  thread {{ swapon {i + 1}\n           swapon {i + 2} }}"
                     for i in range(threads))
    return f"parallel {{\n{body}\n}}\n"


def test_a_block_beyond_the_state_budget_stops_with_budget_exceeded() -> None:
    # the reliability audit's r02: 6 threads of 2 swapons, millions of distinct orders
    with pytest.raises(BudgetExceeded) as raised:
        spec.run(parse(_swapons(6)))
    assert raised.value.what == "spec states" and raised.value.limit == spec.MAX_STATES
    message = str(raised.value)
    assert message.startswith(f"budget exceeded: {spec.MAX_STATES} spec states")
    assert "fewer threads" in message and "max_states" in message


def test_the_budget_is_an_option_and_counts_deterministically() -> None:
    program = parse(_swapons(3))
    assert spec.run(program)  # 6 swapons in 3 threads: well within the default budget
    with pytest.raises(BudgetExceeded, match="budget exceeded: 10 spec states"):
        spec.run(program, max_states=10)
    used = {_states(program, reduce=True) for _ in range(3)}
    assert len(used) == 1 and used.pop() > 10
    assert spec.run(program, max_states=100_000) == spec.run(program)
