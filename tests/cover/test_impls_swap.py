"""mm/swapfile.c, the swap cache and the pageout path."""

from __future__ import annotations

import pytest
from ptediff import impls
from ptediff.core.outcome import Outcome
from ptediff.core.program import (
    Config,
    Fault,
    Fork,
    Map,
    Migrate,
    Op,
    Pageout,
    Program,
    Prot,
    Swapon,
)
from ptediff.impls import Kernel
from ptediff.impls.registry import REGISTRY
from ptediff.impls.testing import booted, drive

A = 0x1000
EPERM, EINVAL = -1, -22


def swapon(kernel: Kernel, nslots: int, prio: int | None = None) -> int:
    return drive(kernel, kernel.sys_swapon(nslots, prio))


@pytest.mark.parametrize(
    ("impl", "bits", "successes"),
    [
        ("postfix", 5, 30),
        ("postfix", 2, 2),
        ("postfix", 3, 6),
        ("prefix-swapon-range", 5, 32),
        ("prefix-swapon-range", 2, 4),
    ],
)
def test_sys_swapon_type_limit(impl: str, bits: int, successes: int) -> None:
    kernel, _ = booted(REGISTRY[impl], Config(swap_bits=bits))
    results = [swapon(kernel, 1) for _ in range(successes + 1)]
    assert results == [0] * successes + [EPERM]
    assert kernel.swap.nr_swapfiles == successes
    overflowed = successes - kernel.enc.max_swapfiles
    assert len(kernel.swap.overflow) == overflowed
    assert [b.function for b in kernel.bugs] == ["sys_swapon"] * overflowed


def test_eperm_is_checked_before_the_slot_count() -> None:
    kernel, _ = booted(config=Config(swap_bits=2))
    assert [swapon(kernel, 1), swapon(kernel, 1), swapon(kernel, 0)] == [0, 0, EPERM]


def test_a_failed_swapon_uses_no_type_and_no_priority() -> None:
    kernel, _ = booted()
    assert [swapon(kernel, 0), swapon(kernel, 2), swapon(kernel, -1), swapon(kernel, 2)] == [
        EINVAL,
        0,
        EINVAL,
        0,
    ]
    first, second = kernel.swap_info_at(0), kernel.swap_info_at(1)
    assert first is not None and second is not None
    assert (first.prio, second.prio) == (-1, -2)
    assert kernel.swap.nr_swapfiles == 2


def slot_types(kernel: Kernel, n: int) -> list[int]:
    return [kernel.enc.swp_type(kernel.get_swap_page()) for _ in range(n)]


def test_get_swap_page_prefers_higher_priority() -> None:
    kernel, _ = booted()
    swapon(kernel, 2)  # prio -1
    swapon(kernel, 2)  # prio -2
    assert slot_types(kernel, 4) == [0, 0, 1, 1]
    assert kernel.get_swap_page() == 0  # swap full


def test_get_swap_page_round_robins_equal_priorities_newest_first() -> None:
    kernel, _ = booted()
    swapon(kernel, 3, prio=5)
    swapon(kernel, 3, prio=5)
    assert slot_types(kernel, 4) == [1, 0, 1, 0]


def test_slot_offsets_start_after_the_header() -> None:
    kernel, _ = booted()
    swapon(kernel, 3)
    offsets = [kernel.enc.swp_offset(kernel.get_swap_page()) for _ in range(3)]
    assert offsets == [1, 2, 3]
    info = kernel.swap_info_at(0)
    assert info is not None and info.swap_map[0] == 0x8000  # SWAP_MAP_BAD header


def test_swap_duplicate_and_free_ignore_migration_entries() -> None:
    kernel, _ = booted()
    swapon(kernel, 1)
    migration = kernel.enc.swp_entry(kernel.enc.migration_write, 1)
    assert kernel.swap_duplicate(migration) == 1
    drive(kernel, kernel.free_swap_and_cache(migration))
    info = kernel.swap_info_at(0)
    assert info is not None and info.swap_map == [0x8000, 0]
    entry = kernel.get_swap_page()
    assert kernel.swap_duplicate(entry) == 1
    assert info.swap_map[1] == 2
    kernel.swap_free(entry)
    drive(kernel, kernel.free_swap_and_cache(entry))
    assert info.swap_map[1] == 0 and kernel.swap.nr_swap_pages == 1


def run(*steps: Op, impl: str = "postfix") -> Outcome:
    return impls.run(impl, Program(tuple(steps)))


def test_pageout_writes_the_page_to_swap_and_frees_it() -> None:
    out = run(Map("p0", A, 1, Prot.RW), Fault("p0", A, True, 7), Swapon(4), Pageout("p0", A))
    pte = out.state[("p0", A)]
    assert (pte.kind, pte.data, pte.swap) == ("swap", 7, 0)
    assert out.results == {0: 0, 1: 0, 2: 0, 3: 0}
    assert out.bugs == [] and out.violations == []


def test_pageout_unmaps_every_sharer_and_swapin_shares_the_page_again() -> None:
    out = run(
        Map("p0", A, 1, Prot.RW),
        Fault("p0", A, True, 7),
        Fork("p0", "p1"),
        Swapon(4),
        Pageout("p1", A),
        Fault("p0", A, False),
        Fault("p1", A, False),
    )
    assert out.results[5] == out.results[6] == 7
    p0, p1 = out.state[("p0", A)], out.state[("p1", A)]
    assert p0.kind == p1.kind == "present" and p0.frame == p1.frame and not p0.writable
    assert out.violations == []


def test_pageout_without_swap_or_of_the_zero_page_changes_nothing() -> None:
    out = run(Map("p0", A, 2, Prot.RW), Fault("p0", A, True, 7), Pageout("p0", A))
    assert out.state[("p0", A)].kind == "present"
    out = run(Map("p0", A, 1, Prot.RW), Fault("p0", A, False), Swapon(2), Pageout("p0", A))
    assert out.state[("p0", A)].frame == 0  # still the zero page
    out = run(Map("p0", A, 1, Prot.RW), Pageout("p0", 0x8000), Pageout("p0", A + 1))
    assert out.results == {0: 0, 1: -12, 2: EINVAL}


def test_exclusive_write_swapin_is_writable_at_once() -> None:
    out = run(
        Map("p0", A, 1, Prot.RW),
        Fault("p0", A, True, 7),
        Swapon(4),
        Pageout("p0", A),
        Fault("p0", A, True, 8),
    )
    pte = out.state[("p0", A)]
    assert (pte.kind, pte.writable, pte.data) == ("present", True, 8)


def test_migrating_a_swap_cache_page_leaves_swap_ptes_to_the_moved_page() -> None:
    """try_to_unmap gives a swap-cache page plain swap entries; the new page takes over the
    swap cache, so the next fault maps it - on the new node."""
    steps = (
        Map("p0", A, 1, Prot.RW),
        Fault("p0", A, True, 7),
        Swapon(4),
        Pageout("p0", A),
        Fault("p0", A, False),  # swap-in keeps the swap cache (swap not over half full)
        Migrate("p0", A, 1),
    )
    out = run(*steps)
    assert out.results[5] == 1
    pte = out.state[("p0", A)]
    assert (pte.kind, pte.data) == ("swap", 7)
    out = run(*steps, Fault("p0", A, False))
    pte = out.state[("p0", A)]
    assert (pte.kind, pte.node, pte.data, out.results[6]) == ("present", 1, 7, 7)
    assert out.violations == [] and out.bugs == []
