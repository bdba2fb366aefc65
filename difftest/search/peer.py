"""The naive random peer `ptediff evaluate` runs beside the hunt: uniform random programs over
the same operations, judged by the same spec and models.

It is what a developer would write in an afternoon, and what the hunt has to beat: every field
is drawn uniformly from the same ranges the hunt's generator uses (operation kind, process among
the live ones, page 1..8, page counts, protections, values, node, locked or not, swap sizes,
threads, a uniform random schedule), with no swarm, no coverage targets, no state-aware address
snapping and no setup prefix. An invalid draw (a thread naming a process another thread forks or
exits) is redrawn and not counted. The only reduction is the one any random tester can do
honestly: delete one operation at a time while the same class still shows (`reduce`), so its
program sizes are comparable with the hunt's minimal programs without borrowing the hunt's
simplifier.

Deterministic: the same seed gives the same programs, in the same order.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass

from ptediff.core.errors import BudgetExceeded, DslError
from ptediff.core.program import (
    INITIAL_PROC,
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
from ptediff.dsl.validate import validate
from ptediff.search.generation import ADDRESS_PAGES
from ptediff.search.property import DifferentialProperty, ImplRef, resolve_impls
from ptediff.search.strategies import (
    KIND_ORDER,
    MAX_BLOCK_OPS,
    MAX_THREAD_OPS,
    MAX_THREADS,
    SCHEDULE_STEPS,
    SWAP_BITS_CHOICES,
    normalize_schedule,
)

MAX_OPS = 12  # the hunt's programs() default
PARALLEL = "parallel"
# The peer's draw table, fixed (not the generator's KIND_ORDER, which grows with the DSL) so
# that its seeded figures stay comparable; the last two, which it cannot build, come out as
# pageouts.
PEER_KINDS = (*KIND_ORDER[:9], "madvise", "pin")
STEP_KINDS = (*PEER_KINDS, PARALLEL)  # a top-level step: one of the kinds, or a block
SWAP_BITS = tuple(sorted(set(SWAP_BITS_CHOICES)))
PROTS = tuple(Prot)


@dataclass
class PeerRun:
    """One peer search: examples and seconds to the first failure, and what it found."""

    impl: str
    seed: int
    examples: int = 0  # valid programs judged
    seconds: float = 0.0
    cls: str | None = None  # primary class of the first failure (None: nothing found)
    examples_to_first: int | None = None
    seconds_to_first: float | None = None
    program: Program | None = None  # the first failing program, as drawn
    reduced: Program | None = None  # after one-at-a-time deletion

    @property
    def solved(self) -> bool:
        return self.cls is not None


def random_program(rng: random.Random, max_ops: int = MAX_OPS, nodes: int = 2) -> Program:
    """One uniformly drawn program (possibly invalid: `draw_valid` filters)."""
    config = Config(swap_bits=rng.choice(SWAP_BITS), highpte=rng.random() < 0.5, nodes=nodes)
    live = [INITIAL_PROC]
    forks = 0
    values = 0
    room = rng.randint(1, max_ops)
    steps: list[Step] = []

    def op(kind: str, procs: list[str]) -> Op:
        nonlocal forks, values
        proc = rng.choice(procs)
        addr = rng.randint(1, ADDRESS_PAGES) * PAGE_SIZE
        if kind == "map":
            return Map(proc, addr, rng.randint(1, 3), rng.choice(PROTS))
        if kind == "munmap":
            return Munmap(proc, addr, rng.randint(1, 2))
        if kind == "mprotect":
            return Mprotect(proc, addr, rng.randint(1, 2), rng.choice(PROTS))
        if kind == "fault":
            if rng.random() < 0.5:
                values += 1
                return Fault(proc, addr, write=True, value=values)
            return Fault(proc, addr, write=False)
        if kind == "fork":
            forks += 1
            return Fork(proc, f"p{forks}")
        if kind == "exit":
            return Exit(proc)
        if kind == "migrate":
            return Migrate(proc, addr, rng.randrange(nodes), unlocked=rng.random() < 0.5)
        if kind == "swapon":
            return Swapon(rng.randint(0, 4))
        return Pageout(proc, addr)

    def track(made: Op) -> None:
        if isinstance(made, Fork):
            live.append(made.child)
        elif isinstance(made, Exit) and made.proc in live and len(live) > 1:
            live.remove(made.proc)

    while room > 0:
        kind = rng.choice(STEP_KINDS)
        if kind == PARALLEL and room >= 2:
            budget = min(room, MAX_BLOCK_OPS)
            n_threads = rng.randint(2, min(MAX_THREADS, budget))
            threads: list[Thread] = []
            base = list(live)
            for index in range(n_threads):
                left = budget - sum(len(t.ops) for t in threads) - (n_threads - index - 1)
                count = rng.randint(1, min(MAX_THREAD_OPS, left))
                thread_ops = [op(rng.choice(PEER_KINDS), base) for _ in range(count)]
                threads.append(Thread(tuple(thread_ops)))
            for thread in threads:
                for made in thread.ops:
                    track(made)
            walk = [rng.randrange(n_threads) for _ in range(SCHEDULE_STEPS)]
            steps.append(Parallel(tuple(threads), schedule=normalize_schedule(walk)))
            room -= sum(len(t.ops) for t in threads)
        else:
            made = op(rng.choice(PEER_KINDS) if kind == PARALLEL else kind, live)
            track(made)
            steps.append(made)
            room -= 1
    return Program(tuple(steps), config=config)


def draw_valid(rng: random.Random) -> Program:
    """Draw until the validator accepts the program (a rejected draw is not an example)."""
    while True:
        program = random_program(rng)
        try:
            validate(program)
        except DslError:
            continue
        return program


def peer_search(
    impl: ImplRef,
    *,
    seed: int,
    seconds: float | None = None,
    max_examples: int | None = None,
    reduce_found: bool = True,
    baseline: ImplRef | None = None,
) -> PeerRun:
    """Draw and judge programs until one diverges on `impl` or the budget is spent (a
    divergence `baseline` shows too does not count: `ptediff.search.hunt.hunt`)."""
    ((name, kernel),) = resolve_impls([impl])
    (base,) = resolve_impls([baseline]) if baseline is not None else (None,)
    prop = DifferentialProperty(((name, kernel),), targets=False, baseline=base)
    rng = random.Random(seed)
    run = PeerRun(name, seed)
    started = time.monotonic()
    while True:
        run.seconds = time.monotonic() - started
        if seconds is not None and run.seconds >= seconds:
            break
        if max_examples is not None and run.examples >= max_examples:
            break
        program = draw_valid(rng)
        run.examples += 1
        cls = _primary(prop, program)
        if cls is not None:
            run.cls = cls
            run.examples_to_first = run.examples
            run.seconds_to_first = time.monotonic() - started
            run.program = program
            break
    if run.program is not None and run.cls is not None and reduce_found:
        run.reduced = reduce(prop, run.program, run.cls)
    run.seconds = time.monotonic() - started
    return run


def _primary(prop: DifferentialProperty, program: Program) -> str | None:
    try:
        runs = prop.runs(program)
    except BudgetExceeded:  # a tool limit: no verdict, never a divergence
        return None
    return next((run.cls for run in runs if run.cls is not None), None)


def reduce(prop: DifferentialProperty, program: Program, cls: str) -> Program:
    """Delete one operation at a time (a thread's, or a top-level one) while `cls` still shows
    and the program stays valid; repeat until nothing more can go."""
    current = program
    changed = True
    while changed:
        changed = False
        for candidate in _deletions(current):
            try:
                validate(candidate)
            except DslError:
                continue
            if _primary(prop, candidate) == cls:
                current = candidate
                changed = True
                break
    return current


def _deletions(program: Program) -> list[Program]:
    out = []
    steps = list(program.steps)
    for i, step in enumerate(steps):
        rest = steps[:i] + steps[i + 1 :]
        if isinstance(step, Parallel):
            for t, thread in enumerate(step.threads):
                for k in range(len(thread.ops)):
                    ops = thread.ops[:k] + thread.ops[k + 1 :]
                    threads = [*step.threads[:t], Thread(ops), *step.threads[t + 1 :]]
                    threads = [th for th in threads if th.ops]
                    if len(threads) >= 2:
                        block: Step = dataclasses.replace(step, threads=tuple(threads))
                    else:
                        block = threads[0].ops[0] if len(threads[0].ops) == 1 else step
                        if block is step:
                            continue
                    out.append(dataclasses.replace(program, steps=(*rest[:i], block, *rest[i:])))
        out.append(dataclasses.replace(program, steps=tuple(rest)))
    return [p for p in out if p.steps]
