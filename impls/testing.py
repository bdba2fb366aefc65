"""Calling single kernel-model functions outside a program run (unit tests, experiments)."""

from __future__ import annotations

from typing import Any

from ptediff.core.program import INITIAL_PROC, Config, Prot
from ptediff.impls.base import Kernel
from ptediff.impls.sched import KGen, Preempt, Scheduler, Task
from ptediff.impls.structs import Mm, Vma


def drive(kernel: Kernel, gen: KGen[Any], name: str = "test") -> Any:
    """Run one model function (a generator) alone to completion and return its result.

    Raises impls.sched.Deadlock if it waits for something nobody will release, and lets a
    KernelBug through.
    """
    box: dict[str, Any] = {}

    def body() -> KGen[None]:
        box["result"] = yield from gen

    task = Task(0, name, body(), Preempt(name))
    scheduler = Scheduler(lambda t: setattr(kernel, "current", t), lambda step: None)
    scheduler.run([task])
    return box.get("result")


def booted(cls: type[Kernel] = Kernel, config: Config | None = None) -> tuple[Kernel, Mm]:
    """A fresh kernel model with the initial process, as a program run starts."""
    kernel = cls(config or Config())
    mm = kernel.new_mm(INITIAL_PROC)
    kernel.procs[INITIAL_PROC] = mm
    return kernel, mm


def mapped(kernel: Kernel, mm: Mm, addr: int, npages: int = 1, prot: Prot = Prot.RW) -> Vma:
    """mmap a private anonymous range and return its vma."""
    assert drive(kernel, kernel.do_mmap(mm, addr, npages, prot)) == 0
    vma = mm.vma_at(addr)
    assert vma is not None
    return vma
