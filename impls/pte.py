"""Page-table entries and the swap-entry encoding (include/linux/swapops.h, asm/pgtable.h).

A pte is None (pte_none), a `PresentPte`, or a `SwapPte` holding a swp_entry_t value. The arch
conversion between a swap pte and swp_entry_t is the identity here: every arch keeps as many
type bits as MAX_SWAPFILES_SHIFT, so nothing observable is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PTRS_PER_PTE = 512  # ptes per page-table page (x86_64): one split ptl covers 2 MiB
BITS_PER_LONG = 64


@dataclass(frozen=True, slots=True)
class PresentPte:
    """A present pte: the hardware bits ptediff cares about.

    protnone: a PROT_NONE pte (present to the kernel, but no user access: _PAGE_PROTNONE).
    alloc: which allocation of the frame the pte was made for (not a hardware bit: ptediff's
           shadow, so a stale pte to a reused frame is caught; 0 = unknown). Not compared.
    """

    pfn: int
    write: bool = False
    dirty: bool = False
    young: bool = False
    protnone: bool = False
    alloc: int = field(default=0, compare=False)

    def wrprotect(self) -> PresentPte:
        """pte_wrprotect() in include/asm-x86_64/pgtable.h: clear the write bit."""
        return replace(self, write=False)

    def mkwrite(self) -> PresentPte:
        """pte_mkwrite() in include/asm-x86_64/pgtable.h: set the write bit."""
        return replace(self, write=True)

    def mkdirty(self) -> PresentPte:
        """pte_mkdirty() in include/asm-x86_64/pgtable.h: set the dirty bit."""
        return replace(self, dirty=True)

    def mkyoung(self) -> PresentPte:
        """pte_mkyoung() in include/asm-x86_64/pgtable.h: set the accessed bit."""
        return replace(self, young=True)

    def mkold(self) -> PresentPte:
        """pte_mkold() in include/asm-x86_64/pgtable.h: clear the accessed bit."""
        return replace(self, young=False)


@dataclass(frozen=True, slots=True)
class SwapPte:
    """A non-present, non-file pte holding a swap entry (a plain swap or a migration entry).

    alloc: for a migration entry, the allocation of the page it was made for (shadow, as for
    PresentPte; 0 = unknown). Not compared.
    """

    val: int
    alloc: int = field(default=0, compare=False)


Pte = PresentPte | SwapPte | None


def pte_present(pte: Pte) -> bool:
    """pte_present() in include/asm-x86_64/pgtable.h (a PROT_NONE pte counts as present)."""
    return isinstance(pte, PresentPte)


def is_swap_pte(pte: Pte) -> bool:
    """is_swap_pte() in mm/migrate.c at 0697212a (swapops.h later): not none, not present."""
    return isinstance(pte, SwapPte)


@dataclass(frozen=True)
class SwapEncoding:
    """swp_entry_t layout for a given MAX_SWAPFILES_SHIFT, with CONFIG_MIGRATION=y.

    type sits in the top `swap_bits` bits of the 64-bit value, the offset below it.
    """

    swap_bits: int = 5

    @property
    def shift(self) -> int:
        return BITS_PER_LONG - self.swap_bits

    @property
    def offset_mask(self) -> int:
        return (1 << self.shift) - 1

    @property
    def max_swapfiles(self) -> int:
        """MAX_SWAPFILES: two types are reserved for migration entries."""
        return (1 << self.swap_bits) - 2

    @property
    def migration_read(self) -> int:
        """SWP_MIGRATION_READ in include/linux/swap.h: MAX_SWAPFILES."""
        return self.max_swapfiles

    @property
    def migration_write(self) -> int:
        """SWP_MIGRATION_WRITE in include/linux/swap.h: MAX_SWAPFILES + 1."""
        return self.max_swapfiles + 1

    def swp_entry(self, type_: int, offset: int) -> int:
        """swp_entry() in include/linux/swapops.h: type in the top bits, offset truncated below."""
        type_mask = (1 << self.swap_bits) - 1
        return ((type_ & type_mask) << self.shift) | (offset & self.offset_mask)

    def swp_type(self, entry: int) -> int:
        """swp_type() in include/linux/swapops.h."""
        return entry >> self.shift

    def swp_offset(self, entry: int) -> int:
        """swp_offset() in include/linux/swapops.h."""
        return entry & self.offset_mask

    def is_migration_entry(self, entry: int) -> bool:
        """is_migration_entry() in include/linux/swapops.h (added by 0697212a): type 30 or 31."""
        return self.swp_type(entry) in (self.migration_read, self.migration_write)

    def is_write_migration_entry(self, entry: int) -> bool:
        """is_write_migration_entry() in include/linux/swapops.h (added by 0697212a)."""
        return self.swp_type(entry) == self.migration_write

    def make_migration_entry_read(self, entry: int) -> int:
        """make_migration_entry_read() in include/linux/swapops.h (0697212a): same pfn, READ."""
        return self.swp_entry(self.migration_read, self.swp_offset(entry))

    def roundtrip_type_limit(self) -> int:
        """The bound sys_swapon (mm/swapfile.c) computed inline before fix 4: swp_entry(~0, 0)
        round-tripped through a swap pte. Not a kernel function of its own."""
        return self.swp_type(self.swp_entry(~0, 0))
