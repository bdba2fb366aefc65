"""What every catalogue mutant carries: its name, the kernel function it breaks, the bug."""

from __future__ import annotations

from typing import ClassVar

from ptediff.impls.base import Kernel

PREFIX = "mutant:"  # the name form `--impl` and `expect` lines use: mutant:<name>


class Mutant(Kernel):
    """A post-fix model with one injected bug (a small override of one kernel function).

    NAME is `mutant:<name>`; REVERTS (what `ptediff impls` shows, and what makes a hunt expect
    divergences) says what the bug is. FUNCTION and FILE place it in the kernel. A mutant whose
    bug no ptediff program can observe sets EQUIVALENT to the reason; it keeps no witness.
    """

    NAME: ClassVar[str] = PREFIX + "base"
    REVERTS: ClassVar[str] = ""
    FUNCTION: ClassVar[str] = ""
    FILE: ClassVar[str] = ""
    AREA: ClassVar[str] = ""  # fork, mprotect, fault, rmap, swap, migration, mremap
    EQUIVALENT: ClassVar[str] = ""  # why no program can tell it from postfix ("" = observable)

    @classmethod
    def short_name(cls) -> str:
        return cls.NAME.removeprefix(PREFIX)
