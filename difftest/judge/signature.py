"""Divergence signatures: a stable class name plus the operation where it first shows.

A divergence usually shows in several ways at once (a COW break is a `shared-writable` pte, then
a `data` difference, then a wrong read result); the *primary* signature is the one closest to
the cause, by the fixed priority of `FAMILIES`. Class names are stable: `.pte` files name them
in `expect ... diverges` lines and reports count them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Families in priority order, most causal first. A class is a family, or `family:detail`
# for the parametrised ones (kernel-bug:<function>, use-after-free:<object>,
# bad-page-state:<function>, kmap-leak:<function>, result:<op kind>, invariant:<name>).
FAMILIES: tuple[str, ...] = (
    "kernel-bug",
    "use-after-free",
    "bad-page-state",
    "kmap-leak",
    "orphan-migration-entry",
    "shared-writable",
    "writable-in-readonly-vma",
    "deadlock",
    "result",
    "data",
    "pte-kind",
    "pte-writable",
    "sharing",
    "node",
    "swap-device",
    "invariant",
)
PARAMETRISED = frozenset(
    {"kernel-bug", "use-after-free", "bad-page-state", "kmap-leak", "result", "invariant"}
)

# The two levels of observation (docs/semantics.md, "Two levels"). Contract: what Linux promises
# a program on every kernel (results, data, signals, COW isolation); implementation: how the
# 2006 code keeps that promise (pte kinds, write bits, frame identity, nodes, swap devices,
# invariants), which later kernels may do differently.
CONTRACT = "contract"
IMPLEMENTATION = "implementation"
LEVEL_NAMES: tuple[str, ...] = (CONTRACT, "all")
LEVELS: dict[str, str] = {
    "kernel-bug": CONTRACT,  # the task dies: the program sees it
    "use-after-free": CONTRACT,  # kernel memory corrupted: nothing is promised any more
    "bad-page-state": CONTRACT,  # the kernel reports it and leaks the page (tainted)
    "kmap-leak": CONTRACT,  # the next kmap_atomic of the slot oopses (CONFIG_DEBUG_HIGHMEM)
    "orphan-migration-entry": IMPLEMENTATION,
    "shared-writable": CONTRACT,  # a write would reach another process: COW isolation
    "writable-in-readonly-vma": CONTRACT,  # a write would succeed where SIGSEGV is promised
    "deadlock": CONTRACT,  # the call never returns
    "result": CONTRACT,
    "data": CONTRACT,
    "pte-kind": IMPLEMENTATION,
    "pte-writable": IMPLEMENTATION,
    "sharing": IMPLEMENTATION,
    "node": IMPLEMENTATION,
    "swap-device": IMPLEMENTATION,
    "invariant": IMPLEMENTATION,
}
# Per-pte observations (the differ's field names) and their level: only the data a read would
# return is promised; the rest is the 2006 implementation.
FIELD_LEVELS: dict[str, str] = {
    "kind": IMPLEMENTATION,
    "writable": IMPLEMENTATION,
    "sharing": IMPLEMENTATION,
    "node": IMPLEMENTATION,
    "data": CONTRACT,
    "swap": IMPLEMENTATION,
}

# The per-pte field that differs -> the class it signs.
FIELD_CLASS: dict[str, str] = {
    "kind": "pte-kind",
    "writable": "pte-writable",
    "sharing": "sharing",
    "node": "node",
    "data": "data",
    "swap": "swap-device",
}


@dataclass(frozen=True, slots=True)
class Signature:
    """One way a divergence shows: `cls` and the op id where it first shows (None: unknown)."""

    cls: str
    op: int | None = None

    @property
    def family(self) -> str:
        return self.cls.split(":", 1)[0]

    @property
    def level(self) -> str:
        return level_of(self.cls)

    def __str__(self) -> str:
        return self.cls if self.op is None else f"{self.cls}@{self.op}"


# Results that are observations of the page table, not of the program: a state check
# (`expect PROC ADDR STATE`) reports the pte kind and write bit.
IMPLEMENTATION_RESULTS = frozenset({"result:expect"})


def level_of(cls: str) -> str:
    """`contract` or `implementation` for a signature class (unknown families: implementation)."""
    if cls in IMPLEMENTATION_RESULTS:
        return IMPLEMENTATION
    return LEVELS.get(cls.split(":", 1)[0], IMPLEMENTATION)


def check_level(level: str) -> str:
    """A `--level` value, checked: `contract` compares contract classes only, `all` every class."""
    if level not in LEVEL_NAMES:
        raise ValueError(f"unknown level {level!r}: choose {' or '.join(LEVEL_NAMES)}")
    return level


def family_rank(cls: str) -> int:
    family = cls.split(":", 1)[0]
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


def ordered(signatures: Iterable[Signature]) -> tuple[Signature, ...]:
    """One signature per class (its earliest op), primary first.

    Within a family, earlier ops come first (the first symptom is the likeliest cause), then
    unknown ops, then the class name for a stable order.
    """
    first: dict[str, int | None] = {}
    for sig in signatures:
        if sig.cls not in first:
            first[sig.cls] = sig.op
        else:
            known = [op for op in (first[sig.cls], sig.op) if op is not None]
            first[sig.cls] = min(known) if known else None
    return tuple(
        sorted(
            (Signature(cls, op) for cls, op in first.items()),
            key=lambda s: (family_rank(s.cls), s.op is None, s.op or 0, s.cls),
        )
    )


def matches(expected: str, signature: Signature) -> bool:
    """Whether an `expect ... diverges` name covers a signature.

    The exact class always matches; a bare parametrised family (`kernel-bug`, `result`,
    `invariant`) matches any class of that family.
    """
    if expected == signature.cls:
        return True
    return expected in PARAMETRISED and signature.family == expected


def is_known_class(name: str) -> bool:
    """Whether `name` is a signature class ptediff can report (for validating expect lines)."""
    family, colon, _ = name.partition(":")
    if family not in FAMILIES:
        return False
    return family in PARAMETRISED or not colon
