"""Object lifetimes in the models: frame reuse, the anon_vma slab and RCU, LRU isolation, the
KASAN-style reports, and the fidelity corrections that came with them (issue 11)."""

from __future__ import annotations

from pathlib import Path

from ptediff import impls
from ptediff.core.outcome import ERRNO
from ptediff.core.program import SIGKILL, Program, Prot
from ptediff.dsl.parse import parse
from ptediff.impls import Kernel
from ptediff.impls.invariants import WITH_RSS
from ptediff.impls.pte import PresentPte, SwapPte
from ptediff.impls.sched import Acquire, KGen, Preempt, Scheduler, Task
from ptediff.impls.structs import VM_LOCKED, Mm, Vma
from ptediff.impls.testing import booted, drive, mapped
from ptediff.judge.check import check
from ptediff.judge.classify import classify
from ptediff.search.explore import explore

A = 0x1000
REGRESSIONS = Path(__file__).parent.parent / "regressions"


def regression(name: str) -> str:
    return (REGRESSIONS / name).read_text()


def written(kernel: Kernel, addr: int = A, value: int = 7, npages: int = 1) -> tuple[Mm, Vma]:
    kernel_mm = kernel.procs["p0"]
    vma = mapped(kernel, kernel_mm, addr, npages)
    for i in range(npages):
        assert drive(kernel, kernel.user_access(kernel_mm, addr + i * 0x1000, True, value)) == 0
    return kernel_mm, vma


def classes(kernel: Kernel) -> list[tuple[str, str]]:
    return [(b.signature_class, b.function) for b in kernel.bugs]


# -- pages ------------------------------------------------------------------------------------


def test_freed_frames_are_handed_out_again_most_recent_first_per_node() -> None:
    kernel, _ = booted()
    a, b = kernel.alloc_page(0), kernel.alloc_page(0)
    kernel.put_page(a)
    kernel.put_page(b)
    assert a.freed and b.freed and kernel.bugs == []
    assert kernel.alloc_page(1).pfn not in (a.pfn, b.pfn)  # another node's free list
    again = kernel.alloc_page(0)
    assert again is b and not again.freed and again.refcount == 1  # LIFO: b was freed last
    assert again.alloc_id != 0 and kernel.alloc_page(0) is a


def test_a_reference_count_going_below_zero_is_a_use_after_free() -> None:
    kernel, _ = booted()
    page = kernel.alloc_page(0)
    kernel.put_page(page, "first")
    kernel.put_page(page, "second")
    assert classes(kernel) == [("use-after-free:page", "second")]
    assert "below zero" in kernel.bugs[0].reason


def test_getting_a_freed_page_is_a_use_after_free() -> None:
    kernel, _ = booted()
    page = kernel.alloc_page(0)
    kernel.put_page(page)
    kernel.get_page(page, "lookup")
    assert classes(kernel) == [("use-after-free:page", "lookup")]


def test_freeing_a_mapped_or_locked_page_is_a_bad_page_state_and_leaks_it() -> None:
    kernel, _ = booted()
    page = kernel.alloc_page(0)
    page.mapcount = 1
    kernel.put_page(page, "zap_pte_range")
    assert classes(kernel) == [("bad-page-state:zap_pte_range", "zap_pte_range")]
    assert "mapcount 1" in kernel.bugs[0].reason
    assert kernel.alloc_page(0) is not page  # bad_page() never hands the frame out again


def test_a_stale_pte_meeting_the_frames_new_owner_is_a_use_after_free() -> None:
    """A pte the kernel forgot to clear names a frame that was freed and given to someone else:
    the user access through it is reported, with the function and the operation."""
    kernel, mm = booted()
    written(kernel)
    pte = mm.pte(A)
    assert isinstance(pte, PresentPte)
    page = kernel.pfn_to_page(pte.pfn)
    stale = pte
    drive(kernel, kernel.do_munmap(mm, A, 1))  # frees the page
    reused = kernel.alloc_page(0, 0x99)
    assert reused is page  # the hot frame
    kernel.pte_alloc(mm, A).ptes[A] = stale  # as if zap had missed it
    mapped(kernel, mm, A)
    assert drive(kernel, kernel.user_access(mm, A, False, 0)) == 0x99  # the new owner's data
    assert classes(kernel) == [("use-after-free:page", "user_access")]
    assert "reallocated" in kernel.bugs[0].reason


def test_a_migration_entry_to_a_reused_locked_frame_is_caught_though_the_bug_on_passes() -> None:
    """The orphan of fix 1 meets its old frame reused by the next migration as its new page
    (locked): migration_entry_to_page's BUG_ON passes, the stale entry is reported."""
    out = impls.run("prefix-anon-vma-head", parse(regression("fix1-frame-reuse.pte")))
    assert [(b.signature_class, b.function, b.op) for b in out.bugs] == [
        ("use-after-free:page", "remove_migration_pte", 5)
    ]
    assert check(parse(regression("fix1-frame-reuse.pte")), "postfix").agrees


# -- anon_vma and RCU -------------------------------------------------------------------------


def test_anon_vma_unlink_frees_the_last_one_and_the_slab_reuses_it() -> None:
    kernel, mm = booted()
    _, vma = written(kernel)
    anon_vma = vma.anon_vma
    assert anon_vma is not None
    drive(kernel, kernel.do_munmap(mm, A, 1))
    assert anon_vma.freed and anon_vma.vmas == []
    other = mapped(kernel, mm, 0x5000)
    drive(kernel, kernel.anon_vma_prepare(other))
    assert other.anon_vma is anon_vma and not anon_vma.freed and anon_vma.generation == 1
    assert kernel.bugs == []  # type-stable reuse is not an error


def test_locking_a_freed_anon_vma_without_rcu_is_a_use_after_free() -> None:
    """The walker freed under: remove_anon_migration_ptes takes page->mapping's lock with no
    RCU read lock; once the anon_vma is freed and a grace period has passed, that is a UAF,
    reported with the function and the operation."""
    program = parse(regression("latent-unlocked-munmap.pte"))
    for impl in ("postfix", "prefix"):
        out = impls.run(impl, program)
        assert [(b.signature_class, b.function, b.op) for b in out.bugs] == [
            ("use-after-free:anon_vma", "remove_anon_migration_ptes", 2)
        ]
        assert out.results[2] == 1 and out.results[3] == 0


def test_page_lock_anon_vma_inside_rcu_sees_a_type_stable_anon_vma() -> None:
    """A reader that entered page_lock_anon_vma's RCU section before the free spins on the
    lock while the last vma is unlinked: the grace period cannot end under it, so taking the
    (freed, type-stable) lock is no error; an access after it left would be."""
    kernel, mm = booted()
    _, vma = written(kernel)
    anon_vma = vma.anon_vma
    assert anon_vma is not None
    page = kernel.pfn_to_page(mm.pte(A).pfn)  # type: ignore[union-attr]
    got: dict[str, object] = {}

    def reader() -> KGen[None]:
        got["av"] = yield from kernel.page_lock_anon_vma(page)
        kernel.unlock(anon_vma.lock)

    def unlinker() -> KGen[None]:
        yield Acquire("test", anon_vma.lock)  # hold the lock so the reader spins
        yield Preempt("test")
        anon_vma.vmas.clear()
        kernel.unlock(anon_vma.lock)
        kernel.anon_vma_free(anon_vma)
        yield Preempt("test")

    tasks = [
        Task(0, "unlinker", unlinker(), Preempt("u")),
        Task(1, "reader", reader(), Preempt("r")),
    ]
    scheduler = Scheduler(lambda t: setattr(kernel, "current", t), lambda s: None)
    scheduler.run(tasks, (0, 0, 1, 0, 0, 1))
    assert got["av"] is anon_vma and anon_vma.freed
    assert kernel.bugs == []
    kernel.check_anon_vma(anon_vma, "later")  # every reader has left: the memory may be gone
    assert classes(kernel) == [("use-after-free:anon_vma", "later")]


# -- LRU isolation ----------------------------------------------------------------------------


def test_isolate_lru_page_has_one_winner() -> None:
    kernel, mm = booted()
    written(kernel)
    page = kernel.pfn_to_page(mm.pte(A).pfn)  # type: ignore[union-attr]
    assert page.lru
    assert kernel.isolate_lru_page(page) == 0 and not page.lru
    assert kernel.isolate_lru_page(page) == -ERRNO["EBUSY"]
    kernel.putback_lru_pages([page])
    assert page.lru and page.refcount == 1


def test_move_pages_of_a_page_someone_isolated_is_ebusy() -> None:
    kernel, mm = booted()
    written(kernel)
    page = kernel.pfn_to_page(mm.pte(A).pfn)  # type: ignore[union-attr]
    assert kernel.isolate_lru_page(page) == 0  # a pageout (or another migration) has it
    assert drive(kernel, kernel.sys_move_pages(mm, A, 1, False)) == -ERRNO["EBUSY"]
    assert page.node == 0 and mm.pte(A).pfn == page.pfn  # type: ignore[union-attr]


def test_migrate_racing_pageout_agrees_on_every_schedule() -> None:
    """The program behind the old `pte-writable` false positive: both operations used to hold
    the page at once, each making the other fail. isolate_lru_page lets only one of them have
    it, so the outcomes are the ones the spec allows."""
    program = parse(
        "swapon 2\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\n"
        "parallel {\n  thread { migrate p0 0x1000 1 }\n  thread { pageout p0 0x1000 }\n}\n"
        "fault p0 0x1000 read\n"
    )
    report = explore(program, ["postfix"], preemption_bound=3).impl("postfix")
    assert report.complete and report.schedules > 100
    assert report.agreeing == report.schedules


# -- fidelity corrections ---------------------------------------------------------------------


def test_two_migrations_leave_rss_as_it_was() -> None:
    """442c9137: migration neither decrements nor increments rss."""
    kernel, mm = booted()
    written(kernel)
    assert mm.anon_rss == 1
    assert drive(kernel, kernel.sys_move_pages(mm, A, 1, False)) == 1
    assert drive(kernel, kernel.sys_move_pages(mm, A, 0, False)) == 0
    assert (mm.anon_rss, mm.file_rss) == (1, 0)


def test_rss_drift_of_a_copied_migration_entry_is_an_i8_violation_in_rss_runs() -> None:
    """Latent after 442c9137: fork copies a migration entry without counting it and the restore
    does not count it either, so the child's anon_rss is one low. Checked with WITH_RSS."""
    program = parse(regression("latent-rss-fork-migration.pte"))
    with_rss = impls.run("postfix", program, check_invariants=WITH_RSS)
    assert {v.name for v in with_rss.violations} == {"I8"}
    assert "p1: anon_rss 0" in with_rss.violations[0].detail
    assert impls.run("postfix", program).violations == []


def test_vm_locked_makes_migration_fail_with_eperm_and_restores_the_ptes() -> None:
    """try_to_unmap refuses an mlocked vma for migration too (SWAP_FAIL), and unmap_and_move
    makes that a permanent -EPERM (6c5240ae) after putting back the entries it made."""
    kernel, mm = booted()
    written(kernel)
    fork = drive(kernel, kernel.do_fork(mm, "p1"))
    assert fork == 0
    child = kernel.procs["p1"]
    child.vmas[0].flags |= VM_LOCKED  # no DSL op sets it yet: as mlock would
    assert drive(kernel, kernel.sys_move_pages(mm, A, 1, False)) == -ERRNO["EPERM"]
    for proc in (mm, child):
        pte = proc.pte(A)
        assert isinstance(pte, PresentPte) and kernel.pfn_to_page(pte.pfn).node == 0
    assert kernel.bugs == []


def test_move_pages_migrates_a_prot_none_page_and_a_hole_below_a_vma_is_enoent() -> None:
    kernel, mm = booted()
    written(kernel)
    assert drive(kernel, kernel.sys_mprotect(mm, A, 1, Prot.NONE)) == 0
    assert drive(kernel, kernel.sys_move_pages(mm, A, 1, False)) == 1
    mapped(kernel, mm, 0x8000)
    assert drive(kernel, kernel.sys_move_pages(mm, 0x5000, 1, False)) == -ERRNO["ENOENT"]
    assert drive(kernel, kernel.sys_move_pages(mm, 0x9000, 1, False)) == -ERRNO["EFAULT"]


def copy_pte_range_steps(npages: int) -> int:
    """How many scheduling points fork's copy_pte_range offers for `npages` written pages."""
    text = f"map p0 0x1000 {npages} rw\n"
    text += "".join(f"fault p0 {0x1000 * (i + 1):#x} write 1\n" for i in range(npages))
    text += "parallel {\n  thread { fork p0 p1 }\n  thread { map p0 0x100000 1 r }\n}\n"
    out = impls.run("postfix", parse(text))
    return sum(1 for step in out.trace if step.function == "copy_pte_range")


def test_copy_pte_range_breaks_its_locks_only_at_the_batch_limit() -> None:
    """4 copied ptes cost 32: one batch (two lock acquisitions); the 5th starts a second."""
    assert copy_pte_range_steps(1) == copy_pte_range_steps(4) == 2
    assert copy_pte_range_steps(5) == 4


def test_zap_moves_the_dirty_bit_only_to_file_pages() -> None:
    kernel, mm = booted()
    written(kernel)
    page = kernel.pfn_to_page(mm.pte(A).pfn)  # type: ignore[union-attr]
    assert drive(kernel, kernel.do_fork(mm, "p1")) == 0  # the child keeps the page alive
    kernel.pte_alloc(mm, A).ptes[A] = mm.pte(A).mkdirty()  # type: ignore[union-attr]
    drive(kernel, kernel.do_munmap(mm, A, 1))
    assert not page.freed and not page.dirty


def test_an_unreadable_swap_slot_is_vm_fault_oom_and_kills_the_task() -> None:
    kernel, mm = booted()
    assert drive(kernel, kernel.sys_swapon(2, None)) == 0
    mapped(kernel, mm, A)
    # A swap pte whose slot holds no swap count: read_swap_cache_async cannot read it.
    kernel.pte_alloc(mm, A).ptes[A] = SwapPte(kernel.enc.swp_entry(0, 2))
    assert drive(kernel, kernel.user_access(mm, A, False, 0)) == SIGKILL
    assert kernel.bugs == []


def test_a_pin_whose_fault_is_vm_fault_oom_gives_enomem() -> None:
    """get_user_pages returns -ENOMEM when handle_mm_fault says VM_FAULT_OOM on the first
    page, rather than faulting again for ever."""
    kernel, mm = booted()
    assert drive(kernel, kernel.sys_swapon(2, None)) == 0
    mapped(kernel, mm, A)
    kernel.pte_alloc(mm, A).ptes[A] = SwapPte(kernel.enc.swp_entry(0, 2))
    assert drive(kernel, kernel.get_user_pages(mm, A, True)) == -ERRNO["ENOMEM"]
    assert kernel.bugs == []


# -- BUGs, secondary classes, classification ---------------------------------------------------


def test_classes_after_the_first_bug_are_marked_secondary() -> None:
    text = regression("fix1.pte") + "munmap p2 0x1000 1\n"
    judgement = check(parse(text), "prefix-anon-vma-head")
    divergence = judgement.divergence
    assert divergence is not None and divergence.deadlock is not None
    assert "kernel-bug:migration_entry_to_page" not in divergence.secondary
    assert {"deadlock", "result:munmap"} <= divergence.secondary
    assert "orphan-migration-entry" not in divergence.secondary  # it came first


def test_a_divergence_both_models_share_is_latent() -> None:
    program = parse(regression("latent-unlocked-munmap.pte"))
    post, pre = check(program, "postfix"), check(program, "prefix")
    assert classify(post, pre) == "latent"
    fix1 = parse(regression("fix1.pte"))
    assert classify(check(fix1, "postfix"), check(fix1, "prefix")) == "fixed"


def test_a_program_without_parallel_blocks_has_no_lifetime_reports_on_postfix() -> None:
    program = parse(
        "swapon 2\nmap p0 0x1000 2 rw\nfault p0 0x1000 write 1\nfork p0 p1\n"
        "migrate p0 0x1000 1\npageout p1 0x1000\nfault p0 0x1000 write 2\n"
        "munmap p0 0x1000 2\nexit p1\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 3\n"
    )
    out = impls.run("postfix", program, check_invariants=WITH_RSS)
    assert out.bugs == [] and out.violations == [] and out.deadlock is None
    assert isinstance(program, Program)


def test_every_report_of_an_unlocked_program_says_it_has_no_2006_caller() -> None:
    from ptediff.report.divergence import format_divergence

    program = parse(regression("latent-unlocked-munmap.pte"))
    text = format_divergence(program, check(program, "postfix"), "postfix")
    assert "No 2006 kernel had such a caller" in text
    assert "use-after-free:anon_vma" in text and "remove_anon_migration_ptes" in text
    locked = parse(regression("fix1.pte"))
    assert "No 2006 kernel" not in format_divergence(locked, check(locked, "prefix"), "prefix")


def test_a_latent_rss_drift_on_postfix_does_not_make_a_fix_look_incomplete() -> None:
    """With the rss invariant, postfix shows I8 in fix 3's race too; classified by the
    finding's class, the fix is still `fixed` and the drift itself `latent`."""
    from ptediff.judge.check import check as judged

    program = parse(regression("fix3-unlocked.pte"))
    post = judged(program, "postfix", check_invariants=WITH_RSS)
    pre = judged(program, "prefix", check_invariants=WITH_RSS)
    assert "invariant:I8" in post.signatures_classes
    assert classify(post, pre) == "fix-incomplete"
    assert classify(post, pre, cls="shared-writable") == "fixed"
    assert classify(post, pre, cls="invariant:I8") == "latent"


def test_an_orphan_entry_and_its_frames_new_owner_are_two_frames() -> None:
    """Frames up to renaming under reuse: p2's orphan names the pfn p0's new page now has,
    yet they are different pages, and the snapshot says so."""
    out = impls.run("prefix-anon-vma-head", parse(regression("fix1-frame-reuse.pte")))
    orphan, owner = out.state[("p2", A)], out.state[("p0", A)]
    assert orphan.kind == "migration" and owner.kind == "present"
    assert orphan.frame != owner.frame
    assert out.state[("p1", A)].frame == owner.frame  # the real sharing is kept
