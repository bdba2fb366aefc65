"""Kernel-notes §5 invariants I1-I8, checked on the model's state while it runs.

A structure that a thread is in the middle of updating under a lock it holds is not checked:
pte/mapcount invariants wait until no pte lock is held, vma invariants skip an mm whose
mmap_sem is held for write, anon_vma order skips a list whose lock is held, rss (I8) skips an
mm with a pte lock held. I8 is checked in its 442c9137 form, which the kernel itself breaks:
fork copies a migration entry without counting it, and zap drops one without uncounting it
(a latent drift, docs/semantics.md).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from ptediff.core.outcome import Violation
from ptediff.impls.core import KernelCore
from ptediff.impls.pte import PresentPte, Pte, SwapPte
from ptediff.impls.structs import VM_WRITE, AnonVma, Mm, Page

# `check_invariants=WITH_RSS` (what `ptediff hunt --invariants` passes) also checks I8; plain
# True checks I1-I7. I8 is opt-in because the 2006 code itself breaks it (a latent rss drift
# whenever fork copies a migration entry), which would otherwise show in every fix-1/fix-3
# race on postfix.
WITH_RSS = "I1-I8"


class InvariantChecker:
    """Collects deduplicated `Violation`s for one run."""

    def __init__(self, kernel: KernelCore, rss: bool = False) -> None:
        self.kernel = kernel
        self.rss = rss
        self.violations: list[Violation] = []
        self._seen: set[tuple[str, str]] = set()

    def fail(self, name: str, detail: str, op: int | None) -> None:
        if (name, detail) not in self._seen:
            self._seen.add((name, detail))
            self.violations.append(Violation(name, detail, op))

    def all_ptes(self, *, unlocked_only: bool) -> Iterator[tuple[Mm, int, Pte]]:
        for mm in self.kernel.mms:
            for table in mm.page_tables.values():
                if unlocked_only and table.ptl.locked:
                    continue
                for addr, pte in table.ptes.items():
                    yield mm, addr, pte

    # -- checks ------------------------------------------------------------------------------

    def after_step(self, op: int | None) -> None:
        self.check_migration_entries(op)
        if not any(table.ptl.locked for mm in self.kernel.mms for table in mm.page_tables.values()):
            self.check_mapcounts(op)
            self.check_cow(op)
        self.check_vma_write(op)
        self.check_anon_vma_order(op)
        self.check_swap_types(op)
        if self.rss:
            self.check_rss(op)

    def check_migration_entries(self, op: int | None) -> None:
        """I1: every migration entry's target page is locked."""
        enc = self.kernel.enc
        for mm, addr, pte in self.all_ptes(unlocked_only=True):
            if isinstance(pte, SwapPte) and enc.is_migration_entry(pte.val):
                page = self.kernel.pages.get(enc.swp_offset(pte.val))
                if page is None or not page.locked:
                    self.fail(
                        "I1",
                        f"{mm.name} {addr:#x}: migration entry to pfn "
                        f"{enc.swp_offset(pte.val)} whose page is not locked",
                        op,
                    )

    def on_page_unlock(self, page: Page, op: int | None) -> None:
        """I2: no migration entry survives its page's unlock."""
        enc = self.kernel.enc
        for mm, addr, pte in self.all_ptes(unlocked_only=False):
            if (
                isinstance(pte, SwapPte)
                and enc.is_migration_entry(pte.val)
                and enc.swp_offset(pte.val) == page.pfn
            ):
                self.fail(
                    "I2",
                    f"{mm.name} {addr:#x}: migration entry to pfn {page.pfn} left behind "
                    "when the page was unlocked",
                    op,
                )

    def present_ptes(self) -> Iterator[tuple[Mm, int, PresentPte]]:
        for mm, addr, pte in self.all_ptes(unlocked_only=False):
            if isinstance(pte, PresentPte):
                yield mm, addr, pte

    def check_mapcounts(self, op: int | None) -> None:
        """I3: per page, mapcount == number of present ptes mapping it."""
        counts = Counter(pte.pfn for _, _, pte in self.present_ptes())
        for pfn in sorted(set(counts) | {p.pfn for p in self.kernel.pages.values() if p.mapcount}):
            page = self.kernel.pages.get(pfn)
            mapcount = page.mapcount if page is not None else 0
            if mapcount != counts[pfn]:
                self.fail(
                    "I3",
                    f"pfn {pfn}: mapcount {mapcount} but {counts[pfn]} present ptes map it",
                    op,
                )

    def check_cow(self, op: int | None) -> None:
        """I4: no two writable ptes share a page; no writable pte to a page mapped twice."""
        writers: dict[int, list[str]] = defaultdict(list)
        for mm, addr, pte in self.present_ptes():
            if pte.write:
                writers[pte.pfn].append(f"{mm.name} {addr:#x}")
        for pfn, where in sorted(writers.items()):
            page = self.kernel.pages.get(pfn)
            mapcount = page.mapcount if page is not None else 0
            if len(where) > 1 or mapcount > 1:
                self.fail(
                    "I4",
                    f"pfn {pfn} (mapcount {mapcount}) mapped writable by {', '.join(where)}",
                    op,
                )

    def check_vma_write(self, op: int | None) -> None:
        """I5: no writable pte in a vma without VM_WRITE."""
        for mm in self.kernel.mms:
            if mm.mmap_sem.write_locked:
                continue
            for vma in mm.vmas:
                if vma.flags & VM_WRITE:
                    continue
                for addr in vma.pages():
                    pte = mm.pte(addr)
                    if isinstance(pte, PresentPte) and pte.write:
                        self.fail("I5", f"{mm.name} {addr:#x}: writable pte in a read-only vma", op)

    def check_anon_vma_order(self, op: int | None) -> None:
        """I6: every child vma sits after its fork-parent vma on the anon_vma list."""
        seen: set[int] = set()
        anon_vmas: list[AnonVma] = []
        for mm in self.kernel.mms:
            for vma in mm.vmas:
                av = vma.anon_vma
                if av is not None and id(av) not in seen:
                    seen.add(id(av))
                    anon_vmas.append(av)
        for av in anon_vmas:
            if av.lock.locked:
                continue
            position = {id(v): i for i, v in enumerate(av.vmas)}
            for i, vma in enumerate(av.vmas):
                parent = vma.forked_from
                if parent is not None and position.get(id(parent), -1) > i:
                    self.fail(
                        "I6",
                        f"anon_vma#{av.ident}: {vma.mm.name}'s vma {vma.start:#x} sits before "
                        f"its fork parent in {parent.mm.name}",
                        op,
                    )

    def check_swap_types(self, op: int | None) -> None:
        """I7: real swap types < MAX_SWAPFILES and nr_swapfiles <= MAX_SWAPFILES."""
        limit = self.kernel.enc.max_swapfiles
        if self.kernel.swap.nr_swapfiles > limit:
            self.fail(
                "I7",
                f"nr_swapfiles {self.kernel.swap.nr_swapfiles} > MAX_SWAPFILES {limit}",
                op,
            )
        for type_ in sorted(self.kernel.swap.overflow):
            self.fail("I7", f"swap area of type {type_} >= MAX_SWAPFILES {limit}", op)

    def check_rss(self, op: int | None) -> None:
        """I8 after 442c9137: anon_rss counts the mm's present anon ptes plus its migration
        entries (unmapping for migration no longer uncounts), file_rss its other present ptes
        (the ZERO_PAGE here)."""
        enc = self.kernel.enc
        for mm in self.kernel.mms:
            if any(table.ptl.locked for table in mm.page_tables.values()):
                continue
            anon = file = 0
            for table in mm.page_tables.values():
                for pte in table.ptes.values():
                    if isinstance(pte, PresentPte):
                        page = self.kernel.pages.get(pte.pfn)
                        if page is not None and page.anon:
                            anon += 1
                        else:
                            file += 1
                    elif isinstance(pte, SwapPte) and enc.is_migration_entry(pte.val):
                        anon += 1
            if (mm.anon_rss, mm.file_rss) != (anon, file):
                self.fail(
                    "I8",
                    f"{mm.name}: anon_rss {mm.anon_rss} file_rss {mm.file_rss}, but its ptes "
                    f"count {anon} anon (migration entries included) and {file} file",
                    op,
                )
