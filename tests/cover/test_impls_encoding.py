"""Swap-entry encoding and the migration-entry helpers of swapops.h."""

from __future__ import annotations

import pytest
from ptediff.core.program import Config
from ptediff.impls import Kernel, KernelBug
from ptediff.impls.pte import SwapEncoding
from ptediff.impls.structs import Page
from ptediff.impls.testing import booted, drive


@pytest.mark.parametrize(("bits", "max_swapfiles"), [(5, 30), (2, 2), (3, 6)])
def test_max_swapfiles_reserves_two_types_for_migration(bits: int, max_swapfiles: int) -> None:
    enc = SwapEncoding(bits)
    assert enc.max_swapfiles == max_swapfiles
    assert enc.migration_read == max_swapfiles
    assert enc.migration_write == max_swapfiles + 1
    assert enc.roundtrip_type_limit() == 2**bits - 1


def test_type_in_the_top_bits_offset_below() -> None:
    enc = SwapEncoding(5)
    entry = enc.swp_entry(3, 0x1234)
    assert entry == (3 << 59) | 0x1234
    assert (enc.swp_type(entry), enc.swp_offset(entry)) == (3, 0x1234)
    # an offset that does not fit is truncated silently
    assert enc.swp_offset(enc.swp_entry(0, 1 << 59 | 5)) == 5


def test_migration_entry_predicates_and_downgrade() -> None:
    enc = SwapEncoding(5)
    read, write, swap = enc.swp_entry(30, 7), enc.swp_entry(31, 7), enc.swp_entry(29, 7)
    assert enc.is_migration_entry(read) and enc.is_migration_entry(write)
    assert not enc.is_migration_entry(swap)
    assert enc.is_write_migration_entry(write) and not enc.is_write_migration_entry(read)
    assert enc.make_migration_entry_read(write) == read
    assert enc.make_migration_entry_read(read) == read


def locked_page(kernel: Kernel) -> Page:
    page = kernel.alloc_page()
    drive(kernel, kernel.lock_page(page, "test"))  # the page stays locked after the task ends
    assert page.locked
    return page


@pytest.mark.parametrize(
    ("write", "expected_type"), [(0, 30), (False, 30), (1, 31), (True, 31), (30, 31), (-1, 31)]
)
def test_make_migration_entry_takes_a_truth_value(write: int, expected_type: int) -> None:
    kernel, _ = booted()
    page = locked_page(kernel)
    entry = kernel.make_migration_entry(page, write)
    assert kernel.enc.swp_type(entry) == expected_type
    assert kernel.enc.swp_offset(entry) == page.pfn


def test_make_migration_entry_bugs_on_an_unlocked_page() -> None:
    kernel, _ = booted()
    page = kernel.alloc_page()
    with pytest.raises(KernelBug) as bug:
        kernel.make_migration_entry(page, True)
    assert bug.value.function == "make_migration_entry"


def test_migration_entry_to_page_needs_the_page_locked() -> None:
    kernel, _ = booted()
    page = kernel.alloc_page()
    entry = kernel.enc.swp_entry(30, page.pfn)
    with pytest.raises(KernelBug) as bug:
        kernel.migration_entry_to_page(entry)
    assert bug.value.function == "migration_entry_to_page"
    drive(kernel, kernel.lock_page(page, "test"))
    assert kernel.migration_entry_to_page(entry) is page


def test_pfn_to_page_of_a_never_allocated_frame_is_free_and_unlocked() -> None:
    kernel, _ = booted(config=Config())
    page = kernel.pfn_to_page(1000)
    assert page.freed and not page.locked
    with pytest.raises(KernelBug):
        kernel.migration_entry_to_page(kernel.enc.swp_entry(30, 1000))
