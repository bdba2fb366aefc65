"""Known-answer tests of the spec alone, in the manner of the kernel's COW selftests."""

from __future__ import annotations

import pytest
from ptediff import spec
from ptediff.core.errors import SpecError
from ptediff.core.outcome import ERRNO, Outcome, PteState
from ptediff.core.program import SIGSEGV, Fault, Fork, Map, Program, Prot
from ptediff.dsl.parse import parse

A = 0x1000
B = 0x2000


def only(text: str) -> Outcome:
    """The single outcome of a sequential program."""
    outcomes = spec.run(parse(text))
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def results(text: str) -> list[object]:
    outcome = only(text)
    return [outcome.results[i] for i in range(len(outcome.results))]


def pte(outcome: Outcome, proc: str, addr: int) -> PteState:
    return outcome.state[(proc, addr)]


# --- fork and COW ------------------------------------------------------------------------


def test_fork_shares_read_only_then_writes_are_private_both_ways() -> None:
    out = only(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x11
        fork  p0 p1
        fault p1 {A:#x} write 0x22
        fault p0 {A:#x} read
        fault p1 {A:#x} read
        fault p0 {A:#x} write 0x33
        fault p1 {A:#x} read
        fault p0 {A:#x} read
    """)
    assert [out.results[i] for i in (4, 5, 7, 8)] == [0x11, 0x22, 0x22, 0x33]
    parent, child = pte(out, "p0", A), pte(out, "p1", A)
    assert parent.frame != child.frame
    assert parent.writable and child.writable


def test_fork_write_protects_both_sides_on_one_frame() -> None:
    out = only(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x11
        fork  p0 p1
    """)
    parent, child = pte(out, "p0", A), pte(out, "p1", A)
    assert parent == child == PteState("present", False, parent.frame, 0, 0x11)


def test_parent_write_after_child_exit_reuses_the_page() -> None:
    out = only(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x11
        fork  p0 p1
        fault p0 {A:#x} read
        exit  p1
        fault p0 {A:#x} write 0x22
    """)
    before = only(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x11
    """)
    # Same logical page (reuse): the frame id the spec gave the first page.
    assert pte(out, "p0", A).frame == pte(before, "p0", A).frame
    assert pte(out, "p0", A).writable


def test_fork_skips_vmas_that_never_had_an_anonymous_page() -> None:
    out = only(f"""
        map   p0 {A:#x} 1 rw
        map   p0 {B:#x} 1 rw
        fault p0 {A:#x} read
        fault p0 {B:#x} write 0x5
        fault p0 {B + 0x1000:#x} read
        fork  p0 p1
    """)
    assert pte(out, "p1", A).kind == "none"  # only the zero page: no anon, not copied
    assert pte(out, "p0", A).kind == "present"
    assert pte(out, "p1", B) == pte(out, "p0", B)


def test_zero_page_is_one_frame_copied_by_fork_of_an_anon_vma() -> None:
    out = only(f"""
        map   p0 {A:#x} 2 rw
        fault p0 {A:#x} write 0x5
        fault p0 {B:#x} read
        fork  p0 p1
        map   p1 0x9000 1 r
        fault p1 0x9000 read
    """)
    zero = pte(out, "p0", B)
    assert zero.kind == "present" and not zero.writable and zero.data == 0 and zero.node == 0
    assert pte(out, "p1", B).frame == zero.frame == pte(out, "p1", 0x9000).frame


def test_write_to_zero_page_copies() -> None:
    out = only(f"""
        map   p0 {A:#x} 2 rw
        fault p0 {A:#x} read
        fault p0 {B:#x} read
        fault p0 {A:#x} write 0x7
    """)
    assert pte(out, "p0", A).frame != pte(out, "p0", B).frame
    assert pte(out, "p0", A) == PteState("present", True, pte(out, "p0", A).frame, 0, 7)


# --- mprotect ----------------------------------------------------------------------------


def test_mprotect_read_only_then_write_segfaults() -> None:
    assert results(f"""
        map      p0 {A:#x} 1 rw
        fault    p0 {A:#x} write 0x1
        mprotect p0 {A:#x} 1 r
        fault    p0 {A:#x} write 0x2
        fault    p0 {A:#x} read
    """) == [0, 0, 0, SIGSEGV, 1]


def test_mprotect_back_to_rw_then_write_is_allowed_and_private() -> None:
    out = only(f"""
        map      p0 {A:#x} 1 rw
        fault    p0 {A:#x} write 0x1
        fork     p0 p1
        mprotect p0 {A:#x} 1 r
        mprotect p0 {A:#x} 1 rw
        fault    p0 {A:#x} write 0x2
        fault    p1 {A:#x} read
    """)
    assert out.results[5] == 0 and out.results[6] == 1
    assert pte(out, "p0", A).frame != pte(out, "p1", A).frame


def test_mprotect_real_change_drops_write_bits_same_prot_keeps_them() -> None:
    same = only(f"""
        map      p0 {A:#x} 1 rw
        fault    p0 {A:#x} write 0x1
        mprotect p0 {A:#x} 1 rw
    """)
    assert pte(same, "p0", A).writable
    changed = only(f"""
        map      p0 {A:#x} 1 rw
        fault    p0 {A:#x} write 0x1
        mprotect p0 {A:#x} 1 r
        mprotect p0 {A:#x} 1 rw
    """)
    assert not pte(changed, "p0", A).writable
    assert changed.vma_prot[("p0", A)] == "rw"


def test_mprotect_hole_gives_enomem_and_keeps_the_part_before_it() -> None:
    out = only(f"""
        map      p0 {A:#x} 1 rw
        mprotect p0 {A:#x} 2 r
        mprotect p0 0x8000 1 r
    """)
    assert out.results[1] == out.results[2] == -ERRNO["ENOMEM"]
    assert out.vma_prot[("p0", A)] == "r"


def test_mprotect_splits_a_vma() -> None:
    out = only(f"""
        map      p0 {A:#x} 3 rw
        fault    p0 {A:#x} write 0x1
        fault    p0 {B:#x} write 0x2
        mprotect p0 {B:#x} 1 none
        fault    p0 {B:#x} read
        fault    p0 {A:#x} write 0x3
    """)
    assert out.results[4] == SIGSEGV and out.results[5] == 0
    assert [out.vma_prot[("p0", a)] for a in (A, B, B + 0x1000)] == ["rw", "none", "rw"]
    assert not pte(out, "p0", B).writable and pte(out, "p0", A).writable


# --- map, munmap, exit -------------------------------------------------------------------


def test_map_overlap_is_eexist() -> None:
    assert results(f"""
        map p0 {A:#x} 2 rw
        map p0 {B:#x} 1 r
        map p0 0x3000 1 r
    """) == [0, -ERRNO["EEXIST"], 0]


def test_munmap_then_access_segfaults() -> None:
    out = only(f"""
        map    p0 {A:#x} 2 rw
        fault  p0 {A:#x} write 0x1
        munmap p0 {A:#x} 1
        fault  p0 {A:#x} read
        fault  p0 {B:#x} write 0x2
        munmap p0 0x7000 1
    """)
    assert [out.results[i] for i in (3, 4, 5)] == [SIGSEGV, 0, 0]
    assert ("p0", A) not in out.state and pte(out, "p0", B).data == 2


def test_exit_frees_nothing_another_process_still_maps() -> None:
    out = only(f"""
        map   p0 {A:#x} 1 rw
        fault p0 {A:#x} write 0x42
        fork  p0 p1
        exit  p0
        fault p1 {A:#x} read
        fault p1 {A:#x} write 0x43
    """)
    assert out.results[4] == 0x42
    assert not any(key[0] == "p0" for key in out.state)
    assert pte(out, "p1", A).writable  # the page is exclusive again: reused


# --- swap ---------------------------------------------------------------------------------


def test_pageout_then_fault_returns_the_data() -> None:
    out = only(f"""
        swapon  4
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0xabc
        pageout p0 {A:#x}
    """)
    assert pte(out, "p0", A) == PteState("swap", False, pte(out, "p0", A).frame, None, 0xabc, 0)
    again = only(f"""
        swapon  4
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0xabc
        migrate p0 {A:#x} 1
        pageout p0 {A:#x}
        fault   p0 {A:#x} read
    """)
    assert again.results[5] == 0xabc
    assert pte(again, "p0", A) == PteState("present", False, pte(again, "p0", A).frame, 0, 0xabc)


def test_pageout_without_swap_or_outside_a_vma() -> None:
    out = only(f"""
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x1
        pageout p0 {A:#x}
        pageout p0 0x5000
    """)
    assert out.results[2] == 0 and out.results[3] == -ERRNO["ENOMEM"]
    assert pte(out, "p0", A).kind == "present"


def test_pageout_of_a_shared_page_swaps_every_mapper_to_one_slot() -> None:
    out = only(f"""
        swapon  2
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x9
        fork    p0 p1
        pageout p1 {A:#x}
        fault   p0 {A:#x} read
        fault   p1 {A:#x} read
    """)
    assert out.results[5] == out.results[6] == 9
    # Both swapped in from the one slot: the second finds the first's page in the swap cache.
    assert pte(out, "p0", A).frame == pte(out, "p1", A).frame


def test_swap_in_write_is_writable_when_exclusive_and_copies_when_shared() -> None:
    exclusive = only(f"""
        swapon  4
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x1
        pageout p0 {A:#x}
        fault   p0 {A:#x} write 0x2
    """)
    assert pte(exclusive, "p0", A).writable and pte(exclusive, "p0", A).data == 2
    shared = only(f"""
        swapon  4
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x1
        fork    p0 p1
        pageout p0 {A:#x}
        fault   p0 {A:#x} write 0x2
        fault   p1 {A:#x} read
    """)
    assert shared.results[6] == 1
    assert pte(shared, "p0", A).writable and pte(shared, "p0", A).data == 2
    assert not pte(shared, "p1", A).writable


def test_swap_copy_blocks_reuse_while_a_swap_pte_holds_it() -> None:
    out = only(f"""
        swapon  4
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x1
        fork    p0 p1
        pageout p0 {A:#x}
        fault   p0 {A:#x} read
        fault   p0 {A:#x} write 0x2
    """)
    # p0's read brought the page into the swap cache; p1's swap pte still holds the slot, so
    # the write copies rather than reusing, and p1 keeps seeing the old data.
    assert pte(out, "p1", A).kind == "swap" and pte(out, "p1", A).data == 1
    assert pte(out, "p0", A).data == 2


def test_swap_full_swap_in_drops_the_swap_copy() -> None:
    # One slot: after the swap-in it is the only one and in use, so swap is "more than half
    # full" and the exclusive page gives it up; the second pageout then needs a free slot.
    out = only(f"""
        swapon  1
        map     p0 {A:#x} 2 rw
        fault   p0 {A:#x} write 0x1
        fault   p0 {B:#x} write 0x2
        pageout p0 {A:#x}
        fault   p0 {A:#x} read
        pageout p0 {B:#x}
    """)
    assert pte(out, "p0", A).kind == "present"
    assert pte(out, "p0", B).kind == "swap"


def test_swap_copy_kept_when_swap_is_not_full_and_pageout_reuses_its_device() -> None:
    out = only(f"""
        swapon  4
        swapon  4
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x1
        pageout p0 {A:#x}
        fault   p0 {A:#x} write 0x2
        pageout p0 {A:#x}
    """)
    assert pte(out, "p0", A).swap == 0 and pte(out, "p0", A).data == 2


def test_slots_come_from_the_highest_priority_device() -> None:
    out = only(f"""
        swapon  1
        swapon  1 prio=5
        map     p0 {A:#x} 2 rw
        fault   p0 {A:#x} write 0x1
        fault   p0 {B:#x} write 0x2
        pageout p0 {A:#x}
        pageout p0 {B:#x}
    """)
    assert pte(out, "p0", A).swap == 1 and pte(out, "p0", B).swap == 0


def test_equal_priorities_take_turns_newest_first() -> None:
    out = only(f"""
        swapon  4 prio=3
        swapon  4 prio=3
        map     p0 {A:#x} 3 rw
        fault   p0 {A:#x} write 0x1
        fault   p0 {B:#x} write 0x2
        fault   p0 0x3000 write 0x3
        pageout p0 {A:#x}
        pageout p0 {B:#x}
        pageout p0 0x3000
    """)
    assert [pte(out, "p0", a).swap for a in (A, B, 0x3000)] == [1, 0, 1]


@pytest.mark.parametrize(("swap_bits", "allowed"), [(5, 30), (2, 2), (3, 6)])
def test_swapon_beyond_max_swapfiles_is_eperm(swap_bits: int, allowed: int) -> None:
    lines = [f"config swap_bits={swap_bits}", "swapon 0"] + ["swapon 1"] * (allowed + 1)
    got = results("\n".join(lines))
    assert got == [-ERRNO["EINVAL"]] + [0] * allowed + [-ERRNO["EPERM"]]


# --- migrate ------------------------------------------------------------------------------


def test_migrate_keeps_data_and_write_bit_and_sets_the_node() -> None:
    out = only(f"""
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x77
        migrate p0 {A:#x} 1
        migrate p0 {A:#x} 1
        fault   p0 {A:#x} read
    """)
    assert [out.results[i] for i in (2, 3, 4)] == [1, 1, 0x77]
    assert pte(out, "p0", A) == PteState("present", True, pte(out, "p0", A).frame, 1, 0x77)


def test_migrate_moves_every_mapper_of_a_shared_page() -> None:
    out = only(f"""
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x5
        fork    p0 p1
        migrate p1 {A:#x} 1
    """)
    parent, child = pte(out, "p0", A), pte(out, "p1", A)
    assert parent == child and parent.node == 1 and not parent.writable


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("", -ERRNO["EFAULT"]),  # no vma
        ("map p0 0x1000 1 none", -ERRNO["ENOENT"]),  # PROT_NONE is not looked at: none pte
        ("map p0 0x3000 1 rw", -ERRNO["ENOENT"]),  # a hole below a vma: follow_page finds none
        ("map p0 0x1000 1 rw", -ERRNO["ENOENT"]),  # none pte
        ("map p0 0x1000 1 rw\nfault p0 0x1000 read", -ERRNO["ENOENT"]),  # zero page
        ("swapon 1\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 1\npageout p0 0x1000",
         -ERRNO["ENOENT"]),
    ],
)
def test_migrate_errors(setup: str, expected: int) -> None:
    out = only(setup + "\nmigrate p0 0x1000 1")
    assert out.results[max(out.results)] == expected


def test_migrate_moves_a_prot_none_page() -> None:
    """follow_page has no protection check: a PROT_NONE pte is present and its page moves."""
    out = only("map p0 0x1000 1 rw\nfault p0 0x1000 write 7\nmprotect p0 0x1000 1 none\n"
               "migrate p0 0x1000 1")
    assert out.results[3] == 1
    assert pte(out, "p0", 0x1000).node == 1


def test_migrate_to_a_missing_node_is_enodev() -> None:
    program = Program((Map("p0", A, 1, Prot.RW), Fault("p0", A, True, 1)))
    from ptediff.core.program import Migrate

    outcome = spec.run(Program((*program.steps, Migrate("p0", A, 5))))[0]
    assert outcome.results[2] == -ERRNO["ENODEV"]


def test_migrate_of_a_page_with_a_swap_copy_leaves_swap_ptes() -> None:
    out = only(f"""
        swapon  4
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x3
        pageout p0 {A:#x}
        fault   p0 {A:#x} read
        migrate p0 {A:#x} 1
    """)
    assert out.results[5] == 1
    assert pte(out, "p0", A).kind == "swap" and pte(out, "p0", A).data == 3
    after = only(f"""
        swapon  4
        map     p0 {A:#x} 1 rw
        fault   p0 {A:#x} write 0x3
        pageout p0 {A:#x}
        fault   p0 {A:#x} read
        migrate p0 {A:#x} 1
        fault   p0 {A:#x} write 0x4
    """)
    assert pte(after, "p0", A) == PteState("present", True, pte(after, "p0", A).frame, 1, 4)


# --- the run interface -----------------------------------------------------------------


def test_checkpoints_give_the_state_after_every_top_level_step() -> None:
    program = parse(f"""
        map   p0 {A:#x} 1 rw
        parallel {{
          thread {{ fault p0 {A:#x} write 0x1 }}
          thread {{ fault p0 {A:#x} read }}
        }}
        fork  p0 p1
    """)
    outcomes = spec.run(program, checkpoints=True)
    assert len(outcomes) == 2
    for outcome in outcomes:
        assert outcome.checkpoints is not None and len(outcome.checkpoints) == 3
        assert outcome.checkpoints[0][("p0", A)].kind == "none"
        assert outcome.checkpoints[2] == outcome.state
    assert spec.run(program)[0].checkpoints is None


def test_a_missing_process_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="p7 does not exist"):
        spec.run(Program((Map("p7", A, 1, Prot.RW),)))
    with pytest.raises(SpecError, match="p0 already exists"):
        spec.run(Program((Fork("p0", "p0"),)))
