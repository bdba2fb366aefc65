"""Mutants in mm/mprotect.c."""

from __future__ import annotations

from ptediff.impls.mutants.base import PREFIX, Mutant
from ptediff.impls.pte import PAGE_SIZE, PresentPte, SwapPte
from ptediff.impls.sched import KGen
from ptediff.impls.structs import VM_WRITE, Mm, PageProt, Vma, pmd_index


def _ptes(mm: Mm, start: int, end: int) -> dict[int, object]:
    return {addr: mm.pte(addr) for addr in range(start, end, PAGE_SIZE)}


def _set(mm: Mm, addr: int, pte: PresentPte | SwapPte) -> None:
    """Store a pte the range's (still allocated) page table holds."""
    mm.page_tables[pmd_index(addr)].ptes[addr] = pte


class MprotectKeepsWrite(Mutant):
    """change_pte_range() merges the new protection into the old pte instead of replacing it
    (a pte_modify that ORs in newprot): a writable pte stays writable after mprotect(PROT_READ),
    and the process writes a page its vma no longer allows."""

    NAME = PREFIX + "mprotect_keeps_write"
    REVERTS = "change_pte_range keeps the write bit of present ptes"
    FUNCTION, FILE, AREA = "change_pte_range", "mm/mprotect.c", "mprotect"

    def change_pte_range(self, mm: Mm, start: int, end: int, newprot: PageProt) -> KGen[None]:
        """change_pte_range() whose pte_modify keeps the old write bit."""
        before = _ptes(mm, start, end)
        yield from super().change_pte_range(mm, start, end, newprot)
        for addr, old in before.items():
            new = mm.pte(addr)
            if isinstance(old, PresentPte) and old.write and isinstance(new, PresentPte):
                _set(mm, addr, new.mkwrite())


class MprotectKeepsWriteEntry(Mutant):
    """change_pte_range() without the CONFIG_MIGRATION branch: a WRITE migration entry
    survives mprotect(PROT_READ), and remove_migration_pte later makes the pte writable in a
    vma that is read-only."""

    NAME = PREFIX + "mprotect_keeps_write_entry"
    REVERTS = "change_pte_range does not downgrade WRITE migration entries"
    FUNCTION, FILE, AREA = "change_pte_range", "mm/mprotect.c", "mprotect"

    def change_pte_range(self, mm: Mm, start: int, end: int, newprot: PageProt) -> KGen[None]:
        """change_pte_range() with its migration-entry downgrade undone."""
        before = _ptes(mm, start, end)
        yield from super().change_pte_range(mm, start, end, newprot)
        for addr, old in before.items():
            if isinstance(old, SwapPte) and self.enc.is_write_migration_entry(old.val):
                _set(mm, addr, old)


class MprotectNoopOnWriteOnly(Mutant):
    """mprotect_fixup() takes its "nothing changes" early exit when the write permission is
    unchanged (comparing VM_WRITE instead of all the flags): mprotect(PROT_NONE) of a
    read-only vma changes neither the vma nor its ptes, and the pages stay readable."""

    NAME = PREFIX + "mprotect_noop_on_write_only"
    REVERTS = "mprotect_fixup compares only VM_WRITE for its early exit"
    FUNCTION, FILE, AREA = "mprotect_fixup", "mm/mprotect.c", "mprotect"

    def mprotect_fixup(self, vma: Vma, start: int, end: int, newflags: int) -> KGen[Vma]:
        """mprotect_fixup() with the early-exit test narrowed to VM_WRITE."""
        if (newflags ^ vma.flags) & VM_WRITE == 0:
            return vma
        return (yield from super().mprotect_fixup(vma, start, end, newflags))


class MprotectFirstPteOnly(Mutant):
    """change_pte_range() stops after the first pte of the range (the loop's advance written
    as a break): in a multi-page mprotect only the first page loses its write bit."""

    NAME = PREFIX + "mprotect_first_pte_only"
    REVERTS = "change_pte_range changes only the first pte of its range"
    FUNCTION, FILE, AREA = "change_pte_range", "mm/mprotect.c", "mprotect"

    def change_pte_range(self, mm: Mm, start: int, end: int, newprot: PageProt) -> KGen[None]:
        """change_pte_range() over [start, start + PAGE_SIZE) only."""
        yield from super().change_pte_range(mm, start, min(end, start + PAGE_SIZE), newprot)

