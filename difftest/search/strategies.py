"""Hypothesis strategies that generate valid ptediff programs.

Programs are valid by construction (the DSL validator accepts them) and written to shrink well:

* Every operation is read from the same five integer choices (continue, kind, who, where,
  what), each drawn in its own span, so the shrinker deletes an operation by deleting five
  consecutive choices, and can replace a parallel block by one of its operations (thread
  operations are drawn by the same strategy as top-level ones).
* Choices are read relative to the state at that point (`ptediff.search.generation`), with
  stable fallbacks: a process is a number `n`, meaning `pN` if it is live and otherwise a live
  one; an address is a page that snaps to a page mapped in that process. Deleting a step leaves
  later choices' meaning mostly intact.
* Everything shrinks toward the simple end: fewer steps, `map`/`fault` before rarer kinds, p0,
  the lowest address, read before write, the faithful config, sequential execution.
* Swarm testing: an example may switch off some operation kinds, so that rare combinations
  (fork + migrate + fault, swapon + pageout + fault, ...) get dense coverage. "Off" flags
  shrink back to "on"; a drawn kind that is off is read as one of the kinds that are on.
* Most examples start from a touched anonymous page (`map` rw + write `fault`, sometimes a
  `fork`): nearly every interesting behaviour needs one. The setup is a choice like any other
  and shrinks away when the divergence does not need it.

Parallel blocks draw their schedule as data: a random walk over the threads, one thread per
scheduler step for the first SCHEDULE_STEPS steps, drawn as a few random bytes (two bits a step)
and rendered as an explicit `schedule` tuple. A random walk hits the narrow windows of the
migration races far more often than a few long segments (PCT-style change points) do; the
bytes shrink toward zero, i.e. toward thread 0 running first and alone, and no schedule at all
(`None`) is the simplest choice. The hunt then minimises the preemptions of a failing schedule
exactly, by exploration (`ptediff.search.simplify`).
"""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import strategies as st
from ptediff.core.program import (
    INITIAL_PROC,
    PAGE_SIZE,
    Config,
    Exit,
    Fault,
    Fork,
    Map,
    Op,
    Parallel,
    Program,
    Prot,
    Step,
    Swapon,
    Thread,
)
from ptediff.search.generation import (
    ADDRESS_PAGES,
    SWAPON_SLOTS,
    VARIANTS,
    Choice,
    View,
    World,
    make_op,
)

# The tables are re-exported: `ptediff.search.strategies` stays the one import for callers.
from ptediff.search.kind_tables import (
    BASE_ORDER,
    FOCUS_TABLE,
    KIND_ORDER,
    KIND_TABLE,
    KINDS_PARALLEL,
    MAX_BLOCK_OPS,
    MAX_PROC_NUMBER,
    MAX_THREAD_OPS,
    MAX_THREADS,
    NOT_GENERATED,
    RACE_FIRST,
    RACE_FOLLOW,
    RACE_SECOND,
    SCHEDULE_STEPS,
    SWAP_BITS_CHOICES,
    SWAP_CYCLE_SLOTS,
    THREAD_KIND_TABLE,
)
from ptediff.search.steps import (
    WHAT,
    WHERE,
    WHO,
    Generation,
    StepContext,
    draw_schedule,
    draw_step,
    normalize_schedule,
)

__all__ = [
    "BASE_ORDER", "FOCUS_TABLE", "KINDS_PARALLEL", "KIND_ORDER", "KIND_TABLE", "MAX_BLOCK_OPS",
    "MAX_PROC_NUMBER", "MAX_THREADS", "MAX_THREAD_OPS", "NOT_GENERATED", "RACE_FIRST",
    "RACE_SECOND", "SCHEDULE_STEPS", "SWAP_BITS_CHOICES", "THREAD_KIND_TABLE", "configs",
    "normalize_schedule", "programs", "schedules",
]


def configs(nodes: int = 2) -> st.SearchStrategy[Config]:
    """Kernel configurations: small swap type fields next to the faithful one, highpte on/off."""
    return st.builds(
        Config,
        swap_bits=st.sampled_from(SWAP_BITS_CHOICES),
        highpte=st.booleans(),
        nodes=st.just(nodes),
    )


def schedules(n_threads: int) -> st.SearchStrategy[tuple[int, ...] | None]:
    """A parallel block's schedule: None (sequential) or a random walk over its threads."""

    @st.composite
    def drawn(draw: st.DrawFn) -> tuple[int, ...] | None:
        return draw_schedule(draw, n_threads)

    return drawn()


def programs(
    config: Config | None = None,
    max_ops: int = 12,
    ops: Iterable[str] | None = None,
    threads: tuple[int, int] | None = (2, 3),
    swarm: bool = True,
) -> st.SearchStrategy[Program]:
    """Valid programs of at most `max_ops` operations.

    config:  a fixed configuration, or None to draw one (see `configs`).
    ops:     the operation kinds allowed (`ptediff.core.program.OP_KINDS`); all by default.
    threads: (fewest, most) threads of a parallel block, or None for sequential programs only.
    swarm:   let each example switch off a subset of the allowed kinds (swarm testing).
    """
    allowed = tuple(KIND_ORDER) if ops is None else _check_kinds(ops)
    if max_ops < 1:
        raise ValueError("max_ops must be at least 1")
    if threads is not None and not 2 <= threads[0] <= threads[1] <= MAX_THREADS:
        raise ValueError(f"threads must be a range within 2..{MAX_THREADS}")
    return _programs(config, max_ops, allowed, threads, swarm)


def _check_kinds(ops: Iterable[str]) -> tuple[str, ...]:
    wanted = set(ops)
    unknown = wanted - set(KIND_ORDER)
    if unknown:
        raise ValueError(f"unknown operation kinds {sorted(unknown)}; known: {list(KIND_ORDER)}")
    if not wanted:
        raise ValueError("ops must name at least one operation kind")
    return tuple(kind for kind in KIND_ORDER if kind in wanted)


# ---------------------------------------------------------------------------------------------
# What one draw carries along (the world model itself: `ptediff.search.generation`)




# Strategies are built once: building one per draw costs more than the draw itself.
_SWARM = st.integers(0, 2 ** (len(BASE_ORDER) + 1) - 1)  # "all on", a bit per base kind
_CONFIGS = configs()
_SETUP = st.integers(0, 3)
_FOCUS = st.integers(0, len(FOCUS_TABLE) - 1)
_LIMIT_SWAPONS = st.sampled_from((3, 4, 2, 1))
SWAP_CYCLE_KINDS = ("swapon", "pageout", "map", "fault")  # the cycle needs these allowed
CYCLE_STEPS = 3  # a swap cycle's steps: out, back in, out again or fork
_CYCLE_FLOOR = st.sampled_from((0, CYCLE_STEPS, 2, CYCLE_STEPS))  # drawn unconditionally


# ---------------------------------------------------------------------------------------------
# Drawing


@st.composite
def _programs(
    draw: st.DrawFn,
    config: Config | None,
    max_ops: int,
    allowed: tuple[str, ...],
    threads: tuple[int, int] | None,
    swarm: bool,
) -> Program:
    focus = FOCUS_TABLE[draw(_FOCUS)]
    cfg = draw(_CONFIGS) if config is None else config
    enabled, parallel_enabled = _draw_swarm(draw, allowed, swarm, threads is not None)
    gen = Generation(World(cfg), allowed, enabled, threads if parallel_enabled else None)
    race = focus == "race" and gen.threads is not None and max_ops >= 4
    cycle = focus == "swap" and max_ops >= 4 and set(SWAP_CYCLE_KINDS) <= set(gen.allowed)
    steps: list[Step] = list(_draw_setup(draw, gen, max_ops, race=race or cycle))
    if cycle:
        # One swapon first, then every top-level step from the swap cycle tables.
        op = Swapon(SWAP_CYCLE_SLOTS[draw(WHAT) % len(SWAP_CYCLE_SLOTS)])
        gen.world.apply(op)
        steps.insert(0, op)
        gen.cycle = True
    elif race and max_ops - len(steps) >= 2:
        steps.append(_draw_race(draw, gen, max_ops - len(steps)))
    elif focus == "limits" and "swapon" in gen.allowed:
        # Small swap type fields: exactly one swapon more than there are swap types.
        count = draw(_LIMIT_SWAPONS)
        if cfg.swap_bits <= 3:
            count = 2**cfg.swap_bits - 1
        for _ in range(min(count, max_ops - len(steps))):
            op = Swapon(SWAPON_SLOTS[draw(WHAT) % 2])
            gen.world.apply(op)
            steps.append(op)
    # The first step is drawn whatever its continue flag says; a swap cycle's first few are
    # (how many is a choice of its own, so that it shrinks away).
    floor = len(steps) + draw(_CYCLE_FLOOR) if cycle else 1
    while True:
        room = max_ops - sum(_n_ops(step) for step in steps)
        view = View(gen.world, frozenset(gen.world.live))
        step = draw_step(draw, StepContext(gen, view, room, len(steps) < floor, top=True))
        if step is None:
            break
        steps.append(step)
    return Program(tuple(steps), config=cfg)


def _draw_race(draw: st.DrawFn, gen: Generation, room: int) -> Parallel:
    """The race focus: a block of two threads, the first opening with an operation that
    unmaps or rewrites ptes (a migrate above all), the second with one that races with it on
    the same pages (a fork, a fault, another migrate, an mprotect, a teardown)."""
    base = frozenset(gen.world.live)
    block: list[Thread] = []
    named: set[str] = set()
    exited: set[str] = set()
    for index, kinds in enumerate((RACE_FIRST, RACE_SECOND)):
        visible = base - exited
        view = View(gen.world, visible, frozenset(named), visible if index == 0 else frozenset())
        kind = kinds[draw(st.integers(0, len(kinds) - 1))]
        choice = Choice(kind=0, who=draw(WHO), where=draw(WHERE), what=draw(WHAT))
        ops = [make_op(kind, choice, view, gen.enabled)]
        named.update(ops[0].procs)
        # leave room for the second thread's first operation
        more = min(MAX_THREAD_OPS - 1, room - sum(len(t.ops) for t in block) - 2 + index)
        op = draw_step(draw, StepContext(gen, view, more, False, top=False, table=RACE_FOLLOW))
        if op is not None:
            assert not isinstance(op, Parallel)
            ops.append(op)
            named.update(op.procs)
        exited.update(op.proc for op in ops if isinstance(op, Exit))
        block.append(Thread(tuple(ops)))
    return Parallel(tuple(block), schedule=draw_schedule(draw, 2))


def _n_ops(step: Step) -> int:
    return sum(len(t.ops) for t in step.threads) if isinstance(step, Parallel) else 1


def _draw_swarm(
    draw: st.DrawFn, allowed: tuple[str, ...], swarm: bool, threads: bool
) -> tuple[tuple[str, ...], bool]:
    """The kinds this example uses: "off" bits drawn as one integer that shrinks toward all on.
    Map always stays on. Half the examples (odd values) switch nothing off.

    The variant kinds (madvise, pin: VARIANTS) have no bits of their own: they are on in the
    swarm examples (even values) whose base kind's bit is on, and off in the other half, which
    so draws exactly what it drew before they existed. (The parallel bit is the last base
    kind's, exit's: kept so, since moving it would reshuffle every fixed-seed search.)
    """
    if not swarm:
        return allowed, threads
    off = draw(_SWARM)
    base_kinds = tuple(kind for kind in allowed if kind not in VARIANTS.values())
    if off & 1:
        return base_kinds or allowed, threads
    on = {
        kind
        for bit, kind in enumerate(BASE_ORDER, start=1)
        if kind == "map" or not off >> bit & 1
    }
    on |= {variant for kind, variant in VARIANTS.items() if kind in on}
    enabled = tuple(kind for kind in KIND_ORDER if kind in allowed and kind in on)
    parallel_enabled = threads and not off >> (len(BASE_ORDER)) & 1
    return enabled or allowed, parallel_enabled


def _draw_setup(draw: st.DrawFn, gen: Generation, max_ops: int, race: bool) -> list[Op]:
    """0: no setup; 1, 2: map rw + write fault; 3: the same, then fork p0 p1. Before a race
    block or a swap cycle (which need a touched page) the values are rotated, so that 0 means
    map + write: generation draws zeros often, and the simplifier drops what a divergence does
    not need."""
    setup = (draw(_SETUP) + race) % 4
    if not setup or max_ops < 2 or not {"map", "fault"} <= set(gen.allowed):
        return []
    where, what = draw(WHERE), draw(WHAT)
    page = where % ADDRESS_PAGES + 1
    ops: list[Op] = [Map(INITIAL_PROC, page * PAGE_SIZE, what % 2 + 1, Prot.RW)]
    ops.append(Fault(INITIAL_PROC, page * PAGE_SIZE, write=True, value=gen.world.next_value()))
    if setup == 3 and "fork" in gen.allowed and max_ops >= 3:
        ops.append(Fork(INITIAL_PROC, gen.world.fresh_child()))
    for op in ops:
        gen.world.apply(op)
    return ops


