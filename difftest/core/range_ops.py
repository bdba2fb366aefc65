"""Operations on a range of one process's address space beyond map/munmap/mprotect: madvise,
mlock, munlock and mremap (ptediff.core.program re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ptediff.core.node import Op

MADVISE_ADVICE = ("dontneed",)  # advice words `madvise` accepts (MADV_PAGEOUT is `pageout`)


@dataclass(frozen=True)
class Madvise(Op):
    """madvise(addr, npages pages, MADV_DONTNEED): drop the pages of the range (the vmas stay;
    the next access faults in a zero page or a fresh one)."""

    KIND: ClassVar[str] = "madvise"
    proc: str
    addr: int
    npages: int
    advice: str = "dontneed"


@dataclass(frozen=True)
class Mlock(Op):
    """mlock(addr, npages pages): set VM_LOCKED on the range and fault every page in (written
    pages for a writable vma, read ones otherwise); reclaim and migration then leave it."""

    KIND: ClassVar[str] = "mlock"
    proc: str
    addr: int
    npages: int


@dataclass(frozen=True)
class Munlock(Op):
    """munlock(addr, npages pages): clear VM_LOCKED on the range (the pages stay mapped)."""

    KIND: ClassVar[str] = "munlock"
    proc: str
    addr: int
    npages: int


@dataclass(frozen=True)
class Mremap(Op):
    """mremap(old, npages pages, npages pages, MREMAP_MAYMOVE|MREMAP_FIXED, new): move the
    range's ptes (present, swap and migration entries alike, protections kept) and its vma to
    `new`, unmapping whatever was mapped there first; the result is `new` (or an errno)."""

    KIND: ClassVar[str] = "mremap"
    proc: str
    addr: int
    npages: int
    new: int
