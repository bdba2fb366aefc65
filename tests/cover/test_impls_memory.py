"""mm/memory.c and mm/mprotect.c functions on small hand-built states."""

from __future__ import annotations

import pytest
from ptediff.core.program import Prot
from ptediff.impls import Kernel, KernelBug
from ptediff.impls.core import PteHandle
from ptediff.impls.pte import PresentPte, SwapPte
from ptediff.impls.registry import REGISTRY
from ptediff.impls.sched import Acquire, KGen, Preempt, Scheduler, Step, Task
from ptediff.impls.structs import Mm, Page, Vma, protection_map
from ptediff.impls.testing import booted, drive, mapped

A = 0x1000


def present(kernel: Kernel, vma: Vma, *, write: bool, data: int = 5) -> Page:
    """Map a fresh anon page at A as do_anonymous_page would."""
    drive(kernel, kernel.anon_vma_prepare(vma))
    page = kernel.alloc_page(0, data)
    kernel.page_add_new_anon_rmap(page, vma, A)
    kernel.pte_alloc(vma.mm, A).ptes[A] = PresentPte(page.pfn, write=write, dirty=True, young=True)
    return page


def lock(kernel: Kernel, page: Page) -> None:
    drive(kernel, kernel.lock_page(page, "test"))  # held by a finished task: stays locked


def fork_copy(kernel: Kernel, src: Mm, vma: Vma) -> tuple[Mm, PteHandle]:
    """copy_one_pte() of the pte at A into a new mm, as copy_pte_range calls it."""
    dst = kernel.new_mm("p1")
    dst_ptep = PteHandle(kernel.pte_alloc(dst, A), A, "test")
    src_ptep = PteHandle(kernel.pte_alloc(src, A), A, "test")
    kernel.copy_one_pte(dst, src, dst_ptep, src_ptep, vma, A)
    return dst, dst_ptep


def test_copy_one_pte_present_write_protects_the_parent() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, A)
    page = present(kernel, vma, write=True)
    dst, child = fork_copy(kernel, mm, vma)
    parent = mm.pte(A)
    assert parent == PresentPte(page.pfn, write=False, dirty=True, young=True)
    assert child.get() == PresentPte(page.pfn, write=False, dirty=True, young=False)
    assert (page.mapcount, page.refcount) == (2, 2)
    assert dst.anon_rss == 1


@pytest.mark.parametrize(
    ("impl", "entry_type", "expected_type"),
    [
        ("postfix", 30, 30),  # READ entries are copied untouched
        ("postfix", 31, 30),  # WRITE entries become READ in parent and child
        ("prefix-cow-fork-write", 30, 31),  # make_migration_entry(page, SWP_MIGRATION_READ)
        ("prefix-cow-fork-write", 31, 31),
    ],
)
def test_copy_one_pte_migration_entries(impl: str, entry_type: int, expected_type: int) -> None:
    kernel, mm = booted(REGISTRY[impl])
    vma = mapped(kernel, mm, A)
    page = kernel.alloc_page()
    lock(kernel, page)
    kernel.pte_alloc(mm, A).ptes[A] = SwapPte(kernel.enc.swp_entry(entry_type, page.pfn))
    _, child = fork_copy(kernel, mm, vma)
    expected = SwapPte(kernel.enc.swp_entry(expected_type, page.pfn))
    assert mm.pte(A) == expected
    assert child.get() == expected
    assert (page.mapcount, page.refcount) == (0, 1)  # entries are not counted


def test_prefix_copy_of_an_orphan_entry_bugs_postfix_copies_it() -> None:
    for impl, bugs in (("postfix", False), ("prefix-cow-fork-write", True)):
        kernel, mm = booted(REGISTRY[impl])
        vma = mapped(kernel, mm, A)
        orphan = SwapPte(kernel.enc.swp_entry(30, kernel.alloc_page().pfn))  # page unlocked
        kernel.pte_alloc(mm, A).ptes[A] = orphan
        if bugs:
            with pytest.raises(KernelBug) as bug:
                fork_copy(kernel, mm, vma)
            assert bug.value.function == "migration_entry_to_page"
        else:
            assert fork_copy(kernel, mm, vma)[1].get() == orphan


def test_copy_one_pte_swap_entry_takes_a_swap_reference() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, A)
    assert drive(kernel, kernel.sys_swapon(2, None)) == 0
    entry = kernel.get_swap_page()
    kernel.pte_alloc(mm, A).ptes[A] = SwapPte(entry)
    _, child = fork_copy(kernel, mm, vma)
    assert child.get() == SwapPte(entry)
    info = kernel.swap_info_at(0)
    assert info is not None and info.swap_map[kernel.enc.swp_offset(entry)] == 2


def test_change_pte_range_downgrades_ptes_and_write_entries() -> None:
    kernel, mm = booted()
    mapped(kernel, mm, A, 4)
    table = kernel.pte_alloc(mm, A)
    enc = kernel.enc
    table.ptes[A] = PresentPte(9, write=True, dirty=True, young=True)
    table.ptes[A + 0x1000] = SwapPte(enc.swp_entry(31, 9))
    table.ptes[A + 0x2000] = SwapPte(enc.swp_entry(30, 8))
    table.ptes[A + 0x3000] = SwapPte(enc.swp_entry(0, 3))
    # even a protection that stays writable downgrades: private vm_page_prot never writes
    drive(kernel, kernel.change_pte_range(mm, A, A + 0x4000, protection_map(0x3)))
    assert table.ptes[A] == PresentPte(9, write=False, dirty=True, young=True)
    assert table.ptes[A + 0x1000] == SwapPte(enc.swp_entry(30, 9))
    assert table.ptes[A + 0x2000] == SwapPte(enc.swp_entry(30, 8))
    assert table.ptes[A + 0x3000] == SwapPte(enc.swp_entry(0, 3))
    drive(kernel, kernel.change_pte_range(mm, A, A + 0x1000, protection_map(0)))
    assert table.ptes[A] == PresentPte(9, write=False, dirty=True, young=True, protnone=True)


def test_mprotect_with_unchanged_flags_keeps_write_bits() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, A)
    present(kernel, vma, write=True)
    assert drive(kernel, kernel.sys_mprotect(mm, A, 1, Prot.RW)) == 0
    assert mm.pte(A).write  # type: ignore[union-attr]
    assert drive(kernel, kernel.sys_mprotect(mm, A, 1, Prot.R)) == 0
    assert not mm.pte(A).write  # type: ignore[union-attr]


def test_can_share_swap_page() -> None:
    kernel, _ = booted()
    drive(kernel, kernel.sys_swapon(4, None))
    page = kernel.alloc_page()
    with pytest.raises(KernelBug):
        kernel.can_share_swap_page(page)
    lock(kernel, page)
    page.mapcount = 1
    assert kernel.can_share_swap_page(page)
    page.mapcount = 2
    assert not kernel.can_share_swap_page(page)
    page.mapcount = 0
    assert kernel.add_to_swap(page)
    entry = page.private
    assert kernel.swap_duplicate(entry)  # one swap pte besides the cache
    assert kernel.can_share_swap_page(page)
    assert kernel.swap_duplicate(entry)  # two swap ptes: shared
    assert not kernel.can_share_swap_page(page)


def write_fault(kernel: Kernel, mm: Mm, vma: Vma) -> None:
    drive(kernel, kernel.handle_mm_fault(mm, vma, A, True))


def test_do_wp_page_reuses_an_exclusive_page() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, A)
    page = present(kernel, vma, write=False)
    write_fault(kernel, mm, vma)
    assert mm.pte(A) == PresentPte(page.pfn, write=True, dirty=True, young=True)


def test_do_wp_page_copies_when_the_page_lock_is_contended() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, A)
    page = present(kernel, vma, write=False, data=5)
    lock(kernel, page)  # e.g. a migration holds it
    write_fault(kernel, mm, vma)
    pte = mm.pte(A)
    assert isinstance(pte, PresentPte) and pte.write and pte.pfn != page.pfn
    new = kernel.pfn_to_page(pte.pfn)
    assert (new.data, new.mapcount) == (5, 1)
    assert (page.mapcount, page.refcount) == (0, 0) and page.freed


def test_do_wp_page_copies_the_zero_page_into_a_zeroed_page() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, A)
    drive(kernel, kernel.handle_mm_fault(mm, vma, A, False))
    assert mm.pte(A) == PresentPte(0, write=False)
    assert kernel.zero_page.mapcount == 1
    write_fault(kernel, mm, vma)
    pte = mm.pte(A)
    assert isinstance(pte, PresentPte) and pte.write and pte.pfn != 0
    assert kernel.zero_page.mapcount == 0
    assert (mm.anon_rss, mm.file_rss) == (1, 0)


def test_fault_on_an_orphan_migration_entry_bugs() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, A)
    page = kernel.alloc_page()
    kernel.pte_alloc(mm, A).ptes[A] = SwapPte(kernel.enc.swp_entry(31, page.pfn))
    with pytest.raises(KernelBug) as bug:  # page unlocked: the orphan BUG
        drive(kernel, kernel.handle_mm_fault(mm, vma, A, False))
    assert bug.value.function == "migration_entry_to_page"


def test_migration_entry_wait_sleeps_until_the_page_is_unlocked() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, A)
    page = kernel.alloc_page()
    kernel.pte_alloc(mm, A).ptes[A] = SwapPte(kernel.enc.swp_entry(30, page.pfn))
    seen: list[tuple[str, int]] = []

    def migrator() -> KGen[None]:  # entered holding the page lock
        yield Preempt("migrator")
        seen.append(("unlock", page.refcount))
        kernel.unlock_page(page)

    def fault() -> KGen[None]:
        yield from kernel.handle_mm_fault(mm, vma, A, False)
        seen.append(("woke", page.refcount))

    tasks = [
        Task(0, "migrator", migrator(), Acquire("lock_page", page.lock)),
        Task(1, "fault", fault(), Preempt("fault")),
    ]
    steps: list[Step] = []
    Scheduler(lambda task: setattr(kernel, "current", task), steps.append).run(tasks, (0, 1, 1, 1))
    # the sleeper holds a page reference while it waits: migration would see -EAGAIN
    assert seen == [("unlock", 2), ("woke", 1)]
    assert [s.function for s in steps if s.task.index == 1][-1] == "migration_entry_wait"
