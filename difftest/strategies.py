"""Hypothesis strategies that generate valid ptediff programs.

Programs are valid by construction (the DSL validator accepts them) and written to shrink well:

* every choice is drawn with fixed bounds and read relative to the state at that point, with a
  stable fallback (a process is drawn as a number `n`: `pN` if it is live, otherwise a live one),
  so deleting a step leaves the meaning of later choices mostly intact;
* everything shrinks toward the simple end: fewer steps, `map`/`fault` before rarer kinds, p0,
  the lowest address, the faithful config, sequential execution;
* swarm testing: an example may switch off some operation kinds, so that rare combinations
  (fork + migrate + fault, swapon + pageout + fault, ...) get dense coverage. Switched-off flags
  shrink back to "on", and a drawn kind that is off falls through to the next kind that is on.

Parallel blocks draw their schedule as data: a few segments "thread t runs for k steps", i.e.
an initial thread plus change points in the manner of PCT, rendered as an explicit `schedule`
tuple. Fewer segments = fewer context switches; no segments = plain sequential (`None`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hypothesis import strategies as st

from difftest.program import (
    INITIAL_PROC,
    OP_KINDS,
    PAGE_SIZE,
    Config,
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
    Step,
    Swapon,
    Thread,
)

# Kinds in shrink order: a drawn kind index shrinks toward the front of this list.
KIND_ORDER: tuple[str, ...] = (
    "map",
    "fault",
    "migrate",
    "fork",
    "swapon",
    "pageout",
    "mprotect",
    "munmap",
    "exit",
)
assert set(KIND_ORDER) == set(OP_KINDS)

ADDRESS_PAGES = 8  # pages 0x1000 .. 0x8000: a small address space so operations collide
MAX_PROC_NUMBER = 5  # process choices are drawn as a number in 0..5 (p0..p5)
MAX_THREAD_INDEX = 2  # thread choices in schedules: 0..2, reduced modulo the thread count
MAX_SEGMENTS = 4  # schedule segments (so at most 3 context switches are drawn)
MAX_SEGMENT_STEPS = 24
MAX_THREAD_OPS = 3
SWAP_BITS_CHOICES = (5, 2, 3)  # the faithful 5 first, so configs shrink toward it


def configs(nodes: int = 2) -> st.SearchStrategy[Config]:
    """Kernel configurations: small swap type fields next to the faithful one, highpte on/off."""
    return st.builds(
        Config,
        swap_bits=st.sampled_from(SWAP_BITS_CHOICES),
        highpte=st.booleans(),
        nodes=st.just(nodes),
    )


def schedules(n_threads: int) -> st.SearchStrategy[tuple[int, ...] | None]:
    """A parallel block's schedule: None (sequential) or segments "thread t runs k steps"."""

    @st.composite
    def drawn(draw: st.DrawFn) -> tuple[int, ...] | None:
        return _draw_schedule(draw, n_threads)

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
    ops:     the operation kinds allowed (names from `difftest.program.OP_KINDS`); all by default.
    threads: (fewest, most) threads of a parallel block, or None for sequential programs only.
    swarm:   let each example switch off a subset of the allowed kinds (swarm testing).
    """
    allowed = tuple(KIND_ORDER) if ops is None else _check_kinds(ops)
    if max_ops < 1:
        raise ValueError("max_ops must be at least 1")
    if threads is not None and not 2 <= threads[0] <= threads[1] <= MAX_THREAD_INDEX + 1:
        raise ValueError(f"threads must be a range within 2..{MAX_THREAD_INDEX + 1}")
    return _programs(config, max_ops, allowed, threads, swarm)


def _check_kinds(ops: Iterable[str]) -> tuple[str, ...]:
    wanted = set(ops)
    unknown = wanted - set(OP_KINDS)
    if unknown:
        raise ValueError(f"unknown operation kinds {sorted(unknown)}; known: {list(KIND_ORDER)}")
    if not wanted:
        raise ValueError("ops must name at least one operation kind")
    return tuple(kind for kind in KIND_ORDER if kind in wanted)


@st.composite
def _programs(
    draw: st.DrawFn,
    config: Config | None,
    max_ops: int,
    allowed: tuple[str, ...],
    threads: tuple[int, int] | None,
    swarm: bool,
) -> Program:
    cfg = draw(configs()) if config is None else config
    enabled, parallel_enabled = _draw_swarm(draw, allowed, swarm, threads is not None)
    gen = _Generation(_World(cfg), enabled, threads if parallel_enabled else None)
    steps: list[Step] = []
    n_ops = 0
    while True:
        view = _View(gen.world, frozenset(gen.world.live), reserved=frozenset())
        step = draw(_step(gen, view, max_ops - n_ops, not steps, True))
        if step is None:
            break
        steps.append(step)
        n_ops += sum(len(t.ops) for t in step.threads) if isinstance(step, Parallel) else 1
    return Program(tuple(steps), config=cfg)


def _draw_swarm(
    draw: st.DrawFn, allowed: tuple[str, ...], swarm: bool, threads: bool
) -> tuple[frozenset[str], bool]:
    """The kinds this example uses. Each "off" flag shrinks toward "on"; map always stays on."""
    if not swarm or not draw(st.booleans()):
        return frozenset(allowed), threads
    enabled = {kind for kind in allowed if kind == "map" or not draw(st.booleans())}
    if not enabled:
        enabled = set(allowed)
    parallel_enabled = threads and not draw(st.booleans())
    return frozenset(enabled), parallel_enabled


@dataclass
class _World:
    """What the generator knows of the program so far: live processes and their mapped pages."""

    config: Config
    live: set[str] = field(default_factory=lambda: {INITIAL_PROC})
    mapped: dict[str, dict[int, Prot]] = field(default_factory=lambda: {INITIAL_PROC: {}})
    forks: int = 0
    writes: int = 0

    def fresh_child(self) -> str:
        self.forks += 1
        return f"p{self.forks}"

    def next_value(self) -> int:
        self.writes += 1
        return self.writes

    def apply(self, op: Op) -> None:
        """Track the effect an operation is meant to have (approximate inside parallel blocks)."""
        if isinstance(op, Map):
            pages = self.mapped[op.proc]
            span = range(op.addr // PAGE_SIZE, op.addr // PAGE_SIZE + op.npages)
            if not any(page in pages for page in span):
                pages.update(dict.fromkeys(span, op.prot))
        elif isinstance(op, Munmap):
            for page in range(op.addr // PAGE_SIZE, op.addr // PAGE_SIZE + op.npages):
                self.mapped[op.proc].pop(page, None)
        elif isinstance(op, Mprotect):
            pages = self.mapped[op.proc]
            span = range(op.addr // PAGE_SIZE, op.addr // PAGE_SIZE + op.npages)
            if all(page in pages for page in span):
                pages.update(dict.fromkeys(span, op.prot))
        elif isinstance(op, Fork):
            self.live.add(op.child)
            self.mapped[op.child] = dict(self.mapped[op.parent])
        elif isinstance(op, Exit):
            self.live.discard(op.proc)


@dataclass
class _View:
    """The processes one thread (or the top level) may name at this point.

    Inside a parallel block a thread sees the processes live at the block's start, minus those
    exited by other threads, plus the ones it forked itself; it may exit a process only if no
    earlier thread of the block named it. That keeps every interleaving valid.
    """

    world: _World
    visible: frozenset[str]
    reserved: frozenset[str]  # named by earlier threads of the block: must not exit
    keep_alive: frozenset[str] = frozenset()  # seen by later threads: at least one must live on

    def procs(self) -> list[str]:
        return sorted(self.visible, key=lambda name: int(name[1:]))


@dataclass
class _Generation:
    world: _World
    enabled: frozenset[str]
    threads: tuple[int, int] | None  # None: no parallel blocks in this example


@dataclass(frozen=True)
class _Choice:
    """The four integers every operation is read from (besides its continue flag).

    Every operation draws the same shape, so the shrinker deletes one by deleting five
    consecutive choices, and can swap a parallel block for one of its operations.
    kind:  index into KIND_ORDER; KINDS_PARALLEL more values open a parallel block.
    who:   process number (or the thread count of a parallel block).
    where: page 1..8 (its value modulo 8); below SNAPPED_WHERE it snaps to a page mapped in
           the process (the next one up, or the last), so a quarter of the addresses are raw.
    what:  the kind's small parameters (npages, prot, read/write, node, nslots...).
    """

    kind: int
    who: int
    where: int
    what: int


SNAPPED_WHERE = 3 * ADDRESS_PAGES
KINDS_PARALLEL = 3  # kind values past the op kinds that mean "parallel block" (about 1 in 4)


@st.composite
def _step(
    draw: st.DrawFn, gen: _Generation, view: _View, room: int, first: bool, top: bool
) -> Step | None:
    """One step (an operation, or at top level possibly a parallel block), or None to stop.

    Thread operations are drawn by this same strategy, so a block's span contains spans of
    the same label and the shrinker can replace the block by one of its operations."""
    # A continue flag heads every step; 0 ends the list (ignored for the first step, so that
    # deleting the first step leaves the second one aligned). It is drawn even when the list
    # is full and then ignored: the shrinker zeroes it, and deleting an earlier step then
    # still finds the list's end instead of running out of choices.
    if (not draw(st.integers(0, 5)) and not first) or room < 1:
        return None
    choice = _Choice(
        kind=draw(st.integers(0, len(KIND_ORDER) + KINDS_PARALLEL - 1)),
        who=draw(st.integers(0, MAX_PROC_NUMBER)),
        where=draw(st.integers(0, 4 * ADDRESS_PAGES - 1)),
        what=draw(st.integers(0, 31)),
    )
    if choice.kind >= len(KIND_ORDER):
        if top and gen.threads is not None and room >= 2:
            return _draw_parallel(draw, gen, choice, room)
        choice = _Choice(choice.kind - len(KIND_ORDER), choice.who, choice.where, choice.what)
    return _make_op(choice, view, gen.enabled)


def _draw_parallel(draw: st.DrawFn, gen: _Generation, head: _Choice, room: int) -> Parallel:
    assert gen.threads is not None
    fewest, most = gen.threads
    n_threads = min(fewest + head.who % (most - fewest + 1), room)
    world = gen.world
    base = frozenset(world.live)
    exited: set[str] = set()
    named: set[str] = set()
    block: list[Thread] = []
    for index in range(n_threads):
        thread_room = room - sum(len(t.ops) for t in block) - (n_threads - index - 1)
        view = _View(
            world,
            base - exited,
            reserved=frozenset(named),
            keep_alive=base - exited if index < n_threads - 1 else frozenset(),
        )
        thread_ops: list[Op] = []
        while True:
            room_left = min(MAX_THREAD_OPS, thread_room) - len(thread_ops)
            op = draw(_step(gen, view, room_left, not thread_ops, False))
            if op is None:
                break
            assert not isinstance(op, Parallel)
            thread_ops.append(op)
            named.update(op.procs)
            if isinstance(op, Exit):
                exited.add(op.proc)
        block.append(Thread(tuple(thread_ops)))
    return Parallel(tuple(block), schedule=_draw_schedule(draw, n_threads))


def _draw_schedule(draw: st.DrawFn, n_threads: int) -> tuple[int, ...] | None:
    """Segments "thread t runs k steps" until a zero continue flag; none at all = sequential."""
    schedule: list[int] = []
    for index in range(MAX_SEGMENTS + 1):
        segment = draw(_segment(n_threads, full=index == MAX_SEGMENTS))
        if segment is None:
            break
        schedule.extend(segment)
    return normalize_schedule(schedule)


@st.composite
def _segment(draw: st.DrawFn, n_threads: int, full: bool) -> list[int] | None:
    if not draw(st.booleans()) or full:  # drawn even when full, like a step's continue flag
        return None
    thread = draw(st.integers(0, MAX_THREAD_INDEX)) % n_threads
    return [thread] * draw(st.integers(1, MAX_SEGMENT_STEPS))


def normalize_schedule(schedule: Iterable[int]) -> tuple[int, ...] | None:
    """Drop trailing thread-0 steps: an exhausted schedule falls back to the lowest runnable
    thread, which is what a trailing 0 gives too. Nothing left means sequential: None."""
    steps = list(schedule)
    while steps and steps[-1] == 0:
        steps.pop()
    return tuple(steps) or None


def _make_op(choice: _Choice, view: _View, enabled: frozenset[str]) -> Op:
    """A kind that is off or impossible here falls through to the next one in KIND_ORDER, so
    changing the swarm flags leaves other operations' kinds alone."""
    for shift in range(len(KIND_ORDER)):
        kind = KIND_ORDER[(choice.kind + shift) % len(KIND_ORDER)]
        if kind in enabled and _possible(kind, view):
            op = _BUILDERS[kind](choice, view)
            view.world.apply(op)
            if isinstance(op, Fork):
                view.visible |= {op.child}
            elif isinstance(op, Exit):
                view.visible -= {op.proc}
                view.keep_alive -= {op.proc}
            return op
    # Only reachable when every enabled kind needs a process and none is visible.
    return Swapon(nslots=1)


def _possible(kind: str, view: _View) -> bool:
    if kind == "swapon":
        return True
    if not view.visible:
        return False
    if kind == "exit":
        return bool(_exitable(view))
    return True


def _exitable(view: _View) -> list[str]:
    """Processes this thread may exit: not named by an earlier thread, and at least one process
    stays visible here and for later threads."""
    return [
        proc
        for proc in view.procs()
        if proc not in view.reserved
        and len(view.visible - {proc}) >= 1
        and (not view.keep_alive or len(view.keep_alive - {proc}) >= 1)
    ]


def _proc(number: int, candidates: list[str]) -> str:
    """`pN` when it is a candidate, else a candidate chosen by the same number."""
    name = f"p{number}"
    return name if name in candidates else candidates[number % len(candidates)]


def _addr(choice: _Choice, view: _View, proc: str) -> int:
    """Mostly a page mapped in `proc` (the drawn page snapped to the next mapped one), sometimes
    the drawn page as is, mapped or not."""
    page = choice.where % ADDRESS_PAGES + 1
    mapped = sorted(view.world.mapped.get(proc, {}))
    if choice.where < SNAPPED_WHERE and mapped and page not in mapped:
        page = next((p for p in mapped if p >= page), mapped[-1])
    return page * PAGE_SIZE


def _build_map(choice: _Choice, view: _View) -> Op:
    page = choice.where % ADDRESS_PAGES + 1
    prot = (Prot.RW, Prot.R, Prot.NONE)[choice.what // 3 % 3]
    return Map(_proc(choice.who, view.procs()), page * PAGE_SIZE, choice.what % 3 + 1, prot)


def _build_munmap(choice: _Choice, view: _View) -> Op:
    proc = _proc(choice.who, view.procs())
    return Munmap(proc, _addr(choice, view, proc), choice.what % 2 + 1)


def _build_mprotect(choice: _Choice, view: _View) -> Op:
    proc = _proc(choice.who, view.procs())
    prot = (Prot.R, Prot.RW, Prot.NONE)[choice.what // 2 % 3]
    return Mprotect(proc, _addr(choice, view, proc), choice.what % 2 + 1, prot)


def _build_fault(choice: _Choice, view: _View) -> Op:
    proc = _proc(choice.who, view.procs())
    addr = _addr(choice, view, proc)
    if choice.what % 2:
        return Fault(proc, addr, write=True, value=view.world.next_value())
    return Fault(proc, addr, write=False)


def _build_fork(choice: _Choice, view: _View) -> Op:
    return Fork(_proc(choice.who, view.procs()), view.world.fresh_child())


def _build_exit(choice: _Choice, view: _View) -> Op:
    return Exit(_proc(choice.who, _exitable(view)))


def _build_migrate(choice: _Choice, view: _View) -> Op:
    proc = _proc(choice.who, view.procs())
    # New pages start on node 0, so the other node is the interesting target: it comes first.
    node = (1, 0)[choice.what % 2] if view.world.config.nodes >= 2 else 0
    unlocked = choice.what // 2 % 2 == 1
    return Migrate(proc, _addr(choice, view, proc), node, unlocked=unlocked)


SWAPON_SLOTS = (1, 2, 4, 0)  # 0 slots (-EINVAL) last: rarely the point
SWAPON_PRIOS = (None, 0, 1, 2, 5, -1, -2, 3)


def _build_swapon(choice: _Choice, view: _View) -> Op:
    return Swapon(SWAPON_SLOTS[choice.what % 4], SWAPON_PRIOS[choice.what // 4 % 8])


def _build_pageout(choice: _Choice, view: _View) -> Op:
    proc = _proc(choice.who, view.procs())
    return Pageout(proc, _addr(choice, view, proc))


_BUILDERS: dict[str, Callable[[_Choice, _View], Op]] = {
    "map": _build_map,
    "munmap": _build_munmap,
    "mprotect": _build_mprotect,
    "fault": _build_fault,
    "fork": _build_fork,
    "exit": _build_exit,
    "migrate": _build_migrate,
    "swapon": _build_swapon,
    "pageout": _build_pageout,
}
