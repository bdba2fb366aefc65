"""The spec's abstract machine state: processes, vmas, abstract ptes, logical pages, swap slots.

No locks, no encodings, no reverse maps: who maps a page is found by looking at every pte.
Programs are small, so that is cheap, and it keeps every rule obviously right. All values held
in the containers are immutable, so `clone` (a shallow copy of five dicts) is all it takes to
fork the state per linearization and per allowance branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ptediff.core.program import INITIAL_PROC, PAGE_SIZE, Config, Prot
from ptediff.spec.swap import Slot, SwapTable

ZERO_PAGE = 0  # the one shared zero page: node 0, data 0, never anonymous
# Addresses one page-table page covers (x86-64: 512 ptes). Whether a process has a page table
# at an address is observable only through a read pin (follow_page's FOLL_ANON).
TABLE_SPAN = 512 * PAGE_SIZE


@dataclass(frozen=True, slots=True)
class Vma:
    """A private anonymous mapping. `anon`: it has had an anonymous page (the kernel's anon_vma),
    which is what makes fork copy its ptes; `anon_id` tells anon_vmas apart (0: none; pieces
    of one vma and a forked child's copy share it). `locked`: mlocked (VM_LOCKED). `account`:
    it has been writable (VM_ACCOUNT). `shift`: its pgoff less its start page, kept by splits
    and changed by a move. The last three decide only whether mremap's new vma merges with a
    neighbour (copy_vma's vma_merge)."""

    start: int
    npages: int
    prot: Prot
    anon: bool = False
    locked: bool = False
    anon_id: int = 0
    account: bool = False
    shift: int = 0

    @property
    def end(self) -> int:
        return self.start + self.npages * PAGE_SIZE

    def addresses(self) -> range:
        return range(self.start, self.end, PAGE_SIZE)

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def piece(self, start: int, end: int, prot: Prot | None = None) -> Vma:
        """The part [start, end) of this vma (a split keeps `anon`: both halves share it, and
        `locked`)."""
        npages = (end - start) // PAGE_SIZE
        return replace(self, start=start, npages=npages,
                       prot=self.prot if prot is None else prot)


@dataclass(frozen=True, slots=True)
class Present:
    """A pte mapping logical page `page`."""

    page: int
    writable: bool


@dataclass(frozen=True, slots=True)
class Swapped:
    """A swap pte: the page's contents live in `slot`."""

    slot: Slot


Pte = Present | Swapped


@dataclass(frozen=True, slots=True)
class Page:
    """A logical page. `swap_copy`: the slot that still holds a copy of it (the kernel's swap
    cache): kept after a swap-in, reused by the next pageout, and counted as another reference
    by the COW reuse rule."""

    data: int
    node: int
    swap_copy: Slot | None = None


@dataclass
class SpecState:
    config: Config
    vmas: dict[str, tuple[Vma, ...]] = field(default_factory=lambda: {INITIAL_PROC: ()})
    ptes: dict[tuple[str, int], Pte] = field(default_factory=dict)  # only non-none ptes
    pages: dict[int, Page] = field(default_factory=lambda: {ZERO_PAGE: Page(0, 0)})
    slots: dict[Slot, int] = field(default_factory=dict)  # slots in use -> data written there
    swap: SwapTable = field(default_factory=SwapTable)
    next_page: int = ZERO_PAGE + 1
    pins: dict[int, int | None] = field(default_factory=dict)  # pin -> page held (None: failed)
    # (process, address // TABLE_SPAN) of every page table allocated: any pte ever installed
    # there, or a fork copying an anonymous vma where the parent had one. Never freed: like
    # the models, the spec does not model free_pgtables.
    tables: frozenset[tuple[str, int]] = frozenset()

    def clone(self) -> SpecState:
        return SpecState(
            self.config,
            dict(self.vmas),
            dict(self.ptes),
            dict(self.pages),
            dict(self.slots),
            self.swap,
            self.next_page,
            dict(self.pins),
            self.tables,
        )

    # --- processes and vmas --------------------------------------------------------------

    def vma_at(self, proc: str, addr: int) -> Vma | None:
        return next((v for v in self.vmas[proc] if v.contains(addr)), None)

    def set_vmas(self, proc: str, vmas: list[Vma]) -> None:
        self.vmas[proc] = tuple(sorted(vmas, key=lambda v: v.start))

    def mark_anon(self, proc: str, addr: int) -> None:
        """The vma at addr now has an anonymous page (anon_vma_prepare: a new anon_vma if it
        had none)."""
        vmas = list(self.vmas[proc])
        for i, v in enumerate(vmas):
            if v.contains(addr) and not v.anon_id:
                # a fresh identity, one no vma of any process has
                fresh = 1 + max((w.anon_id for ws in self.vmas.values() for w in ws), default=0)
                vmas[i] = replace(v, anon=True, anon_id=fresh)
            elif v.contains(addr):
                vmas[i] = replace(v, anon=True)
        self.set_vmas(proc, vmas)

    def keys_of(self, proc: str) -> list[tuple[str, int]]:
        return [key for key in self.ptes if key[0] == proc]

    # --- pages ---------------------------------------------------------------------------

    def new_page(self, data: int, node: int = 0, swap_copy: Slot | None = None) -> int:
        page = self.next_page
        self.next_page += 1
        self.pages[page] = Page(data, node, swap_copy)
        return page

    def update_page(self, page: int, **changes: object) -> None:
        self.pages[page] = replace(self.pages[page], **changes)  # type: ignore[arg-type]

    def mappers(self, page: int) -> list[tuple[str, int]]:
        return [k for k, p in self.ptes.items() if isinstance(p, Present) and p.page == page]

    def pinned(self, page: int) -> bool:
        """A get_user_pages reference holds the page (pin_user_pages.rst: it stays allocated
        and is the page the device reads and writes, whatever the page tables do meanwhile)."""
        return page in self.pins.values()

    def has_table(self, proc: str, addr: int) -> bool:
        return (proc, addr // TABLE_SPAN) in self.tables

    def is_anon(self, page: int) -> bool:
        return page != ZERO_PAGE

    # --- swap ----------------------------------------------------------------------------

    def swap_refs(self, slot: Slot) -> list[tuple[str, int]]:
        return [k for k, p in self.ptes.items() if isinstance(p, Swapped) and p.slot == slot]

    def cached_page(self, slot: Slot) -> int | None:
        """The page whose swap copy is `slot` (it sits in the swap cache), if any."""
        return next((pid for pid, p in self.pages.items() if p.swap_copy == slot), None)

    def swap_data(self, slot: Slot) -> int:
        """What reading the slot gives: the cached page's data if there is one, else the slot's."""
        cached = self.cached_page(slot)
        return self.pages[cached].data if cached is not None else self.slots[slot]

    def allocate_slot(self) -> Slot | None:
        swap, slot = self.swap.allocate(set(self.slots))
        self.swap = swap
        return slot

    def swap_full(self) -> bool:
        """More than half of all swap slots in use (the kernel's vm_swap_full)."""
        return 2 * (self.swap.total_slots() - len(self.slots)) < self.swap.total_slots()

    def drop_swap_copy(self, page: int) -> None:
        slot = self.pages[page].swap_copy
        self.update_page(page, swap_copy=None)
        if slot is not None and not self.swap_refs(slot):
            self.free_slot(slot)

    def free_slot(self, slot: Slot) -> None:
        del self.slots[slot]
        self.swap = self.swap.freed(slot)

    # --- garbage -------------------------------------------------------------------------

    def collect(self) -> None:
        """Free pages and slots nobody references any more.

        A page lives while a pte maps it, a pin holds it, or it has a swap copy (it stays in
        the swap cache: nothing in a program reclaims it). A slot lives while a swap pte holds
        it or a page has it as its swap copy.
        """
        # One pass over the ptes (it runs after every operation of every linearization).
        known = self.tables
        tables: set[tuple[str, int]] = set()
        mapped: set[int] = set()
        used: set[Slot] = set()
        for (proc, addr), pte in self.ptes.items():
            table = (proc, addr // TABLE_SPAN)
            if table not in known:
                tables.add(table)
            if type(pte) is Present:
                mapped.add(pte.page)
            else:
                used.add(pte.slot)  # type: ignore[union-attr]
        if tables:
            self.tables = known | tables
        for page in self.pins.values():
            if page is not None:
                mapped.add(page)
        pages = self.pages
        if len(pages) > len(mapped):  # else every page is mapped or pinned (or the zero page)
            for pid in [pid for pid, p in pages.items()
                        if pid != ZERO_PAGE and pid not in mapped and p.swap_copy is None]:
                del pages[pid]
        if self.slots:
            for p in pages.values():
                if p.swap_copy is not None:
                    used.add(p.swap_copy)
            if not used.issuperset(self.slots):
                for slot in sorted(set(self.slots) - used):
                    self.free_slot(slot)
