"""What one run produces, on the spec or on a kernel model: the abstract state both sides share.

A kernel model reports page frames as opaque ids (its pfns) and the spec reports its own logical
page ids; the differ compares frames only up to renaming, so only *sharing* matters: two ptes
with the same frame map the same physical page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ptediff.core.program import Result

ERRNO: dict[str, int] = {
    "EPERM": 1,
    "ENOENT": 2,
    "EINTR": 4,
    "EAGAIN": 11,
    "ENOMEM": 12,
    "EACCES": 13,
    "EFAULT": 14,
    "EBUSY": 16,
    "EEXIST": 17,
    "ENODEV": 19,
    "EINVAL": 22,
    "ENOSPC": 28,
}
ERRNO_NAME: dict[int, str] = {v: k for k, v in ERRNO.items()}

PteKind = Literal["none", "present", "swap", "migration"]
Key = tuple[str, int]  # (process, virtual address of the page)


@dataclass(frozen=True, slots=True)
class PteState:
    """The abstract state of one pte.

    frame: for present ptes the page frame; for migration ptes the frame the entry points at;
           for swap ptes the swap slot. Same id = same page (or slot). Opaque otherwise.
    node:  NUMA node of a present page.
    data:  the page's contents (present: the page's; swap: the slot's).
    swap:  swap device of a swap pte: its swap type (0-based; each swapon takes the lowest
           type no active area holds, so a type swapoff freed is reused).
    """

    kind: PteKind
    writable: bool = False
    frame: int | None = None
    node: int | None = None
    data: int | None = None
    swap: int | None = None


NONE_PTE = PteState("none")


# BugReport kinds, and the signature family each one is classed under.
BUG_KINDS: dict[str, str] = {
    "BUG": "kernel-bug",  # a BUG_ON fired: the task is killed
    "corruption": "kernel-bug",  # memory corrupted where the kernel does not stop
    "use-after-free": "use-after-free",  # a freed object used (ptediff's KASAN)
    "bad-page-state": "bad-page-state",  # free_pages_check() / bad_page()
    "kmap-leak": "kmap-leak",  # an atomic kmap never released (CONFIG_HIGHPTE)
    "livelock": "kernel-bug",  # a kernel loop that never ends (until a signal)
}


@dataclass(frozen=True, slots=True)
class BugReport:
    """A kernel BUG, detected corruption or memory misuse hit during a run: an outcome, not a
    crash. `kind` is a key of BUG_KINDS; `obj` names the object of a use-after-free."""

    function: str
    reason: str
    op: int | None = None  # op id that was running
    kind: str = "BUG"
    obj: str | None = None

    @property
    def signature_class(self) -> str:
        """The divergence class this report signs: `kernel-bug:<function>`,
        `use-after-free:<object>`, `bad-page-state:<function>` or `kmap-leak:<function>`."""
        family = BUG_KINDS.get(self.kind, "kernel-bug")
        detail = self.obj if family == "use-after-free" and self.obj else self.function
        return f"{family}:{detail}"


@dataclass(frozen=True, slots=True)
class Violation:
    """A kernel-notes §5 invariant that failed after a step."""

    name: str  # "I1" .. "I7"
    detail: str
    op: int | None = None


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One scheduler step: which thread of which parallel block ran, in which kernel function."""

    block: int  # index among the program's parallel blocks
    thread: int
    function: str
    op: int  # op id the thread was running
    runnable: tuple[int, ...] = ()  # threads that could have been picked at this step


@dataclass
class Outcome:
    """Everything one run of a program produced."""

    results: dict[int, Result] = field(default_factory=dict)  # op id -> result
    state: dict[Key, PteState] = field(default_factory=dict)
    bugs: list[BugReport] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    deadlock: str | None = None  # description when no thread could run
    trace: list[TraceStep] = field(default_factory=list)
    # spec only: the named allowances this outcome used
    allowances: frozenset[str] = frozenset()
    # prot ("none" / "r" / "rw") of the vma each key lies in
    vma_prot: dict[Key, str] = field(default_factory=dict)
    # the state after each top-level step, when asked for
    checkpoints: list[dict[Key, PteState]] | None = None


def format_result(result: Result, *, value: bool = False) -> str:
    """Render a result as the DSL writes it: hex for values read, -ENAME for errnos."""
    if isinstance(result, str):
        return result
    if value:
        return hex(result)
    if result < 0 and -result in ERRNO_NAME:
        return "-" + ERRNO_NAME[-result]
    return str(result)
