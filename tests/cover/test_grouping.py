"""Findings grouped by root cause (`ptediff.search.grouping`), on the seven classes a long
prefix hunt reports for the four folded fixes (their minimal programs, as the hunt left them)."""

from __future__ import annotations

import pytest
from ptediff.dsl.parse import parse
from ptediff.judge.check import check_located
from ptediff.search.findings import Finding, ProgramSize
from ptediff.search.grouping import SAME_CHANGE, SAME_SITE, SHOWN, group_findings, root_causes

RACE = (
    "map      p0 0x1000 1 rw\n"
    "fault    p0 0x1000 write 0x1\n"
    "parallel {\n"
    "  thread { %s }\n"
    "  thread { %s }\n"
    "} schedule %s\n"
)
FIX1 = RACE % ("fork p0 p1", "migrate p0 0x1000 1 unlocked", "0 0 0 0 1 1 1 1 1 1 1")
FIX3 = RACE % ("migrate p0 0x1000 1 unlocked", "fork p0 p1", "0 0 0 0 0 1 1 1 1 1 1")
PREFIX_HUNT = [
    ("kmap-leak:remove_migration_pte",
     "config highpte=on\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nmigrate p0 0x1000 1\n"),
    ("kernel-bug:sys_swapon", "config swap_bits=2\nswapon 1\nswapon 1\nswapon 1\n"),
    ("orphan-migration-entry", FIX1),
    ("pte-writable",
     "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nfork p0 p1\nfork p0 p2\nexit p0\n"
     "parallel {\n thread { migrate p2 0x1000 1 }\n thread { fork p1 p3 }\n}"
     " schedule 0 0 0 0 0 0 0 1 1 1 1 1 1\nmunmap p2 0x1000 1\nexit p1\n"),
    ("shared-writable", FIX3),
    ("use-after-free:page", FIX1 + "migrate  p0 0x1000 0\n"),
    ("writable-in-readonly-vma",
     FIX3.replace("parallel", "mprotect p0 0x1000 1 r\nparallel", 1) + "munmap p0 0x1000 1\n"),
]


def finding(impl: str, cls: str, text: str, order: int) -> Finding:
    program = parse(text)
    judgement = check_located(program, impl, check_invariants=False)
    assert judgement.divergence is not None and judgement.divergence.primary.cls == cls
    return Finding(impl, cls, judgement.divergence.primary.op, 100 * (order + 1), order + 1.0,
                   program, program, judgement, ProgramSize.of(program, 0), "threads")


@pytest.fixture(scope="module")
def prefix_findings() -> list[Finding]:
    return [finding("prefix", cls, text, i) for i, (cls, text) in enumerate(PREFIX_HUNT)]


def test_seven_classes_on_prefix_are_four_bugs(prefix_findings: list[Finding]) -> None:
    bugs = group_findings(prefix_findings)
    assert [bug.classes for bug in bugs] == [
        ["kmap-leak:remove_migration_pte"],
        ["kernel-bug:sys_swapon"],
        ["use-after-free:page", "orphan-migration-entry"],
        ["shared-writable", "pte-writable", "writable-in-readonly-vma"],
    ]
    fix1, fix3 = bugs[2], bugs[3]
    assert fix1.reasons == {
        "orphan-migration-entry": f"{SHOWN} use-after-free:page"
    }
    assert fix3.reasons == {
        "pte-writable": f"{SHOWN} shared-writable",
        "writable-in-readonly-vma": f"{SAME_SITE} shared-writable",
    }
    assert fix1.first.signature == "orphan-migration-entry"  # found before its lead
    assert fix3.symptoms[:2] == ["shared-writable", "writable-in-readonly-vma"]


def test_a_low_ranked_class_joins_one_bug_only(prefix_findings: list[Finding]) -> None:
    # pte-writable shows in the fix-1 race too; it joins the bug that first shows in the same
    # kernel function (sys_move_pages), and does not chain fix 1 to fix 3.
    bugs = group_findings(prefix_findings)
    owners = [bug.lead.signature for bug in bugs if "pte-writable" in bug.classes]
    assert owners == ["shared-writable"]


def test_each_implementation_is_grouped_on_its_own(prefix_findings: list[Finding]) -> None:
    fix1 = [finding("prefix-anon-vma-head", "orphan-migration-entry", FIX1, 0)]
    bugs = group_findings([*fix1, *prefix_findings[2:3]])
    assert [(bug.impl, bug.classes) for bug in bugs] == [
        ("prefix-anon-vma-head", ["orphan-migration-entry"]),
        ("prefix", ["orphan-migration-entry"]),
    ]
    assert group_findings([]) == []


# A second class of fix 1 on its own variant (found by a hunt of every model): the vma order
# fix 1 reverts makes a concurrent migration miss p0's page (-ENOENT where the spec moves it).
FIX1_MIGRATE = (
    "map      p0 0x1000 1 rw\n"
    "fault    p0 0x1000 write 0x1\n"
    "fork     p0 p1\n"
    "parallel {\n"
    "  thread {\n"
    "    fault    p1 0x1000 write 0x2\n"
    "    migrate  p0 0x1000 0\n"
    "  }\n"
    "  thread { migrate p1 0x1000 1 }\n"
    "} schedule 0 0 0 0" + " 1" * 82 + " 0" * 10 + " 1\n"
)
FIX1_TEXT = "fix 1: anon_vma lists insert at the head (list_add), not the tail"


def test_the_classes_of_one_reverted_fix_are_one_bug() -> None:
    found = [finding("prefix-anon-vma-head", "orphan-migration-entry", FIX1, 0),
             finding("prefix-anon-vma-head", "result:migrate", FIX1_MIGRATE, 1)]
    [bug] = group_findings(found)
    assert bug.classes == ["orphan-migration-entry", "result:migrate"]
    assert bug.reasons == {"result:migrate": f"{SAME_CHANGE} orphan-migration-entry"}
    assert bug.cause == FIX1_TEXT


def test_prefix_bugs_trace_to_the_fix_whose_variant_alone_shows_them(
        prefix_findings: list[Finding]) -> None:
    causes = [bug.cause.split(":")[0] for bug in group_findings(prefix_findings)
              if bug.cause is not None]
    assert causes == ["fix 2", "fix 4", "fix 1", "fix 3"]


def test_a_class_postfix_shows_too_has_no_cause() -> None:
    # the latent unlocked-munmap race: postfix diverges on it as well
    latent = ("map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nparallel {\n"
              "  thread { migrate p0 0x1000 1 unlocked }\n  thread { munmap p0 0x1000 1 }\n"
              "} schedule 0 0 1 1 1 1\n")
    [bug] = group_findings([finding("prefix-anon-vma-head", "use-after-free:anon_vma",
                                    latent, 0)])
    assert bug.cause is None


def test_bugs_of_several_implementations_are_numbered_by_root_cause(
        prefix_findings: list[Finding]) -> None:
    latent = ("map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nparallel {\n"
              "  thread { migrate p0 0x1000 1 unlocked }\n  thread { munmap p0 0x1000 1 }\n"
              "} schedule 0 0 1 1 1 1\n")
    found = [
        *prefix_findings[:3],  # fix 2, fix 4, fix 1 on prefix
        finding("prefix-anon-vma-head", "orphan-migration-entry", FIX1, 3),
        finding("prefix-anon-vma-head", "use-after-free:anon_vma", latent, 4),
        finding("postfix", "use-after-free:anon_vma", latent, 5),
    ]
    bugs = group_findings(found)
    assert [(bug.impl, bug.lead.signature) for bug in bugs] == [
        ("prefix", "kmap-leak:remove_migration_pte"),
        ("prefix", "kernel-bug:sys_swapon"),
        ("prefix", "orphan-migration-entry"),
        ("prefix-anon-vma-head", "orphan-migration-entry"),
        ("prefix-anon-vma-head", "use-after-free:anon_vma"),
        ("postfix", "use-after-free:anon_vma"),
    ]
    # fix 1 on prefix and on its variant is one cause; the latent race on two models another
    assert root_causes(bugs) == [0, 1, 2, 2, 3, 3]


def test_a_latent_class_is_never_a_symptom_of_a_fixed_bug(
        prefix_findings: list[Finding]) -> None:
    from dataclasses import replace

    fix3 = replace(prefix_findings[4], classification="fixed")  # shared-writable
    # pte-writable shows in fix 3's program; marked latent, it stays a bug of its own
    shown = replace(prefix_findings[3], classification="latent")
    bugs = group_findings([fix3, shown])
    assert sorted(bug.classes for bug in bugs) == [["pte-writable"], ["shared-writable"]]


def test_one_latent_class_is_one_root_cause_whatever_the_program() -> None:
    from dataclasses import replace

    latent = ("map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\nparallel {\n"
              "  thread { migrate p0 0x1000 1 unlocked }\n  thread { munmap p0 0x1000 1 }\n"
              "} schedule 0 0 1 1 1 1\n")
    longer = latent.replace("map p0 0x1000 1 rw\n", "map p0 0x1000 1 rw\nmap p0 0x3000 1 rw\n")
    found = [replace(finding("postfix", "use-after-free:anon_vma", latent, 0),
                     classification="latent"),
             replace(finding("prefix", "use-after-free:anon_vma", longer, 1),
                     classification="latent")]
    assert root_causes(group_findings(found)) == [0, 0]
