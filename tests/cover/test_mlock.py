"""mlock/munlock PROC ADDR NPAGES: DSL, spec rule, kernel model, generator."""

from __future__ import annotations

import pytest
from dsl_support import assert_dsl_error, drawn_programs
from hypothesis import find, settings
from ptediff import impls, spec
from ptediff.core.outcome import ERRNO, NONE_PTE
from ptediff.core.program import Mlock, Munlock
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.impls.structs import VM_LOCKED
from ptediff.impls.testing import booted, drive, mapped
from ptediff.judge.check import check
from ptediff.search.strategies import programs

ENOMEM = -ERRNO["ENOMEM"]
EFAULT = -ERRNO["EFAULT"]
EPERM = -ERRNO["EPERM"]
EINVAL = -ERRNO["EINVAL"]


def both(text: str) -> tuple[dict, dict]:
    """(spec results, postfix final state) of a sequential program the two agree on."""
    program = parse(text)
    (allowed,) = spec.run(program)
    model = impls.run("postfix", program)
    assert check(program, "postfix").agrees
    assert model.results == allowed.results
    return allowed.results, model.state


def test_parses_and_prints_back() -> None:
    text = "map      p0 0x1000 2 rw\nmlock    p0 0x1000 2 => 0\nmunlock  p0 0x2000 1\n"
    program = parse(text)
    assert program.ops()[1] == Mlock("p0", 0x1000, 2, expect=0)
    assert program.ops()[2] == Munlock("p0", 0x2000, 1)
    assert format_program(program) == text


def test_mlock_faults_the_range_in_written_or_read() -> None:
    results, state = both(
        "map p0 0x1000 2 rw\nmap p0 0x3000 1 r\nfault p0 0x1000 write 0x1\nfork p0 p1\n"
        "mlock p0 0x1000 3\n"
    )
    assert results[4] == 0
    # writable vma: written in, so the page shared with the child is copied (COW broken)
    assert state[("p0", 0x1000)].kind == "present" and state[("p0", 0x1000)].writable
    assert state[("p0", 0x1000)].frame != state[("p1", 0x1000)].frame
    assert state[("p0", 0x2000)].writable and state[("p0", 0x2000)].data == 0
    # read-only vma: read in, the zero page
    assert state[("p0", 0x3000)].kind == "present" and not state[("p0", 0x3000)].writable


def test_pageout_leaves_a_locked_page_and_munlock_lets_it_go() -> None:
    base = "swapon 2\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nmlock p0 0x1000 1\n"
    _, state = both(base + "pageout p0 0x1000\n")
    assert state[("p0", 0x1000)].kind == "present"
    _, state = both(base + "munlock p0 0x1000 1\npageout p0 0x1000\n")
    assert state[("p0", 0x1000)].kind == "swap"


def test_migration_of_a_locked_page_is_eperm_and_changes_nothing() -> None:
    results, state = both(
        "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nmlock p0 0x1000 1\n"
        "migrate p0 0x1000 1\n"
    )
    assert results[3] == EPERM
    assert state[("p0", 0x1000)].node == 0 and state[("p0", 0x1000)].writable


def test_reclaim_walk_stops_at_the_locked_vma() -> None:
    # The child (after the parent on the anon_vma list) is locked: the parent's pte is already
    # a swap pte when try_to_unmap meets the locked vma, the page stays in the swap cache.
    results, state = both(
        "swapon 2\nmap p0 0x1000 1 r\nmprotect p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\n"
        "fork p0 p1\nmprotect p1 0x1000 1 r\nmlock p1 0x1000 1\npageout p0 0x1000\n"
        "fault p0 0x1000 read\n"
    )
    assert results[7] == 0 and results[8] == 1
    assert state[("p1", 0x1000)].kind == "present"


def test_the_child_does_not_inherit_the_lock() -> None:
    _, state = both(
        "swapon 2\nmap p0 0x1000 1 rw\nmlock p0 0x1000 1\nfault p0 0x1000 write 0x1\n"
        "fork p0 p1\nfault p1 0x1000 write 0x2\npageout p1 0x1000\n"
    )
    assert state[("p1", 0x1000)].kind == "swap"
    assert state[("p0", 0x1000)].kind == "present"


def test_madvise_dontneed_refuses_a_locked_vma() -> None:
    results, state = both(
        "map p0 0x1000 1 rw\nmlock p0 0x1000 1\nmadvise p0 0x1000 1 dontneed\n"
    )
    assert results[2] == EINVAL
    assert state[("p0", 0x1000)] != NONE_PTE


def test_holes_and_prot_none() -> None:
    results, state = both(
        "map p0 0x1000 1 rw\nmap p0 0x3000 1 rw\nmlock p0 0x1000 3\nmlock p0 0x5000 1\n"
        "map p0 0x6000 1 none\nmlock p0 0x6000 1\nmunlock p0 0x2000 1\n"
    )
    assert [results[k] for k in range(2, 7)] == [ENOMEM, ENOMEM, 0, EFAULT, ENOMEM]
    assert state[("p0", 0x1000)].kind == "present"  # locked and faulted before the hole
    assert state[("p0", 0x3000)] == NONE_PTE  # never reached


def test_the_model_splits_the_vma_and_sets_vm_locked() -> None:
    kernel, mm = booted()
    mapped(kernel, mm, 0x1000, 3)
    assert drive(kernel, kernel.sys_mlock(mm, 0x2000, 1)) == 0
    assert [(v.start, v.end, bool(v.flags & VM_LOCKED)) for v in mm.vmas] == [
        (0x1000, 0x2000, False), (0x2000, 0x3000, True), (0x3000, 0x4000, False)]
    assert mm.pte(0x2000) is not None and mm.pte(0x1000) is None
    assert drive(kernel, kernel.sys_munlock(mm, 0x1000, 3)) == 0
    assert not any(v.flags & VM_LOCKED for v in mm.vmas)
    # a locked vma refuses reclaim and migration: try_to_unmap gives SWAP_FAIL
    vma = mapped(kernel, mm, 0x8000)
    assert drive(kernel, kernel.sys_mlock(mm, 0x8000, 1)) == 0
    assert vma.flags & VM_LOCKED
    assert drive(kernel, kernel.sys_move_pages(mm, 0x8000, 1, False)) == EPERM


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("mlock p0 0x1001 1\n", "1:10", "not a multiple of the page size"),
        ("munlock p0 0x1000 0\n", "1:19", "the page count must be in 1..4096"),
        ("mlock p0 0x1000\n", "1:16", "unexpected end of line"),
    ],
)
def test_bad_mlock_names_line_and_column(text: str, where: str, message: str) -> None:
    assert_dsl_error(text, where, message)


def test_the_generator_draws_mlock_and_munlock() -> None:
    drawn = drawn_programs()
    kinds = {op.KIND for p in drawn for op in p.ops()}
    assert "mlock" in kinds
    for program in drawn:
        assert parse(format_program(program)) == program
    # munlock is the rarer quarter of mlock's draws: reachable, if not in every 400 draws
    found = find(programs(), lambda p: any(isinstance(op, Munlock) for op in p.ops()),
                 settings=settings(database=None, derandomize=True, max_examples=5000))
    assert parse(format_program(found)) == found


def test_a_migration_may_see_another_mms_vma_locked_before_its_faults() -> None:
    text = (
        "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nfork p0 p1\n"
        "parallel {\n  thread { mlock p1 0x1000 1 }\n  thread { migrate p0 0x1000 1 }\n}"
        " schedule 0 0 1 1 1 1 1 1 1 1 1\n"
    )
    program = parse(text)
    model = impls.run("postfix", program)
    assert model.results[4] == EPERM
    verdict = check(program, "postfix")
    assert verdict.agrees
    outcomes = spec.run(program)
    assert {o.results[4] for o in outcomes} == {1, EPERM}
    assert any("mlock-flags-first" in o.allowances for o in outcomes if o.results[4] == EPERM)
