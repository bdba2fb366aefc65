"""swapoff TYPE: DSL, spec rule, reusable swap types, kernel model, races, generator."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from ptediff import impls, spec
from ptediff.core.errors import DslError
from ptediff.core.outcome import ERRNO
from ptediff.core.program import Swapoff, Swapon
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.impls.base import Kernel
from ptediff.impls.structs import SWP_ACTIVE
from ptediff.impls.testing import booted, drive, mapped
from ptediff.judge.check import check
from ptediff.search.explore import explore
from ptediff.search.strategies import programs
from ptediff.spec.swap import Device, SwapTable

EINVAL = -ERRNO["EINVAL"]
ENOMEM = -ERRNO["ENOMEM"]
EAGAIN = -ERRNO["EAGAIN"]

SWAPPED = (
    "map p0 0x1000 2 rw\nfault p0 0x1000 write 0x1\nfault p0 0x2000 write 0x2\n"
    "swapon 1\nswapon 1\npageout p0 0x1000\npageout p0 0x2000\n"
)


def both(text: str) -> tuple[dict, dict]:
    """(spec results, postfix final state) of a sequential program the two agree on."""
    program = parse(text)
    (allowed,) = spec.run(program)
    model = impls.run("postfix", program)
    assert check(program, "postfix").agrees
    assert model.results == allowed.results
    return allowed.results, model.state


def test_parses_and_prints_back() -> None:
    text = "swapon   2\nswapoff  0 => 0\nswapoff  3 => -EINVAL\n"
    program = parse(text)
    assert program.ops()[1] == Swapoff(0, expect=0)
    assert program.ops()[2] == Swapoff(3, expect=EINVAL)
    assert format_program(program) == text


def test_a_type_out_of_range_is_an_error_at_its_column() -> None:
    with pytest.raises(DslError) as caught:
        parse("swapon 1\nswapoff 256\n")
    assert (caught.value.line, caught.value.column) == (2, 9)
    assert "swap type" in str(caught.value)
    with pytest.raises(DslError) as caught:
        parse("swapoff p0\n")
    assert (caught.value.line, caught.value.column) == (1, 9)


def test_swapoff_maps_every_swapped_page_back_read_only() -> None:
    results, state = both(SWAPPED + "fork p0 p1\nswapoff 0\nswapoff 1\n")
    assert results[8] == 0 and results[9] == 0
    for proc in ("p0", "p1"):
        for addr, data in ((0x1000, 0x1), (0x2000, 0x2)):
            pte = state[(proc, addr)]
            assert (pte.kind, pte.writable, pte.data, pte.node) == ("present", False, data, 0)
    # one page per slot, shared by both processes
    assert state[("p0", 0x1000)].frame == state[("p1", 0x1000)].frame
    assert state[("p0", 0x1000)].frame != state[("p0", 0x2000)].frame


def test_swapoff_of_a_type_no_area_holds_is_einval() -> None:
    results, _ = both("swapoff 0\nswapon 1\nswapoff 1\nswapoff 0\nswapoff 0\nswapon 0\nswapoff 0\n")
    assert [results[i] for i in range(7)] == [EINVAL, 0, EINVAL, 0, EINVAL, EINVAL, EINVAL]


def test_a_freed_type_is_reused_by_the_next_swapon() -> None:
    # types 0 and 1; swapoff 0; the next swapon is type 0 again, the one after type 2
    results, state = both(
        SWAPPED + "swapoff 0\nswapon 1\nswapon 1\nfault p0 0x1000 write 0x3\n"
        "pageout p0 0x1000\nmap p0 0x3000 1 rw\nfault p0 0x3000 write 0x4\npageout p0 0x3000\n"
    )
    assert state[("p0", 0x2000)].swap == 1
    # the page written after swapoff 0 goes to the reused type 0 (its priority, -3, is
    # below type 1's -2, but type 1 is full); the next one to type 2
    assert state[("p0", 0x1000)].swap == 0
    assert state[("p0", 0x3000)].swap == 2
    assert results[13] == 0


def test_spec_swap_table_frees_and_reuses_numbers() -> None:
    table = SwapTable().added(1, None).added(2, None).added(3, 5)
    assert table.order == (2, 0, 1) and table.next_in_turn == 2
    table = table.removed(0)
    assert table.devices == (None, Device(2, -2), Device(3, 5))
    assert table.order == (2, 1) and table.next_in_turn == 2 and table.active() == 2
    table = table.added(4, None)  # the lowest free number, the next priority (-3)
    assert table.devices[0] == Device(4, -3) and table.order == (2, 1, 0)
    table = table.removed(2)  # it was next in turn: the head of the order is now
    assert table.order == (1, 0) and table.next_in_turn == 1 and len(table.devices) == 2
    assert table.removed(1).removed(0) == SwapTable((), (), -1, -3)


def test_model_reuses_the_lowest_free_swap_info_entry() -> None:
    kernel, _ = booted()
    for _ in range(3):
        assert drive(kernel, kernel.sys_swapon(1, None)) == 0
    assert drive(kernel, kernel.sys_swapoff(1)) == 0
    assert kernel.swap_info_at(1).flags == 0
    assert drive(kernel, kernel.sys_swapon(2, None)) == 0
    reused = kernel.swap_info_at(1)
    assert reused.flags == SWP_ACTIVE and reused.pages == 2
    assert kernel.swap.nr_swapfiles == 3
    # the swap list is by priority: 0 (-1), 2 (-3), 1 (-4)
    order, i = [], kernel.swap.head
    while i >= 0:
        order.append(i)
        i = kernel.swap_info_at(i).next
    assert order == [0, 2, 1]
    assert kernel.swap.total_swap_pages == 4


def test_swapoff_leaves_migration_entries_alone() -> None:
    # Another page of p0 is swapped out; a migration of the written page races the swapoff:
    # its migration entries are swap ptes of type 30/31, which unuse_pte_range never matches.
    program = parse(
        "map p0 0x1000 2 rw\nfault p0 0x1000 write 0x1\nfault p0 0x2000 write 0x2\n"
        "swapon 2\npageout p0 0x2000\n"
        "parallel {\n  thread { migrate p0 0x1000 1 }\n  thread { swapoff 0 }\n}\n"
    )
    report = explore(program, "postfix", preemption_bound=2).impl("postfix")
    assert report.complete and report.agreeing == report.schedules > 20


def test_a_swap_cache_page_under_migration_waits_for_swapoff() -> None:
    # The page is in the swap cache of the area going off while it migrates: try_to_unuse's
    # reference makes migrate_page_move_mapping fail (-EAGAIN, migrate-busy), or the
    # migration moves it first and try_to_unuse finds the new page in the swap cache.
    program = parse(
        "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nswapon 2\npageout p0 0x1000\n"
        "fault p0 0x1000 read\nfork p0 p1\n"
        "parallel {\n  thread { migrate p0 0x1000 1 }\n  thread { swapoff 0 }\n}\n"
    )
    report = explore(program, "postfix", preemption_bound=2).impl("postfix")
    assert report.complete and report.agreeing == report.schedules
    results = {dict(outcome.results)[6] for outcome in report.outcomes}  # type: ignore[attr-defined]
    assert results == {1, EAGAIN}


def test_mmlist_ring_of_a_fork_that_copies_a_migration_entry() -> None:
    """copy_one_pte links the child to a parent that is on no mmlist: a ring of their own."""
    kernel, p0 = booted()
    mapped(kernel, p0, 0x1000)
    p1 = kernel.new_mm("p1")
    kernel.mmlist_add(p1, p0)
    assert p0.mmlist is p1.mmlist == [p0, p1]
    assert kernel.init_mmlist == [None]
    kernel.mmlist_add(p0, None)  # list_empty(&p0->mmlist) is false: no change
    assert kernel.init_mmlist == [None]
    kernel.mmlist_del(p0)
    assert p1.mmlist is None  # alone again: its list is empty, so a swap-out adds it
    kernel.mmlist_add(p1, None)
    assert kernel.init_mmlist == [None, p1]


def test_latent_detached_mmlist_livelock() -> None:
    program = parse(
        "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nfork p0 p1\nswapon 2\n"
        "parallel {\n  thread { migrate p1 0x1000 1 }\n  thread { fork p0 p2 }\n}"
        " schedule 0 0 0 0 0 0 0 0 1 1 1 1 1 1\npageout p0 0x1000\nswapoff 0\n"
    )
    judgement = check(program, "postfix")
    assert [str(s) for s in judgement.signatures][:2] == [
        "kernel-bug:try_to_unuse@7", "result:swapoff@7"]
    model = impls.run("postfix", program)
    assert model.results[7] == -4  # -EINTR: the livelock ended as a signal ends it
    assert model.bugs[0].kind == "livelock"
    assert model.state[("p0", 0x1000)].kind == "swap"
    assert model.state[("p1", 0x1000)].kind == "present"


class FailingRead(Kernel):
    """read_swap_cache_async cannot allocate a page (alloc_page_vma fails)."""

    def read_swap_cache_async(self, entry: int):  # type: ignore[no-untyped-def]
        return None


def test_failed_try_to_unuse_puts_the_area_back() -> None:
    kernel, mm = booted(FailingRead)
    mapped(kernel, mm, 0x1000)
    assert drive(kernel, kernel.sys_swapon(2, 3)) == 0
    assert drive(kernel, kernel.user_access(mm, 0x1000, True, 0x5)) == 0
    assert drive(kernel, kernel.sys_madvise_pageout(mm, 0x1000)) == 0
    assert drive(kernel, kernel.sys_swapoff(0)) == ENOMEM
    info = kernel.swap_info_at(0)
    assert info.flags == SWP_ACTIVE and kernel.swap.head == 0 and kernel.swap.next == 0
    assert (kernel.swap.nr_swap_pages, kernel.swap.total_swap_pages) == (1, 2)
    assert info.swap_map[1] == 1  # the swap pte still holds its slot


def test_the_generator_draws_swapoffs_of_types_a_swapon_made() -> None:
    drawn: list[tuple[int, Swapoff]] = []  # (swapons before it, the swapoff)

    @settings(max_examples=1500, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(programs())
    def collect(program) -> None:  # type: ignore[no-untyped-def]
        swapons = 0
        for op in program.ops():
            if isinstance(op, Swapon):
                swapons += 1
            elif isinstance(op, Swapoff):
                drawn.append((swapons, op))

    collect()
    # a variant of swapon draws (the top quarter of `what`) and pageout draws (the top half),
    # in swarm examples, once an area exists: rare by design, so that the seeded-bug searches
    # draw what they drew before
    assert len(drawn) >= 2
    assert all(swapons and op.swap_type <= swapons for swapons, op in drawn)
