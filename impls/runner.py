"""`run`: one deterministic run of a program on a kernel model.

A model that raises a Python exception (a bug in the model, not a kernel BUG it models) makes
`run` raise `ModelCrash`, located at the frame that raised; a tool limit (`BudgetExceeded`, the
scheduler's step budget) passes through as it is.
"""

from __future__ import annotations

from ptediff.core.errors import ModelCrash, PtediffError
from ptediff.core.outcome import Outcome, TraceStep
from ptediff.core.program import INITIAL_PROC, Op, Parallel, Program, Result
from ptediff.impls.base import Kernel, entry_function
from ptediff.impls.incremental import IncrementalChecker
from ptediff.impls.invariants import WITH_RSS
from ptediff.impls.registry import load
from ptediff.impls.sched import Deadlock, Preempt, Scheduler, Step, Task
from ptediff.impls.snapshot import snapshot


class Machine:
    """A kernel instance plus the bookkeeping of one run."""

    def __init__(self, kernel: Kernel, check_invariants: bool | str) -> None:
        self.kernel = kernel
        self.results: dict[int, Result] = {}
        self.trace: list[TraceStep] = []
        self.block: int | None = None
        # Only what each step changed is checked (the full scan made runs quadratic).
        self.checker = (
            IncrementalChecker(kernel, rss=check_invariants == WITH_RSS)
            if check_invariants
            else None
        )
        if self.checker is not None:
            checker = self.checker
            kernel.page_unlock_hook = lambda page: checker.on_page_unlock(
                page, kernel.current.op_id if kernel.current is not None else None
            )
        self.scheduler = Scheduler(self.switch_to, self.after_step)

    def switch_to(self, task: Task | None) -> None:
        self.kernel.current = task

    def after_step(self, step: Step) -> None:
        if self.block is not None:
            self.trace.append(
                TraceStep(self.block, step.task.index, step.function, step.op_id, step.runnable)
            )
        if self.checker is not None:
            self.checker.after_step(step.op_id)

    def task(self, index: int, name: str, ops: list[tuple[int, Op]]) -> Task:
        body = self.kernel.run_thread(ops, self.results)
        first = ops[0] if ops else None
        wait = Preempt(entry_function(first[1]) if first else "idle")
        task = Task(index, name, body, wait, op_id=first[0] if first else -1)
        task.done = not ops
        return task

    def run_step(self, step: Op | Parallel, first_op: int, block: int) -> int:
        """Run one top-level step; returns the next op id."""
        if isinstance(step, Parallel):
            tasks = []
            op_id = first_op
            for i, thread in enumerate(step.threads):
                ops = list(enumerate(thread.ops, start=op_id))
                op_id += len(ops)
                tasks.append(self.task(i, f"thread {i}", ops))
            self.block = block
            try:
                self.scheduler.run(tasks, step.schedule or ())
            finally:
                self.block = None
            return op_id
        # outside a block no step is traced: only the invariant checker watches steps there
        self.scheduler.run([self.task(0, f"op {first_op}", [(first_op, step)])],
                           observe=self.checker is not None)
        return first_op + 1


def run(
    impl: type[Kernel] | str,
    program: Program,
    *,
    check_invariants: bool | str = True,
    checkpoints: bool = False,
) -> Outcome:
    """Run `program` on the model `impl` (a Kernel subclass or a registered name/path)."""
    cls = load(impl) if isinstance(impl, str) else impl
    trace: list[TraceStep] = []  # the steps taken, kept for a crash (its shrinking needs them)
    try:
        return _run(cls, program, check_invariants, checkpoints, trace)
    except (PtediffError, ModelCrash):
        raise
    except Exception as error:  # the model's own bug: a finding, not a traceback
        # its own NAME (a user's subclass inherits postfix's), else its class path
        name = cls.__dict__.get("NAME") or f"{cls.__module__}:{cls.__qualname__}"
        crash = ModelCrash.of(name, error)
        crash.trace = trace
        raise crash from error


def _run(
    cls: type[Kernel],
    program: Program,
    check_invariants: bool | str,
    checkpoints: bool,
    trace: list[TraceStep],
) -> Outcome:
    kernel = cls(program.config)
    kernel.procs[INITIAL_PROC] = kernel.new_mm(INITIAL_PROC)
    machine = Machine(kernel, check_invariants)
    machine.trace = trace
    outcome = Outcome()
    snapshots: list = []
    op_id = 0
    block = 0
    for step in program.steps:
        try:
            op_id = machine.run_step(step, op_id, block)
        except Deadlock as stuck:
            outcome.deadlock = str(stuck)
            break
        finally:
            if isinstance(step, Parallel):
                block += 1
        if checkpoints:
            snapshots.append(snapshot(kernel)[0])
    outcome.results = machine.results
    outcome.state, outcome.vma_prot = snapshot(kernel)
    outcome.bugs = list(kernel.bugs)
    outcome.violations = list(machine.checker.violations) if machine.checker else []
    outcome.trace = machine.trace
    outcome.checkpoints = snapshots if checkpoints else None
    return outcome
