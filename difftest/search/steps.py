"""Drawing one step of a program: an operation, or at top level a parallel block with its
schedule. `ptediff.search.strategies` draws whole programs (focus, config, swarm, setup) from
these; this module holds what every step shares: the choice strategies, the draw's state
(`Generation`) and the context of the step being drawn (`StepContext`).

Every step is drawn in its own span (`draw_step`), so the shrinker deletes a step by deleting
its span; see the strategies module's docstring for how the choices are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass

from hypothesis import strategies as st
from ptediff.core.program import Exit, Op, Parallel, Step, Thread
from ptediff.search.generation import ADDRESS_PAGES, SNAPPED_WHERE, Choice, View, World, make_op
from ptediff.search.kind_tables import (
    KIND_TABLE,
    KINDS_PARALLEL,
    MAX_BLOCK_OPS,
    MAX_PROC_NUMBER,
    MAX_THREAD_OPS,
    SCHEDULE_STEPS,
    SWAP_OUT_TABLE,
    SWAP_RESIDENT_TABLE,
    THREAD_KIND_TABLE,
)

# ---------------------------------------------------------------------------------------------
# What one draw carries along (the world model itself: `ptediff.search.generation`)


@dataclass
class Generation:
    world: World
    allowed: tuple[str, ...]  # kinds the caller allows
    enabled: tuple[str, ...]  # kinds on in this example (swarm), in KIND_ORDER
    threads: tuple[int, int] | None  # None: no parallel blocks in this example
    cycle: bool = False  # the swap cycle focus: top-level kinds from SWAP_CYCLE tables


@dataclass
class StepContext:
    gen: Generation
    view: View
    room: int  # operations that still fit
    first: bool  # the first step of its list
    top: bool  # a top-level step (may open a parallel block)
    table: tuple[str, ...] = THREAD_KIND_TABLE  # what a thread step's kind value means

# Strategies are built once: building one per draw costs more than the draw itself.
CONTINUE = st.integers(0, 3)  # top level: continue unless 0; in a thread: only on 3
KIND = st.integers(0, len(KIND_TABLE) + KINDS_PARALLEL - 1)
WHO = st.integers(0, MAX_PROC_NUMBER)
WHERE = st.integers(0, 4 * ADDRESS_PAGES - 1)
WHAT = st.integers(0, 31)
HAS_SCHEDULE = st.integers(0, 3)  # 0: no schedule (sequential), else a random walk
WALK = st.binary(min_size=SCHEDULE_STEPS // 4, max_size=SCHEDULE_STEPS // 4)
_STEP_CONTEXT: ContextVar[StepContext] = ContextVar("_STEP_CONTEXT")


def draw_step(draw: st.DrawFn, context: StepContext) -> Step | None:
    """Draw one step in its own span; the context rides in a ContextVar so that one strategy
    object serves every step."""
    token = _STEP_CONTEXT.set(context)
    try:
        return draw(_STEP)
    finally:
        _STEP_CONTEXT.reset(token)


@st.composite
def _step_span(draw: st.DrawFn) -> Step | None:
    """One step (an operation, or at top level possibly a parallel block), or None to stop."""
    context = _STEP_CONTEXT.get()
    # A continue flag heads every step; 0 ends the list (ignored for the first step, so that
    # deleting the first step leaves the second one aligned). It is drawn even when the list
    # is full and then ignored: the shrinker zeroes it, and deleting an earlier step then
    # still finds the list's end instead of running out of choices.
    more = draw(CONTINUE)
    if context.room < 1 or (not context.first and more < (1 if context.top else 3)):
        return None
    choice = Choice(kind=draw(KIND), who=draw(WHO), where=draw(WHERE), what=draw(WHAT))
    gen = context.gen
    if not context.top:
        return make_op(context.table[choice.kind], choice, context.view, gen.enabled)
    if gen.cycle:
        # Every address snaps to a written (2 in 3) or mapped page: the cycle is about pages.
        table = SWAP_OUT_TABLE if gen.world.any_swapped() else SWAP_RESIDENT_TABLE
        snapped = Choice(choice.kind, choice.who, choice.where % SNAPPED_WHERE, choice.what)
        return make_op(table[choice.kind], snapped, context.view, gen.enabled)
    if choice.kind >= len(KIND_TABLE):
        if gen.threads is not None and context.room >= 2:
            return draw_parallel(draw, gen, choice, context.room)
        choice = Choice(choice.kind - len(KIND_TABLE), choice.who, choice.where, choice.what)
    return make_op(KIND_TABLE[choice.kind], choice, context.view, gen.enabled)


_STEP = _step_span()


def draw_parallel(draw: st.DrawFn, gen: Generation, head: Choice, room: int) -> Parallel:
    assert gen.threads is not None
    fewest, most = gen.threads
    room = min(room, MAX_BLOCK_OPS)
    n_threads = min(fewest + head.who % (most - fewest + 1), room)
    world = gen.world
    base = frozenset(world.live)
    exited: set[str] = set()
    named: set[str] = set()
    block: list[Thread] = []
    for index in range(n_threads):
        # leave one operation of room for each thread still to come
        thread_room = room - sum(len(t.ops) for t in block) - (n_threads - index - 1)
        last = index == n_threads - 1
        view = View(world, base - exited, frozenset(named), frozenset() if last else base - exited,
                    in_block=True)
        thread_ops: list[Op] = []
        while True:
            room_left = min(MAX_THREAD_OPS, thread_room) - len(thread_ops)
            op = draw_step(draw, StepContext(gen, view, room_left, not thread_ops, top=False))
            if op is None:
                break
            assert not isinstance(op, Parallel)
            thread_ops.append(op)
            named.update(op.procs)
            if isinstance(op, Exit):
                exited.add(op.proc)
        block.append(Thread(tuple(thread_ops)))
    world.settle_pins()
    return Parallel(tuple(block), schedule=draw_schedule(draw, n_threads))


def draw_schedule(draw: st.DrawFn, n_threads: int) -> tuple[int, ...] | None:
    """None (sequential) or a random walk: two bits of the drawn bytes per step."""
    if not draw(HAS_SCHEDULE):
        return None
    walk = draw(WALK)
    # Step i reads the i-th pair of bits counted from the *end* of the bytes: the shrinker
    # zeroes the first bytes first, i.e. the last steps, so schedules shrink toward short ones.
    steps = [(byte >> shift) & 3 for byte in reversed(walk) for shift in (0, 2, 4, 6)]
    return normalize_schedule(step % n_threads for step in steps)


def normalize_schedule(schedule: Iterable[int]) -> tuple[int, ...] | None:
    """Drop trailing thread-0 steps: an exhausted schedule falls back to the lowest runnable
    thread, which is what a trailing 0 gives too. Nothing left means sequential: None."""
    steps = list(schedule)
    while steps and steps[-1] == 0:
        steps.pop()
    return tuple(steps) or None
