"""mremap PROC OLD NPAGES NEW (MREMAP_MAYMOVE|MREMAP_FIXED): DSL, spec rule, kernel model,
generator, and the races with migration that the anon_vma list order makes safe."""

from __future__ import annotations

import pytest
from dsl_support import assert_dsl_error, drawn_programs
from ptediff import impls, spec
from ptediff.core.outcome import ERRNO, NONE_PTE
from ptediff.core.program import Config, Mremap
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.impls.pte import SwapPte
from ptediff.impls.structs import VM_LOCKED, pmd_index
from ptediff.impls.testing import booted, drive, mapped
from ptediff.judge.check import check
from ptediff.search.explore import explore
from ptediff.spec.mremap import do_mremap
from ptediff.spec.state import SpecState

EINVAL = -ERRNO["EINVAL"]
EFAULT = -ERRNO["EFAULT"]
TABLE = 0x200000  # one page table's span: 0x1000 and 0x201000 have different pte locks


def both(text: str) -> tuple[dict, dict]:
    """(spec results, postfix final state) of a sequential program the two agree on."""
    program = parse(text)
    (allowed,) = spec.run(program)
    model = impls.run("postfix", program)
    assert check(program, "postfix").agrees
    assert model.results == allowed.results
    return allowed.results, model.state


def test_parses_and_prints_back() -> None:
    text = "map      p0 0x1000 2 rw\nmremap   p0 0x1000 2 0x5000 => 0x5000\n"
    program = parse(text)
    assert program.ops()[1] == Mremap("p0", 0x1000, 2, 0x5000, expect=0x5000)
    assert format_program(program) == text


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("mremap p0 0x1001 1 0x5000\n", "1:11", "not a multiple of the page size"),
        ("mremap p0 0x1000 1 0x5008\n", "1:20", "new address 0x5008 is not a multiple"),
        ("mremap p0 0x1000 0 0x5000\n", "1:18", "the page count must be in 1..4096"),
        ("mremap p0 0x1000 1 0\n", "1:20", "address 0 cannot be mapped"),
        ("mremap p0 0x1000 1\n", "1:19", "unexpected end of line"),
    ],
)
def test_bad_mremap_names_line_and_column(text: str, where: str, message: str) -> None:
    assert_dsl_error(text, where, message)


def test_the_move_carries_ptes_protection_and_lock() -> None:
    results, state = both(
        "swapon 2\nmap p0 0x1000 3 rw\nfault p0 0x1000 write 0x1\nfault p0 0x2000 write 0x2\n"
        "pageout p0 0x2000\nmlock p0 0x3000 1\n"
        "mremap p0 0x1000 3 0x5000\n"  # mlock split the vma: the range spans two, -EFAULT
        "mremap p0 0x1000 2 0x5000\nmremap p0 0x3000 1 0x7000\n"
        "pageout p0 0x7000\nfault p0 0x6000 read\n"
    )
    assert [results[k] for k in (6, 7, 8, 10)] == [EFAULT, 0x5000, 0x7000, 0x2]
    assert state[("p0", 0x5000)].kind == "present" and state[("p0", 0x5000)].writable
    assert state[("p0", 0x5000)].data == 0x1
    # the locked piece moved locked: pageout leaves its page alone
    assert state[("p0", 0x7000)].kind == "present"
    assert all(state.get(("p0", a), NONE_PTE) == NONE_PTE for a in (0x1000, 0x2000, 0x3000))


def test_errors_in_2617_order() -> None:
    results, _state = both(
        "map p0 0x1000 2 rw\nfault p0 0x1000 write 0x1\nmap p0 0x4000 1 rw\n"
        "fault p0 0x4000 write 0x4\n"
        "mremap p0 0x1000 2 0x2000\n"  # overlap: -EINVAL, nothing changes
        "mremap p0 0x2000 2 0x4000\n"  # past the vma's end: -EFAULT after NEW is unmapped
        "fault p0 0x4000 read\nfault p0 0x1000 read\n"
    )
    assert [results[k] for k in (4, 5, 6, 7)] == [EINVAL, EFAULT, "SIGSEGV", 0x1]


def test_unaligned_and_empty_ranges_are_einval_in_spec_and_model() -> None:
    # The DSL refuses these; the syscalls are checked through the functions themselves.
    for op in (Mremap("p0", 0x1008, 1, 0x5000), Mremap("p0", 0x1000, 1, 0x5008),
               Mremap("p0", 0x1000, 0, 0x5000)):
        s = SpecState(Config())
        assert do_mremap(s, op) == EINVAL
        kernel, mm = booted()
        mapped(kernel, mm, 0x1000)
        assert drive(kernel, kernel.sys_mremap(mm, op.addr, op.npages, op.new)) == EINVAL


def test_the_model_links_the_new_vma_after_the_old_one() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, 0x1000, 3)
    assert drive(kernel, kernel.user_access(mm, 0x2000, True, 0x7)) == 0
    anon_vma = vma.anon_vma
    assert anon_vma is not None
    assert drive(kernel, kernel.sys_mremap(mm, 0x2000, 1, TABLE + 0x1000)) == TABLE + 0x1000
    new = mm.vma_at(TABLE + 0x1000)
    assert new is not None and new.anon_vma is anon_vma
    # the piece's pgoff keeps the page's linear index: vma_address finds it at the new place
    assert new.pgoff == vma.pgoff + 1
    page = kernel.pages[mm.pte(TABLE + 0x1000).pfn]
    assert kernel.vma_address(page, new) == TABLE + 0x1000
    # old vma split around the hole; the moved piece sits after both on the list
    assert [(v.start, v.end) for v in mm.vmas] == [
        (0x1000, 0x2000), (0x3000, 0x4000), (TABLE + 0x1000, TABLE + 0x2000)]
    assert anon_vma.vmas.index(new) > anon_vma.vmas.index(vma)
    assert pmd_index(TABLE + 0x1000) in mm.page_tables


def test_an_unfaulted_vma_moves_with_a_fresh_pgoff_and_flags() -> None:
    kernel, mm = booted()
    vma = mapped(kernel, mm, 0x1000, 2)
    vma.flags |= VM_LOCKED
    assert drive(kernel, kernel.sys_mremap(mm, 0x1000, 1, 0x6000)) == 0x6000
    new = mm.vma_at(0x6000)
    assert new is not None and new.anon_vma is None
    assert new.pgoff == 0x6 and new.flags & VM_LOCKED


def test_a_migration_entry_moves_as_is_and_is_restored_at_its_new_address() -> None:
    # The unlocked migration holds no mmap_sem: mremap may move its entry mid-migration;
    # remove_migration_ptes must find it at the new address (new vma after the old one).
    program = parse(
        "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nparallel {\n"
        "  thread { migrate p0 0x1000 1 unlocked }\n"
        f"  thread {{ mremap p0 0x1000 1 {TABLE + 0x1000:#x} }}\n}}\n"
        f"fault p0 {TABLE + 0x1000:#x} read\n"
    )
    report = explore(program, ["postfix"], preemption_bound=2).impl("postfix")
    assert report.complete and report.schedules > 50
    assert report.agreeing == report.schedules


def test_a_swap_pte_moves_with_its_slot() -> None:
    kernel, mm = booted()
    assert drive(kernel, kernel.sys_swapon(2, None)) == 0
    mapped(kernel, mm, 0x1000)
    assert drive(kernel, kernel.user_access(mm, 0x1000, True, 0x3)) == 0
    assert drive(kernel, kernel.sys_madvise_pageout(mm, 0x1000)) == 0
    swapped = mm.pte(0x1000)
    assert isinstance(swapped, SwapPte)
    assert drive(kernel, kernel.sys_mremap(mm, 0x1000, 1, 0x4000)) == 0x4000
    assert mm.pte(0x4000) == swapped and mm.pte(0x1000) is None


def test_the_generator_draws_mremap() -> None:
    drawn = drawn_programs()
    moves = [op for p in drawn for op in p.ops() if isinstance(op, Mremap)]
    assert moves
    assert any(abs(op.new - op.addr) >= TABLE for op in moves)  # into another page table
    for program in drawn:
        assert parse(format_program(program)) == program


def test_an_unlocked_migration_may_see_the_new_vma_before_its_ptes() -> None:
    # copy_vma links the new vma before move_ptes fills it (found by a postfix hunt)
    program = parse(
        "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nfork p0 p1\nparallel {\n"
        "  thread { migrate p1 0x2000 1 unlocked }\n"
        "  thread { mremap p1 0x1000 1 0x2000 }\n} schedule 1 1 1 0 0 1 1 1\n"
    )
    model = impls.run("postfix", program)
    assert model.results[3] == -ERRNO["ENOENT"] and model.results[4] == 0x2000
    judgement = check(program, "postfix")
    assert judgement.agrees
    assert {r for o in spec.run(program) for r in [o.results[3]]} == {-ERRNO["EFAULT"], 1,
                                                                      -ERRNO["ENOENT"]}


def test_a_page_moved_back_merges_into_its_vma() -> None:
    # copy_vma's vma_merge: same flags, same anon_vma, the pgoff runs on (case 2 here)
    results, _state = both(
        "map p0 0x1000 3 rw\nfault p0 0x1000 write 0x1\nfault p0 0x3000 write 0x3\n"
        "mremap p0 0x3000 1 0x10000\nmremap p0 0x10000 1 0x3000\n"
        "mremap p0 0x1000 3 0x20000\nfault p0 0x22000 read\n"
    )
    assert results[5] == 0x20000 and results[6] == 0x3  # one vma again: the move succeeds
    kernel, mm = booted()
    vma = mapped(kernel, mm, 0x1000, 2)
    assert drive(kernel, kernel.user_access(mm, 0x2000, True, 0x2)) == 0
    assert drive(kernel, kernel.sys_mremap(mm, 0x2000, 1, 0x10000)) == 0x10000
    assert drive(kernel, kernel.sys_mremap(mm, 0x10000, 1, 0x2000)) == 0x2000
    assert [(v.start, v.end) for v in mm.vmas] == [(0x1000, 0x3000)] and mm.vmas[0] is vma
    assert vma.anon_vma is not None and vma.anon_vma.vmas == [vma]


def test_vm_account_and_the_lock_keep_vmas_apart() -> None:
    # a vma mapped read-only has no VM_ACCOUNT; one that was writable keeps it: no merge, and
    # a move across the boundary is -EFAULT on both sides
    results, _state = both(
        "map p0 0x1000 1 r\nmap p0 0x3000 1 rw\nmprotect p0 0x3000 1 r\n"
        "mremap p0 0x3000 1 0x2000\nmremap p0 0x1000 2 0x10000\n"
        "map p0 0x5000 1 rw\nmlock p0 0x5000 1\nmap p0 0x7000 1 rw\n"
        "mremap p0 0x7000 1 0x6000\nmremap p0 0x5000 2 0x20000\n"
    )
    assert [results[k] for k in (3, 4, 8, 9)] == [0x2000, EFAULT, 0x6000, EFAULT]
