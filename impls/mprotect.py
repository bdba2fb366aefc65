"""mm/mprotect.c."""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.core.program import Prot
from ptediff.impls.core import KernelCore, PteHandle
from ptediff.impls.pte import PAGE_SIZE, PresentPte, SwapPte
from ptediff.impls.sched import WRITE, Acquire, KGen
from ptediff.impls.structs import (
    PMD_SPAN,
    VM_ACCOUNT,
    VM_EXEC,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    Mm,
    PageProt,
    Vma,
    pmd_index,
    protection_map,
)


def prot_to_vm_flags(prot: Prot) -> int:
    """calc_vm_prot_bits() in include/linux/mman.h."""
    return (VM_READ if prot.readable else 0) | (VM_WRITE if prot.writable else 0)


class Mprotect(KernelCore):
    """mprotect(2)."""

    def sys_mprotect(self, mm: Mm, start: int, npages: int, prot: Prot) -> KGen[int]:
        """sys_mprotect() in mm/mprotect.c: vmas before a hole keep their new protection."""
        if start % PAGE_SIZE:
            return -ERRNO["EINVAL"]
        if npages == 0:
            return 0
        if npages < 0:
            return -ERRNO["ENOMEM"]
        end = start + npages * PAGE_SIZE
        yield Acquire("sys_mprotect", mm.mmap_sem, WRITE)
        error = 0
        nstart = start
        vma = mm.vma_at(start)
        while True:
            if vma is None or vma.start > nstart:
                error = -ERRNO["ENOMEM"]
                break
            newflags = (vma.flags & ~(VM_READ | VM_WRITE | VM_EXEC)) | prot_to_vm_flags(prot)
            tmp = min(vma.end, end)
            vma = yield from self.mprotect_fixup(vma, nstart, tmp, newflags)
            nstart = tmp
            if nstart >= end:
                break
            vma = mm.find_vma(nstart)
        self.unlock(mm.mmap_sem, WRITE)
        return error

    def mprotect_fixup(self, vma: Vma, start: int, end: int, newflags: int) -> KGen[Vma]:
        """mprotect_fixup() in mm/mprotect.c: identical flags change nothing at all."""
        if newflags == vma.flags:
            return vma
        if newflags & VM_WRITE and not vma.flags & (VM_ACCOUNT | VM_WRITE | VM_SHARED):
            newflags |= VM_ACCOUNT  # made writable: charged from now on
        if start != vma.start:
            yield from self.split_vma(vma.mm, vma, start, new_below=True)
        if end != vma.end:
            yield from self.split_vma(vma.mm, vma, end, new_below=False)
        vma.flags = newflags
        vma.page_prot = protection_map(newflags)
        yield from self.change_protection(vma, start, end, vma.page_prot)
        return vma

    def change_protection(self, vma: Vma, start: int, end: int, newprot: PageProt) -> KGen[None]:
        """change_protection() in mm/mprotect.c."""
        mm = vma.mm
        addr = start
        while addr < end:
            boundary = min((pmd_index(addr) + 1) * PMD_SPAN, end)
            if pmd_index(addr) in mm.page_tables:
                yield from self.change_pte_range(mm, addr, boundary, newprot)
            addr = boundary

    def change_pte_range(self, mm: Mm, start: int, end: int, newprot: PageProt) -> KGen[None]:
        """change_pte_range() in mm/mprotect.c: present ptes take all protection bits from
        newprot; WRITE migration entries become READ whatever newprot is."""
        mapped = yield from self.pte_offset_map_lock(mm, start, "change_pte_range")
        assert mapped is not None
        first, ptl = mapped
        for addr in range(start, end, PAGE_SIZE):
            ptep = PteHandle(first.table, addr, "change_pte_range")
            pte = ptep.get()
            if isinstance(pte, PresentPte):
                ptep.set(pte_modify(pte, newprot))
            elif isinstance(pte, SwapPte) and self.enc.is_write_migration_entry(pte.val):
                ptep.set(SwapPte(self.enc.make_migration_entry_read(pte.val), pte.alloc))
        self.pte_unmap_unlock(first, ptl)


def pte_modify(pte: PresentPte, newprot: PageProt) -> PresentPte:
    """pte_modify() in include/asm-i386/pgtable.h: keep pfn, accessed and dirty; the rest
    comes from newprot."""
    return PresentPte(
        pte.pfn,
        write=newprot.writable,
        dirty=pte.dirty,
        young=pte.young,
        protnone=not newprot.readable,
        alloc=pte.alloc,
    )
