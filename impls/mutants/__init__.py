"""The mutant catalogue: realistic bugs a kernel developer could write in the functions
0697212a and its neighbours touch, each a small subclass of the post-fix `Kernel`.

Mutants stay out of `ptediff.impls.REGISTRY` (what `ptediff impls` lists and a bare hunt
searches); they are named `mutant:<name>` wherever an implementation is named (`--impl`,
`expect` lines), listed by `ptediff impls --mutants`, and measured by `ptediff evaluate`.
Each observable mutant has a hand-written witness program `witnesses/<name>.pte` that shows it
(tests/cover/test_mutants.py replays them); an EQUIVALENT one records why nothing can.
"""

from __future__ import annotations

from pathlib import Path

from ptediff.impls.mutants import fault, fork, migrate, mprotect, mremap, rmap, swap
from ptediff.impls.mutants.base import PREFIX, Mutant

WITNESSES = Path(__file__).parent / "witnesses"

_ALL: tuple[type[Mutant], ...] = tuple(
    cls
    for module in (fork, mprotect, fault, rmap, migrate, swap, mremap)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, Mutant) and cls is not Mutant
    and cls.__module__ == module.__name__
)

# Every mutant by its full name (mutant:<name>), observable or equivalent.
MUTANTS: dict[str, type[Mutant]] = {cls.NAME: cls for cls in _ALL}
# The ones a program can tell from postfix: what `evaluate` measures.
CATALOGUE: dict[str, type[Mutant]] = {n: c for n, c in MUTANTS.items() if not c.EQUIVALENT}
EQUIVALENT: dict[str, type[Mutant]] = {n: c for n, c in MUTANTS.items() if c.EQUIVALENT}


def is_mutant_name(name: str) -> bool:
    return name.startswith(PREFIX)


def witness(name: str) -> Path:
    """The witness program of a mutant (full or short name)."""
    return WITNESSES / f"{name.removeprefix(PREFIX)}.pte"


__all__ = ["CATALOGUE", "EQUIVALENT", "MUTANTS", "PREFIX", "Mutant", "is_mutant_name", "witness"]
