"""The kernel structures the models work on: struct page, vm_area_struct, anon_vma, mm_struct,
page-table pages, swap_info_struct.

Plain mutable objects, compared by identity like the kernel's pointers. Only mremap's vma merge
is modelled (copy_vma's vma_merge, impls/mremap.py): every mmap creates its own vma, mprotect
and mlock never merge, and find_mergeable_anon_vma never finds a neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ptediff.impls.pte import PAGE_SHIFT, PAGE_SIZE, PTRS_PER_PTE, Pte
from ptediff.impls.sched import Mutex, RwSemaphore


class Spinlock(Mutex):
    """A spinlock (pte lock, page_table_lock, anon_vma->lock): holding one disables
    preemption, which makes its holder an RCU reader (impls.lifetime)."""

# vm_flags (include/linux/mm.h)
VM_READ = 0x1
VM_WRITE = 0x2
VM_EXEC = 0x4
VM_SHARED = 0x8
VM_MAYREAD = 0x10
VM_MAYWRITE = 0x20
VM_MAYEXEC = 0x40
VM_MAYSHARE = 0x80
VM_LOCKED = 0x2000
VM_ACCOUNT = 0x00100000  # charged to overcommit: set once a private mapping is writable

SWAP_MAP_MAX = 0x7FFF
SWAP_MAP_BAD = 0x8000
SWP_USED = 1
SWP_WRITEOK = 2
SWP_ACTIVE = SWP_USED | SWP_WRITEOK


def is_cow_mapping(flags: int) -> bool:
    """is_cow_mapping() in mm/memory.c: private and may be written."""
    return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE


@dataclass(frozen=True, slots=True)
class PageProt:
    """vm_page_prot reduced to what a pte built from it gets."""

    readable: bool
    writable: bool


def protection_map(flags: int) -> PageProt:
    """protection_map[vm_flags & 0xf]: private entries are never writable (x86 PAGE_COPY)."""
    readable = bool(flags & (VM_READ | VM_WRITE | VM_EXEC))
    writable = bool(flags & VM_SHARED) and bool(flags & VM_WRITE)
    return PageProt(readable, writable)


@dataclass(eq=False)
class Page:
    """struct page. `mapcount` is page_mapcount(), i.e. the kernel's _mapcount + 1."""

    pfn: int
    node: int
    lock: Mutex
    refcount: int = 1
    mapcount: int = 0
    anon_vma: AnonVma | None = None  # page->mapping of an anon page; stale after unmap
    index: int = 0
    swapcache: bool = False
    private: int = 0  # the swap entry while in the swap cache
    dirty: bool = False
    data: int = 0
    freed: bool = False
    reserved: bool = False  # ZERO_PAGE
    lru: bool = False  # PageLRU: on an LRU list, so isolate_lru_page can take it
    alloc_id: int = 0  # which allocation of this frame the struct currently describes

    @property
    def locked(self) -> bool:
        return self.lock.locked

    @property
    def anon(self) -> bool:
        """PageAnon() in include/linux/mm.h: page->mapping points at an anon_vma."""
        return self.anon_vma is not None


@dataclass(eq=False)
class AnonVma:
    """struct anon_vma: the ordered list of vmas whose pages it covers, and its lock."""

    ident: int
    lock: Mutex
    vmas: list[Vma] = field(default_factory=list)
    freed: bool = False  # in the slab's free list (type-stable: SLAB_DESTROY_BY_RCU)
    generation: int = 0  # how many times the slab object was reused
    readers: dict[Any, int] = field(default_factory=dict)  # the grace period since the free


@dataclass(eq=False)
class Vma:
    """struct vm_area_struct for a private anonymous mapping.

    forked_from: the parent's vma this one was copied from by dup_mmap (for invariant I6).
    """

    mm: Mm
    start: int
    end: int
    flags: int
    page_prot: PageProt
    pgoff: int
    anon_vma: AnonVma | None = None
    forked_from: Vma | None = None

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def pages(self) -> range:
        return range(self.start, self.end, PAGE_SIZE)

    def linear_page_index(self, addr: int) -> int:
        """linear_page_index() in include/linux/pagemap.h: the page's index in vma's object."""
        return ((addr - self.start) >> PAGE_SHIFT) + self.pgoff

    def prot_name(self) -> str:
        if self.flags & VM_WRITE:
            return "rw"
        if self.flags & VM_READ:
            return "r"
        return "none"


@dataclass(eq=False)
class PageTable:
    """One page-table page (the ptes under one pmd) with its split pte lock."""

    mm: Mm
    index: int  # pmd index: addr // (PTRS_PER_PTE * PAGE_SIZE)
    ptl: Mutex
    ptes: dict[int, Pte] = field(default_factory=dict)  # virtual address -> pte


PMD_SPAN = PTRS_PER_PTE * PAGE_SIZE


def pmd_index(addr: int) -> int:
    """Which page-table page covers addr (pmd_index() in asm/pgtable.h, over all levels)."""
    return addr // PMD_SPAN


@dataclass(eq=False)
class Mm:
    """struct mm_struct of one process."""

    name: str
    mmap_sem: RwSemaphore
    page_table_lock: Mutex
    vmas: list[Vma] = field(default_factory=list)  # sorted by start
    page_tables: dict[int, PageTable] = field(default_factory=dict)
    anon_rss: int = 0
    file_rss: int = 0
    on_mmlist: bool = False

    def find_vma(self, addr: int) -> Vma | None:
        """find_vma() in mm/mmap.c: the first vma ending above addr (may start above it)."""
        for vma in self.vmas:
            if addr < vma.end:
                return vma
        return None

    def vma_at(self, addr: int) -> Vma | None:
        vma = self.find_vma(addr)
        return vma if vma is not None and vma.start <= addr else None

    def insert_vma(self, vma: Vma) -> None:
        self.vmas.append(vma)
        self.vmas.sort(key=lambda v: v.start)

    def pte(self, addr: int) -> Pte:
        table = self.page_tables.get(pmd_index(addr))
        return None if table is None else table.ptes.get(addr)


@dataclass(eq=False)
class SwapInfo:
    """struct swap_info_struct. swap_map[0] is the header page (SWAP_MAP_BAD)."""

    type: int
    flags: int = SWP_USED
    prio: int = 0
    next: int = -1
    swap_map: list[int] = field(default_factory=list)
    data: dict[int, int] = field(default_factory=dict)  # what each slot holds on "disk"
    lowest_bit: int = 0
    highest_bit: int = 0
    cluster_next: int = 1
    cluster_nr: int = 0
    inuse_pages: int = 0
    pages: int = 0

    @property
    def max(self) -> int:
        return len(self.swap_map)
