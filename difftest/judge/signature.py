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

    def __str__(self) -> str:
        return self.cls if self.op is None else f"{self.cls}@{self.op}"


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
