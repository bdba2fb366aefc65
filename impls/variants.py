"""The pre-fix variants: each reverts one fix folded into 0697212a by overriding only the
function (or the part of a function) that the fix changed; `PreFix` reverts all four."""

from __future__ import annotations

from typing import ClassVar

from ptediff.impls.base import Kernel
from ptediff.impls.core import PteHandle
from ptediff.impls.pte import Pte, SwapPte
from ptediff.impls.sched import Mutex
from ptediff.impls.structs import AnonVma, Vma, is_cow_mapping


class AnonVmaHead(Kernel):
    """Fix 1 reverted: anon_vma_prepare, __anon_vma_link and anon_vma_link used list_add, so
    a forked child's vma sat before its parent's and a remove_anon_migration_ptes walk could
    pass the child before fork copied the parent's migration entry into it."""

    NAME: ClassVar[str] = "prefix-anon-vma-head"
    REVERTS: ClassVar[str] = "fix 1: anon_vma lists insert at the head (list_add), not the tail"

    def anon_vma_list_add(self, anon_vma: AnonVma, vma: Vma) -> None:
        """list_add() in anon_vma_prepare/__anon_vma_link/anon_vma_link (mm/rmap.c)."""
        anon_vma.vmas.insert(0, vma)


class PteUnmapArg(Kernel):
    """Fix 2 reverted: remove_migration_pte's pte_unmap_unlock got the pte *value* it had
    just built instead of the mapped pte pointer; with CONFIG_HIGHPTE the pte page's kmap
    is never released."""

    NAME: ClassVar[str] = "prefix-pte-unmap-arg"
    REVERTS: ClassVar[str] = "fix 2: remove_migration_pte unmaps the pte value, not the pointer"

    def remove_migration_pte_unlock(self, ptep: PteHandle, pte: Pte, ptl: Mutex) -> None:
        """The last line of remove_migration_pte() in mm/migrate.c, before fix 2."""
        self.pte_unmap_unlock(pte, ptl)


class CowForkWrite(Kernel):
    """Fix 3 reverted: copy_one_pte looked every migration entry of a COW mapping up with
    migration_entry_to_page and rebuilt it with make_migration_entry(page,
    SWP_MIGRATION_READ), whose non-zero `write` argument makes a WRITE entry, in the parent
    and the child alike."""

    NAME: ClassVar[str] = "prefix-cow-fork-write"
    REVERTS: ClassVar[str] = (
        "fix 3: fork turns every migration entry of a COW vma into a WRITE entry in both mms"
    )

    def copy_migration_entry(
        self, vma: Vma, src_ptep: PteHandle, entry: int, alloc: int = 0
    ) -> SwapPte:
        """The migration-entry branch of copy_one_pte() in mm/memory.c, before fix 3."""
        if is_cow_mapping(vma.flags):
            page = self.migration_entry_to_page(entry, alloc, "copy_one_pte")
            entry = self.make_migration_entry(page, self.enc.migration_read)
            src_ptep.set(SwapPte(entry, alloc))
        return SwapPte(entry, alloc)


class SwaponRange(Kernel):
    """Fix 4 reverted: sys_swapon refused a type only above the one recovered by
    round-tripping swp_entry(~0, 0) through a swap pte (2**swap_bits - 1), so the types
    reserved for migration entries - and swap_info[] slots past the array - were handed out."""

    NAME: ClassVar[str] = "prefix-swapon-range"
    REVERTS: ClassVar[str] = "fix 4: sys_swapon allows types up to 2**swap_bits - 1"

    def swap_type_out_of_range(self, type_: int) -> bool:
        """The type bound of sys_swapon() in mm/swapfile.c, before fix 4."""
        return type_ > self.enc.roundtrip_type_limit()


class PreFix(AnonVmaHead, PteUnmapArg, CowForkWrite, SwaponRange):
    """All four fixes reverted: the code as first posted."""

    NAME: ClassVar[str] = "prefix"
    REVERTS: ClassVar[str] = "fixes 1-4: all four folded fixes reverted"
