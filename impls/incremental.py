"""Incremental checking of the invariants of `ptediff.impls.invariants`: only what a step changed.

`InvariantChecker` scans every pte of every process after every scheduler step, which makes a
run quadratic (a fork chain of 400 took half a minute). `IncrementalChecker` gives the same
violations (same names, same operations, same details up to the order of the writers listed by
I4, which it sorts) from what changed since the last step:

* every page table's `ptes` dict is swapped for a `TrackedPtes`, which notes the addresses
  written; a table that appears counts as all written, one that goes as all removed;
* from the old and new pte at each written address it keeps, per pfn, the number of present
  ptes and the writable ones (I3, I4), and per page the migration entries pointing at it (I1,
  I2);
* pages (mapcount, lock, identity) and each mm's vmas (range, flags) are compared with their
  previous state, a cheap scan of the pages and vmas, not the ptes.

A pte, pfn or mm that changed stays pending until its invariant can be checked (its pte lock,
every pte lock, its mmap_sem free), exactly when the full checker would first see it. I6 and
I7 are not pte scans and stay as they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ptediff.impls.core import KernelCore
from ptediff.impls.invariants import InvariantChecker
from ptediff.impls.pte import PresentPte, Pte, SwapPte
from ptediff.impls.structs import VM_WRITE, Mm, Page, PageTable

PteKey = tuple[int, int]  # (id of the page table, virtual address)


class TrackedPtes(dict[int, Pte]):
    """A page table's ptes that note every address written (set, removed) in `written`."""

    __slots__ = ("written",)

    def __init__(self, items: Iterable[tuple[int, Pte]], written: set[int]) -> None:
        super().__init__(items)
        self.written = written

    def __setitem__(self, addr: int, pte: Pte) -> None:
        self.written.add(addr)
        super().__setitem__(addr, pte)

    def __delitem__(self, addr: int) -> None:
        self.written.add(addr)
        super().__delitem__(addr)

    def pop(self, addr: int, *default: Any) -> Any:
        self.written.add(addr)
        return super().pop(addr, *default)

    def setdefault(self, addr: int, pte: Pte = None) -> Pte:  # type: ignore[override]
        self.written.add(addr)
        return super().setdefault(addr, pte)

    def update(self, *args: Any, **kwargs: Any) -> None:
        changes = dict(*args, **kwargs)
        self.written.update(changes)
        super().update(changes)

    def clear(self) -> None:
        self.written.update(self)
        super().clear()

    def popitem(self) -> tuple[int, Pte]:
        addr, pte = super().popitem()
        self.written.add(addr)
        return addr, pte


@dataclass(eq=False)
class _Table:
    table: PageTable  # kept referenced, so its id is not reused while it is known
    mm: Mm
    shadow: dict[int, Pte] = field(default_factory=dict)  # the ptes as last absorbed


class IncrementalChecker(InvariantChecker):
    """InvariantChecker's I1-I5 from the changes of each step (see the module docstring)."""

    def __init__(self, kernel: KernelCore, rss: bool = False) -> None:
        super().__init__(kernel, rss)
        self._tables: dict[int, _Table] = {}
        self._present: Counter[int] = Counter()  # pfn -> present ptes mapping it
        self._writers: dict[int, set[tuple[int, int]]] = {}  # pfn -> writable (table, addr)
        self._migration: dict[int, set[PteKey]] = {}  # pfn -> migration entries to it
        self._pages: dict[int, tuple[int, int, bool]] = {}  # pfn -> (id, mapcount, locked)
        self._vmas: dict[int, tuple[Mm, tuple[tuple[int, int, int], ...]]] = {}
        self._pending_i1: set[PteKey] = set()
        self._pending_i5: set[PteKey] = set()
        self._pending_pfns_i3: set[int] = set()
        self._pending_pfns_i4: set[int] = set()
        self._pending_mms_i5: dict[int, Mm] = {}

    # -- absorbing the changes ---------------------------------------------------------------

    def absorb(self) -> None:
        """Take in everything that changed since the last call."""
        seen: set[int] = set()
        for mm in self.kernel.mms:
            for table in mm.page_tables.values():
                key = id(table)
                seen.add(key)
                known = self._tables.get(key)
                if known is None:
                    known = self._tables[key] = _Table(table, mm)
                if not isinstance(table.ptes, TrackedPtes):
                    table.ptes = TrackedPtes(table.ptes.items(), set(table.ptes))
                written = table.ptes.written
                for addr in written:
                    self._update(known, addr, table.ptes.get(addr))
                written.clear()
        for key in [key for key in self._tables if key not in seen]:
            gone = self._tables.pop(key)
            for addr in list(gone.shadow):
                self._update(gone, addr, None)
        self._absorb_pages()
        self._absorb_vmas()

    def _update(self, known: _Table, addr: int, new: Pte) -> None:
        old = known.shadow.get(addr)
        if old == new:
            return
        key = (id(known.table), addr)
        self._account(key, old, -1)
        self._account(key, new, +1)
        if new is None:
            known.shadow.pop(addr, None)
        else:
            known.shadow[addr] = new
        self._pending_i1.add(key)
        self._pending_i5.add(key)

    def _account(self, key: PteKey, pte: Pte, sign: int) -> None:
        if isinstance(pte, PresentPte):
            self._present[pte.pfn] += sign
            if not self._present[pte.pfn]:
                del self._present[pte.pfn]
            if pte.write:
                writers = self._writers.setdefault(pte.pfn, set())
                (writers.add if sign > 0 else writers.discard)(key)
            self._pending_pfns_i3.add(pte.pfn)
            self._pending_pfns_i4.add(pte.pfn)
        elif isinstance(pte, SwapPte) and self.kernel.enc.is_migration_entry(pte.val):
            entries = self._migration.setdefault(self.kernel.enc.swp_offset(pte.val), set())
            (entries.add if sign > 0 else entries.discard)(key)

    def _absorb_pages(self) -> None:
        current = self.kernel.pages
        for pfn, page in current.items():
            state = (id(page), page.mapcount, page.locked)
            if self._pages.get(pfn) != state:
                self._page_changed(pfn)
                self._pages[pfn] = state
        for pfn in [pfn for pfn in self._pages if pfn not in current]:
            del self._pages[pfn]
            self._page_changed(pfn)

    def _page_changed(self, pfn: int) -> None:
        self._pending_pfns_i3.add(pfn)
        self._pending_pfns_i4.add(pfn)
        self._pending_i1.update(self._migration.get(pfn, ()))

    def _absorb_vmas(self) -> None:
        alive: set[int] = set()
        for mm in self.kernel.mms:
            alive.add(id(mm))
            layout = tuple((vma.start, vma.end, vma.flags) for vma in mm.vmas)
            known = self._vmas.get(id(mm))
            if known is None or known[1] != layout:
                self._vmas[id(mm)] = (mm, layout)
                self._pending_mms_i5[id(mm)] = mm
        for key in [key for key in self._vmas if key not in alive]:
            del self._vmas[key]
            self._pending_mms_i5.pop(key, None)

    # -- the checks, on what is pending --------------------------------------------------------

    def after_step(self, op: int | None) -> None:
        self.absorb()
        super().after_step(op)

    def _order(self, keys: Iterable[PteKey]) -> list[tuple[Mm, int, PageTable]]:
        """Pending ptes that still exist, as (mm, addr, table), in process and address order."""
        rank = {id(mm): index for index, mm in enumerate(self.kernel.mms)}
        found = []
        for table_key, addr in keys:
            known = self._tables.get(table_key)
            if known is not None:
                found.append((rank.get(id(known.mm), len(rank)), addr, known))
        found.sort(key=lambda item: (item[0], item[1]))
        return [(known.mm, addr, known.table) for _, addr, known in found]

    def check_migration_entries(self, op: int | None) -> None:
        """I1 on the ptes written (or whose page changed) since they were last checkable."""
        enc = self.kernel.enc
        for mm, addr, table in self._order(list(self._pending_i1)):
            if table.ptl.locked:
                continue  # checked once its pte lock is dropped
            self._pending_i1.discard((id(table), addr))
            pte = table.ptes.get(addr)
            if isinstance(pte, SwapPte) and enc.is_migration_entry(pte.val):
                page = self.kernel.pages.get(enc.swp_offset(pte.val))
                if page is None or not page.locked:
                    self.fail(
                        "I1",
                        f"{mm.name} {addr:#x}: migration entry to pfn "
                        f"{enc.swp_offset(pte.val)} whose page is not locked",
                        op,
                    )
        self._pending_i1 = {key for key in self._pending_i1 if key[0] in self._tables}

    def on_page_unlock(self, page: Page, op: int | None) -> None:
        """I2 on the migration entries to this page only."""
        self.absorb()
        for mm, addr, _table in self._order(self._migration.get(page.pfn, ())):
            self.fail(
                "I2",
                f"{mm.name} {addr:#x}: migration entry to pfn {page.pfn} left behind "
                "when the page was unlocked",
                op,
            )

    def check_mapcounts(self, op: int | None) -> None:
        """I3 on the pfns whose ptes or page changed."""
        for pfn in sorted(self._pending_pfns_i3):
            page = self.kernel.pages.get(pfn)
            mapcount = page.mapcount if page is not None else 0
            if mapcount != self._present[pfn]:
                self.fail(
                    "I3",
                    f"pfn {pfn}: mapcount {mapcount} but {self._present[pfn]} present ptes "
                    "map it",
                    op,
                )
        self._pending_pfns_i3.clear()

    def check_cow(self, op: int | None) -> None:
        """I4 on the pfns whose ptes or page changed."""
        for pfn in sorted(self._pending_pfns_i4):
            writers = self._order(self._writers.get(pfn, ()))
            if not writers:
                continue
            page = self.kernel.pages.get(pfn)
            mapcount = page.mapcount if page is not None else 0
            if len(writers) > 1 or mapcount > 1:
                where = ", ".join(f"{mm.name} {addr:#x}" for mm, addr, _ in writers)
                self.fail("I4", f"pfn {pfn} (mapcount {mapcount}) mapped writable by {where}", op)
        self._pending_pfns_i4.clear()

    def check_vma_write(self, op: int | None) -> None:
        """I5 on the ptes written, and on every pte of an mm whose vmas changed."""
        for key, mm in list(self._pending_mms_i5.items()):
            if mm.mmap_sem.write_locked:
                continue
            del self._pending_mms_i5[key]
            for vma in mm.vmas:
                if vma.flags & VM_WRITE:
                    continue
                for addr in vma.pages():
                    pte = mm.pte(addr)
                    if isinstance(pte, PresentPte) and pte.write:
                        self.fail("I5", f"{mm.name} {addr:#x}: writable pte in a read-only vma", op)
        for mm, addr, table in self._order(list(self._pending_i5)):
            if mm.mmap_sem.write_locked:
                continue
            self._pending_i5.discard((id(table), addr))
            pte = table.ptes.get(addr)
            if not (isinstance(pte, PresentPte) and pte.write):
                continue
            inside = next((v for v in mm.vmas if v.start <= addr < v.end), None)
            if inside is not None and not inside.flags & VM_WRITE:
                self.fail("I5", f"{mm.name} {addr:#x}: writable pte in a read-only vma", op)
        self._pending_i5 = {key for key in self._pending_i5 if key[0] in self._tables}


__all__ = ["IncrementalChecker", "TrackedPtes"]
