"""Parallel blocks in the spec: exactly the linearizations, plus the named allowances."""

from __future__ import annotations

from ptediff import spec
from ptediff.core.outcome import ERRNO, Outcome
from ptediff.dsl.parse import parse
from ptediff.spec.allowances import ALLOWANCE_NAMES, ALLOWANCES
from ptediff.spec.branch import Concurrent
from ptediff.spec.linearize import World
from ptediff.spec.state import Present, SpecState, Swapped
from ptediff.spec.step import finish, step

A = 0x1000


def run(text: str) -> list[Outcome]:
    return spec.run(parse(text))


def test_two_threads_of_two_ops_give_the_six_linearizations() -> None:
    outcomes = run(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x10
        parallel {{
          thread {{
            fault p0 {A:#x} write 0x1
            fault p0 {A:#x} write 0x2
          }}
          thread {{
            fault p0 {A:#x} read
            fault p0 {A:#x} read
          }}
        }}
    """)
    # Op ids: thread 0 is 2, 3; thread 1 is 4, 5. Every interleaving gives its own pair of
    # reads, in write order: C(4, 2) = 6 outcomes, none needing an allowance.
    reads = sorted((o.results[4], o.results[5]) for o in outcomes)
    assert reads == sorted([(0x10, 0x10), (0x10, 1), (0x10, 2), (1, 1), (1, 2), (2, 2)])
    assert all(o.allowances == frozenset() for o in outcomes)
    assert {o.state[("p0", A)].data for o in outcomes} == {2}


def test_three_single_op_threads_give_six_orders() -> None:
    outcomes = run(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x10
        parallel {{
          thread {{ fault p0 {A:#x} write 0x1 }}
          thread {{ fault p0 {A:#x} write 0x2 }}
          thread {{ fault p0 {A:#x} read }}
        }}
    """)
    seen = sorted((o.results[4], o.state[("p0", A)].data) for o in outcomes)
    assert seen == sorted([(1, 1), (1, 2), (2, 1), (2, 2), (0x10, 1), (0x10, 2)])


def test_identical_interleavings_are_deduplicated() -> None:
    outcomes = run(f"""
        map p0 {A:#x} 1 rw
        map p0 0x5000 1 rw
        parallel {{
          thread {{ fault p0 {A:#x} write 0x1 }}
          thread {{ fault p0 0x5000 write 0x2 }}
        }}
    """)
    assert len(outcomes) == 1


def test_a_block_sees_the_state_before_it_and_the_next_step_sees_every_branch() -> None:
    outcomes = run(f"""
        map p0 {A:#x} 1 rw
        parallel {{
          thread {{ munmap p0 {A:#x} 1 }}
          thread {{ fault p0 {A:#x} write 0x1 }}
        }}
        fault p0 {A:#x} read
    """)
    assert sorted(str(o.results[2]) for o in outcomes) == ["0", "SIGSEGV"]
    assert {o.results[3] for o in outcomes} == {"SIGSEGV"}


def test_migrate_busy_only_when_another_thread_holds_the_page() -> None:
    """A fault holding a reference makes -EAGAIN possible, never -EBUSY (only an isolator
    does that, below)."""
    racing = run(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x1
        fork  p0 p1
        parallel {{
          thread {{ migrate p0 {A:#x} 1 }}
          thread {{ fault p1 {A:#x} write 0x2 }}
        }}
    """)
    busy = [o for o in racing if o.allowances == {"migrate-busy"}]
    assert sorted(o.results[3] for o in busy) == [-ERRNO["EAGAIN"]]
    assert all(o.state[("p0", A)].node == 0 for o in busy)
    apart = run(f"""
        map   p0 {A:#x} 1 rw
        map   p0 0x5000 1 rw
        fault p0 {A:#x} write 0x1
        parallel {{
          thread {{ migrate p0 {A:#x} 1 }}
          thread {{ fault p0 0x5000 write 0x2 }}
        }}
    """)
    assert [o.allowances for o in apart] == [frozenset()]


def test_migrate_busy_is_ebusy_only_against_an_isolator_and_never_against_fork() -> None:
    isolated = run(f"""
        swapon 2
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x1
        parallel {{
          thread {{ migrate p0 {A:#x} 1 }}
          thread {{ pageout p0 {A:#x} }}
        }}
    """)
    assert -ERRNO["EBUSY"] in {o.results[3] for o in isolated if "migrate-busy" in o.allowances}
    forking = run(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x1
        parallel {{
          thread {{ migrate p0 {A:#x} 1 }}
          thread {{ fork p0 p1 }}
        }}
    """)
    assert not any("migrate-busy" in o.allowances for o in forking)
    assert {o.results[2] for o in forking} == {1}


def test_no_allowance_outside_parallel_blocks() -> None:
    outcomes = run(f"""
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x1
        migrate p0 {A:#x} 1
        fault   p0 {A:#x} write 0x2
    """)
    assert len(outcomes) == 1 and outcomes[0].allowances == frozenset()


def test_wp_copy_racing_migration_copies_to_node_0_while_the_migration_completes() -> None:
    outcomes = run(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x1
        fork  p0 p1
        exit  p1
        parallel {{
          thread {{ fault p0 {A:#x} write 0x2 }}
          thread {{ migrate p0 {A:#x} 1 }}
        }}
    """)
    plain = [o for o in outcomes if not o.allowances]
    assert {o.state[("p0", A)].node for o in plain} == {1}  # reused, then moved or not
    copied = [o for o in outcomes if o.allowances == {"wp-copy-racing-migration"}]
    assert len(copied) == 1
    assert copied[0].results[5] == 1
    assert copied[0].state[("p0", A)].node == 0 and copied[0].state[("p0", A)].writable
    # Copying while the migration fails looks exactly like a failed migration followed by a
    # reuse on node 0, so that outcome is reported with the smaller allowance set.
    failed = [o for o in outcomes if o.results[5] == -ERRNO["EAGAIN"]]
    assert [o.allowances for o in failed] == [frozenset({"migrate-busy"})]


def test_wp_copy_racing_pageout_shows_through_the_swap_device_turn() -> None:
    # Two devices of equal priority take turns, newest (1) first. Racing, the fault copies
    # and reclaim takes a slot of device 1 for the old page and frees it again: the final
    # pageout then gets device 0. Any linearization leaves a swap copy on device 1, reused.
    outcomes = run(f"""
        swapon   4 prio=3
        swapon   4 prio=3
        map      p0 {A:#x} 1 rw
        fault    p0 {A:#x} write 0x1
        mprotect p0 {A:#x} 1 r
        mprotect p0 {A:#x} 1 rw
        parallel {{
          thread {{ fault p0 {A:#x} write 0x2 }}
          thread {{ pageout p0 {A:#x} }}
        }}
        pageout  p0 {A:#x}
    """)
    by_device = {o.state[("p0", A)].swap: o.allowances for o in outcomes}
    assert by_device == {1: frozenset(), 0: frozenset({"wp-copy-racing-pageout"})}


def test_pageout_busy_leaves_the_page_resident() -> None:
    outcomes = run(f"""
        swapon 4
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x1
        migrate p0 {A:#x} 1
        parallel {{
          thread {{ pageout p0 {A:#x} }}
          thread {{ fault p0 {A:#x} read }}
        }}
    """)
    busy = [o for o in outcomes if o.allowances == {"pageout-busy"}]
    kinds = sorted(o.state[("p0", A)].kind for o in busy)
    assert "present" in kinds
    # A page left in the swap cache keeps its node when the read maps it back.
    assert all(o.state[("p0", A)].node == 1 for o in busy)


def test_allowance_list_is_documented() -> None:
    with open("docs/semantics.md") as doc:
        text = doc.read()
    for allowance in ALLOWANCES:
        assert f"`{allowance.name}`" in text
        assert allowance.description
    assert len(ALLOWANCE_NAMES) == len(ALLOWANCES)


SWAP_CACHED_RACE = f"""
    swapon  4
    map     p0 {A:#x} 1 rw
    fault   p0 {A:#x} write 0x1
    fork    p0 p1
    pageout p0 {A:#x}
    fault   p0 {A:#x} read
    parallel {{
      thread {{ migrate p0 {A:#x} 1 }}
      thread {{ fault p1 {A:#x} write 0x2 }}
      thread {{ fault p0 {A:#x} write 0x3 }}
    }}
"""


def test_migrate_stale_lookup_moves_the_page_found_wherever_it_is_mapped_later() -> None:
    # The migration finds p0's page (in the swap cache); p0 then copies it away and p1 swaps
    # it in writable; the migration moves it after all: p1's pte becomes a swap pte (a swap
    # cache page is unmapped to swap ptes), p0 keeps its copy.
    outcomes = spec.run(parse(SWAP_CACHED_RACE))
    stale = [o for o in outcomes
             if o.state[("p1", A)].kind == "swap" and o.state[("p0", A)].kind == "present"]
    assert [o.allowances for o in stale] == [frozenset({"migrate-stale-lookup"})]
    assert stale[0].results[6] == 1 and stale[0].state[("p1", A)].data == 2


def test_migrate_racing_a_migration_of_the_same_page_may_find_no_page() -> None:
    outcomes = run(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x1
        fork  p0 p1
        parallel {{
          thread {{ migrate p0 {A:#x} 1 }}
          thread {{ migrate p1 {A:#x} 1 }}
        }}
    """)
    enoent = [o for o in outcomes if -ERRNO["ENOENT"] in o.results.values()]
    assert enoent and all(o.allowances == {"migrate-busy"} for o in enoent)


def test_pageout_stale_lookup_reclaims_the_page_found_in_a_second_step() -> None:
    program = parse(f"""
        swapon 4
        map    p0 {A:#x} 1 rw
        fault  p0 {A:#x} write 0x1
        fork   p0 p1
        pageout p0 {A:#x}
        fault  p1 {A:#x} write 0x2
    """)
    state = World(SpecState(program.config), {})
    ops = program.ops()
    for op_id, op in enumerate(ops[:4]):
        state = state.after(step(state.state, op_id, op, ())[0], 0)
    found_page = state.state.ptes[("p0", A)].page  # type: ignore[union-attr]
    branches = step(state.state, 4, ops[4], (Concurrent(5, ops[5]),))
    pending = [b for b in branches if b.pending is not None]
    assert [b.allowances for b in pending] == [frozenset({"pageout-stale-lookup"})]
    assert pending[0].results == {} and pending[0].pending.page == found_page  # type: ignore[union-attr]
    # p1 copies the page away before the reclaim: only p0's pte goes to swap.
    after_copy = step(pending[0].state, 5, ops[5], ())[0]
    [done] = finish(after_copy.state, pending[0].pending,  # type: ignore[arg-type]
                    others_running=False)
    assert done.results == {4: 0}
    assert isinstance(done.state.ptes[("p0", A)], Swapped)
    assert isinstance(done.state.ptes[("p1", A)], Present)


def test_unlocked_migrate_racing_munmap_may_find_no_page() -> None:
    text = f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x1
        parallel {{
          thread {{ migrate p0 {A:#x} 1 UNLOCKED }}
          thread {{ munmap p0 {A:#x} 1 }}
        }}
    """
    vanished = [
        o for o in run(text.replace("UNLOCKED", "unlocked"))
        if "migrate-unlocked-vanished" in o.allowances
    ]
    assert [o.results[2] for o in vanished] == [-ERRNO["ENOENT"]]
    assert all(o.state.get(("p0", A)) is None for o in vanished)
    # Holding the mmap_sem, the migration is never cut off from its vma.
    locked = run(text.replace(" UNLOCKED", ""))
    assert all("migrate-unlocked-vanished" not in o.allowances for o in locked)
    plain = [o.results[2] for o in locked if not o.allowances]
    assert sorted(plain) == sorted([1, -ERRNO["EFAULT"]])


def test_unlocked_migrate_in_the_munmap_window_with_a_vma_above() -> None:
    # With a vma above, find_vma still finds one after the detach and follow_page finds the
    # pte not yet zapped: the migration goes ahead (a linearization), so no -EFAULT.
    outcomes = run(f"""
        map   p0 {A:#x} 1 rw
        map   p0 {A + 0x2000:#x} 1 rw
        fault p0 {A:#x} write 0x1
        parallel {{
          thread {{
            migrate p0 {A:#x} 1 unlocked
            fault p0 {A:#x} read
          }}
          thread {{ munmap p0 {A:#x} 1 }}
        }}
    """)
    assert sorted({(o.results[3], o.results[4]) for o in outcomes
                   if "migrate-unlocked-vanished" in o.allowances}) == [(-ERRNO["ENOENT"], 1)]


def test_unlocked_migrate_may_find_no_vma_while_the_ptes_remain() -> None:
    # do_munmap detaches the vmas before zapping: an unlocked find_vma with nothing above
    # gives -EFAULT, and the thread's next access still reads through the live pte.
    outcomes = run(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x1
        parallel {{
          thread {{
            migrate p0 {A:#x} 1 unlocked
            fault p0 {A:#x} read
          }}
          thread {{ munmap p0 {A:#x} 1 }}
        }}
    """)
    window = {(o.results[2], o.results[3]) for o in outcomes
              if "migrate-unlocked-vanished" in o.allowances}
    assert window == {(-ERRNO["EFAULT"], 1), (-ERRNO["ENOENT"], 1), (-ERRNO["ENOENT"], "SIGSEGV")}
    assert (-ERRNO["EFAULT"], 1) not in {(o.results[2], o.results[3]) for o in outcomes
                                         if not o.allowances}


def test_a_pinned_page_migration_isolates_it_from_another() -> None:
    # Both migrations fail on the pin (-EAGAIN), but each isolates the page and unmaps it on
    # every pass: the other may find it off the LRU (-EBUSY) or behind migration entries
    # (-ENOENT) meanwhile.
    outcomes = run(f"""
        map p0 {A:#x} 1 rw
        pin p0 {A:#x} write
        parallel {{
          thread {{ migrate p0 {A:#x} 1 }}
          thread {{ migrate p0 {A:#x} 1 }}
        }}
    """)
    again, busy, gone = -ERRNO["EAGAIN"], -ERRNO["EBUSY"], -ERRNO["ENOENT"]
    assert {(o.results[2], o.results[3]) for o in outcomes} == {
        (again, again), (again, busy), (busy, again), (again, gone), (gone, again)}


def test_a_pin_faults_then_looks_the_page_up_again() -> None:
    # get_user_pages: handle_mm_fault, then follow_page; a migration in between moves the
    # page it just faulted in, and the pin holds the new one (on node 1).
    outcomes = run(f"""
        map p0 {A:#x} 1 rw
        parallel {{
          thread {{ pin p0 {A:#x} write }}
          thread {{ migrate p0 {A:#x} 1 }}
        }}
    """)
    between = [o for o in outcomes if "access-after-fault" in o.allowances]
    assert [(o.results[1], o.results[2], o.state[("p0", A)].node) for o in between] == [(0, 1, 1)]
    plain = {(o.results[1], o.results[2]) for o in outcomes if not o.allowances}
    assert plain == {(0, -ERRNO["EAGAIN"]), (0, -ERRNO["ENOENT"])}


def test_two_cow_writers_may_both_copy() -> None:
    outcomes = run(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x1
        fork  p0 p1
        migrate p0 {A:#x} 1
        parallel {{
          thread {{ fault p1 {A:#x} write 0x2 }}
          thread {{ fault p0 {A:#x} write 0x3 }}
        }}
    """)
    both = [o for o in outcomes if o.allowances == {"wp-copy-racing-copy"}]
    assert both and all(
        o.state[("p0", A)].node == o.state[("p1", A)].node == 0 for o in both
    )
    plain = [o for o in outcomes if not o.allowances]
    assert plain and all(
        {o.state[("p0", A)].node, o.state[("p1", A)].node} == {0, 1} for o in plain
    )
