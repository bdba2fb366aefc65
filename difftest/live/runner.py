"""Run a program on the running kernel: each operation a real system call or CPU access.

Top-level operations run in order; a parallel block runs its threads with real concurrency (one
controller thread per DSL thread, each with its own helper thread in every process it names),
so its `schedule` does not apply: the kernel's scheduler picks the interleaving. Every program
ends by killing its processes and swapping off its areas, whatever happened.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field

from ptediff.core.errors import PtediffError
from ptediff.core.outcome import Outcome
from ptediff.core.program import (
    SIGSEGV,
    Exit,
    Fault,
    Fork,
    Map,
    Mlock,
    Mprotect,
    Mremap,
    Munlock,
    Munmap,
    Op,
    Pageout,
    Parallel,
    Program,
    Result,
    StateCheck,
    Swapon,
    iter_ops,
    state_check_result,
)
from ptediff.live import process as sim
from ptediff.live.guard import LiveSession
from ptediff.live.observe import mapcount, observe, pte_kind
from ptediff.live.swap import GlobalLock, SwapAreas

SUPPORTED = (
    Map, Munmap, Mprotect, Fault, Fork, Exit, Swapon, Pageout, StateCheck, Mlock, Munlock, Mremap,
)
NODE_ONLINE = "/sys/devices/system/node/online"


class LiveUnsupported(PtediffError):
    """A program uses an operation the live backend cannot run faithfully on this machine."""


@dataclass
class LiveRun:
    """One live run: the outcome, and what the declared differences need to know about it."""

    outcome: Outcome
    write_bits: bool  # every pte write bit was read (else `writable` is not an observation)
    # pageouts that found their page mapped by more than one pte: op id -> the address
    shared_pageouts: dict[int, int] = field(default_factory=dict)
    pids: tuple[int, ...] = ()  # every process the run created (all gone once it returns)


def online_nodes() -> int:
    try:
        with open(NODE_ONLINE) as online:
            text = online.read().strip()
    except OSError:
        return 1
    count = 0
    for part in text.split(","):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


def unsupported_reason(program: Program) -> str | None:
    """Why the live backend cannot run `program`, or None."""
    for op in iter_ops(program.steps):
        if op.KIND == "migrate":
            nodes = online_nodes()
            if nodes < 2:
                return ("migrate: move_pages can only move a page to another NUMA node, and this "
                        f"machine has {nodes} node online; the live backend does not fake it")
            return "migrate: not supported by the live backend yet"
        if not isinstance(op, SUPPORTED):
            return f"{op.KIND}: not supported by the live backend yet"
    return None


class _Run:
    def __init__(self, session: LiveSession, program: Program) -> None:
        self.session = session
        self.program = program
        self.procs: dict[str, sim.SimProcess] = {}
        self.root_popen: subprocess.Popen | None = None
        self.areas = SwapAreas(session.directory)
        self.results: dict[int, Result] = {}
        self.shared_pageouts: dict[int, int] = {}
        self.lock = threading.Lock()  # guards procs and the records above across threads

    # -- operations -----------------------------------------------------------------------
    def do(self, op_id: int, op: Op, channels: dict[str, sim.Channel]) -> None:
        try:
            result = self._do(op_id, op, channels)
        except sim.ChannelClosed:
            return  # the process went away under a concurrent exit: no result
        with self.lock:
            self.results[op_id] = result

    def _channel(self, name: str, channels: dict[str, sim.Channel]) -> sim.Channel:
        return channels.get(name) or self.procs[name].main

    def _do(self, op_id: int, op: Op, channels: dict[str, sim.Channel]) -> Result:
        base = sim.BASE
        if isinstance(op, Swapon):
            return self.areas.swapon(op.nslots, op.prio)
        if isinstance(op, Fork):
            parent = self.procs[op.parent]
            result, child = sim.fork(parent, self._channel(op.parent, channels), op.child)
            if child is not None:
                with self.lock:
                    self.procs[op.child] = child
            return result
        name = op.procs[0]
        channel = self._channel(name, channels)
        if isinstance(op, Map):
            return int(channel.request(f"map {base + op.addr:x} {op.npages:x} {op.prot}"))
        if isinstance(op, Munmap):
            return int(channel.request(f"munmap {base + op.addr:x} {op.npages:x}"))
        if isinstance(op, Mprotect):
            return int(channel.request(f"mprotect {base + op.addr:x} {op.npages:x} {op.prot}"))
        if isinstance(op, Mlock | Munlock):
            return int(channel.request(f"{op.KIND} {base + op.addr:x} {op.npages:x}"))
        if isinstance(op, Mremap):
            # the kernel returns the new address: the program's NEW is relative to the base
            moved = int(channel.request(
                f"mremap {base + op.addr:x} {op.npages:x} {base + op.new:x}"))
            return moved - base if moved >= 0 else moved
        if isinstance(op, Fault):
            if op.write:
                reply = channel.request(f"write {base + op.addr:x} {op.value:x}")
            else:
                reply = channel.request(f"read {base + op.addr:x}")
            word, value = reply.split()
            return SIGSEGV if word == "sig" else int(value)
        if isinstance(op, Pageout):
            process = self.procs[name]
            if mapcount(process.pid, op.addr) > 1:
                with self.lock:
                    self.shared_pageouts[op_id] = op.addr
            return int(channel.request(f"pageout {base + op.addr:x}"))
        if isinstance(op, StateCheck):
            kind, writable = pte_kind(self.procs[name], op.addr)
            return state_check_result(op, kind, writable)
        if isinstance(op, Exit):
            process = self.procs[name]
            result = int(channel.request("exit"))
            process.wait_gone()
            process.kill()  # releases the pidfd and channel; the process is already gone
            return result
        raise LiveUnsupported(f"{op.KIND}: not supported by the live backend yet")

    # -- parallel blocks ------------------------------------------------------------------
    def block(self, block: Parallel, first_id: int) -> None:
        ids, next_id = [], first_id
        for thread in block.threads:
            ids.append(list(range(next_id, next_id + len(thread.ops))))
            next_id += len(thread.ops)
        per_thread: list[dict[str, sim.Channel]] = []
        for thread in block.threads:
            names = {name for op in thread.ops for name in op.procs if name in self.procs}
            cpus = os.sched_getaffinity(0)
            per_thread.append({name: sim.thread_channel(self.procs[name], cpus)
                               for name in names if self.procs[name].alive})
        start = threading.Barrier(len(block.threads))

        def work(index: int) -> None:
            start.wait()
            for op_id, op in zip(ids[index], block.threads[index].ops, strict=True):
                self.do(op_id, op, per_thread[index])

        workers = [threading.Thread(target=work, args=(i,), daemon=True)
                   for i in range(len(block.threads))]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        for channels in per_thread:
            for channel in channels.values():
                channel.close()  # the helper thread sees EOF and ends

    # -- the whole program ----------------------------------------------------------------
    def run(self) -> LiveRun:
        root, self.root_popen = sim.spawn_root(self.session.helper, "p0", self.session.offsets)
        self.procs["p0"] = root
        op_id = 0
        for step in self.program.steps:
            if isinstance(step, Parallel):
                self.block(step, op_id)
                op_id += sum(len(t.ops) for t in step.threads)
            else:
                self.do(op_id, step, {})
                op_id += 1
        state, prots, bits_ok = observe(self.procs, self.areas.device)
        outcome = Outcome(results=dict(self.results), state=state, vma_prot=prots)
        return LiveRun(outcome, bits_ok and self.session.write_bits, dict(self.shared_pageouts),
                       tuple(p.pid for p in self.procs.values()))

    def cleanup(self) -> None:
        for process in list(self.procs.values()):
            process.kill()
        if self.root_popen is not None:
            self.root_popen.wait()
        self.areas.swapoff_all()


def uses_swap(program: Program) -> bool:
    return any(isinstance(op, Swapon | Pageout) for op in iter_ops(program.steps))


def run_live(session: LiveSession, program: Program) -> LiveRun:
    """Run `program` on the running kernel; raises LiveUnsupported for what it cannot run."""
    reason = unsupported_reason(program)
    if reason is not None:
        raise LiveUnsupported(reason)
    lock = GlobalLock() if uses_swap(program) else None
    if lock is not None:
        lock.acquire()
    run = _Run(session, program)
    try:
        return run.run()
    finally:
        run.cleanup()
        if lock is not None:
            lock.release()
