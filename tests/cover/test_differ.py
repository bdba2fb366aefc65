"""The differ on hand-made outcomes: renaming, every signature class, closest outcome, classify."""

from __future__ import annotations

import pytest
from ptediff.core.outcome import ERRNO, BugReport, Outcome, PteState, Violation
from ptediff.core.program import SIGSEGV
from ptediff.dsl.parse import parse
from ptediff.judge.classify import classify, same_outcome
from ptediff.judge.differ import Judgement, judge
from ptediff.judge.signature import Signature, matches, ordered

A, B = 0x1000, 0x2000
PROGRAM = parse("""
    map      p0 0x1000 2 rw
    fault    p0 0x1000 write 0x1
    fork     p0 p1
    fault    p1 0x1000 read
    swapon   2
    mprotect p0 0x2000 1 r
""")  # op ids: 0 map, 1 fault, 2 fork, 3 read, 4 swapon, 5 mprotect
RESULTS = {0: 0, 1: 0, 2: 0, 3: 1, 4: 0, 5: 0}
PROT = {("p0", A): "rw", ("p0", B): "r", ("p1", A): "rw", ("p1", B): "rw"}


def present(frame: int, writable: bool = False, node: int = 0, data: int = 1) -> PteState:
    return PteState("present", writable, frame, node, data)


def outcome(state: dict, results: dict | None = None, **extra: object) -> Outcome:
    full = {("p0", A): present(10), ("p0", B): PteState("none"),
            ("p1", A): present(10), ("p1", B): PteState("none")}
    full.update(state)
    return Outcome(results=dict(RESULTS if results is None else results), state=full,
                   vma_prot=dict(PROT), **extra)  # type: ignore[arg-type]


SPEC = outcome({})


def classes(judgement: Judgement) -> list[str]:
    return [s.cls for s in judgement.signatures]


def test_frames_are_compared_up_to_renaming() -> None:
    renamed = outcome({("p0", A): present(777), ("p1", A): present(777)})
    judgement = judge(PROGRAM, [SPEC], renamed)
    assert judgement.agrees and judgement.matched is SPEC and judgement.signatures == ()


def test_sharing_difference() -> None:
    split = outcome({("p0", A): present(1), ("p1", A): present(2)})
    judgement = judge(PROGRAM, [SPEC], split)
    assert classes(judgement) == ["sharing"]
    rows = judgement.divergence.pte_rows  # type: ignore[union-attr]
    assert [(r.key, r.fields) for r in rows] == [(("p0", A), ("sharing",)),
                                                 (("p1", A), ("sharing",))]
    assert (rows[0].spec_frame, rows[1].spec_frame) == ("P0", "P0")
    assert (rows[0].model_frame, rows[1].model_frame) == ("P0", "P1")


def test_swap_slots_and_page_frames_are_separate_name_spaces() -> None:
    spec = outcome({("p0", B): PteState("swap", False, 5, None, 3, 0)})
    same_number = outcome({("p0", A): present(5), ("p1", A): present(5),
                           ("p0", B): PteState("swap", False, 5, None, 3, 0)})
    assert judge(PROGRAM, [spec], same_number).agrees


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({("p1", A): PteState("none")}, "pte-kind"),
        ({("p1", B): PteState("swap", False, 4, None, 0, 0)}, "pte-kind"),
        ({("p0", A): present(10, node=1), ("p1", A): present(10, node=1)}, "node"),
        ({("p0", A): present(10, data=9), ("p1", A): present(10, data=9)}, "data"),
    ],
)
def test_state_classes(change: dict, expected: str) -> None:
    judgement = judge(PROGRAM, [SPEC], outcome(change))
    assert classes(judgement) == [expected]
    assert judgement.signatures[0].op is None  # no checkpoints: unknown first op


def test_pte_writable_class() -> None:
    spec = outcome({("p0", A): present(10), ("p1", A): present(11, writable=True)})
    model = outcome({("p0", A): present(10), ("p1", A): present(11)})
    assert classes(judge(PROGRAM, [spec], model)) == ["pte-writable"]


def test_swap_device_class() -> None:
    spec = outcome({("p0", B): PteState("swap", False, 5, None, 3, 0)})
    model = outcome({("p0", B): PteState("swap", False, 5, None, 3, 1)})
    assert classes(judge(PROGRAM, [spec], model)) == ["swap-device"]


def test_orphan_migration_entry() -> None:
    model = outcome({("p1", B): PteState("migration", False, 99)})
    assert classes(judge(PROGRAM, [SPEC], model)) == ["orphan-migration-entry", "pte-kind"]


def test_shared_writable_is_primary_over_the_writable_bit() -> None:
    model = outcome({("p0", A): present(10, writable=True), ("p1", A): present(10, True)})
    assert classes(judge(PROGRAM, [SPEC], model)) == ["shared-writable", "pte-writable"]


def test_writable_in_readonly_vma() -> None:
    spec = outcome({("p0", B): present(3)})
    model = outcome({("p0", B): present(3, writable=True)})
    assert classes(judge(PROGRAM, [spec], model)) == ["writable-in-readonly-vma", "pte-writable"]


def test_result_classes_carry_their_op() -> None:
    model = outcome({}, {**RESULTS, 3: SIGSEGV, 4: -ERRNO["EPERM"]})
    judgement = judge(PROGRAM, [SPEC], model)
    assert judgement.signatures == (Signature("result:fault", 3), Signature("result:swapon", 4))
    rows = judgement.divergence.result_rows  # type: ignore[union-attr]
    assert [(r.op, r.kind, r.line, r.spec, r.model) for r in rows] == [
        (3, "fault", 5, 1, SIGSEGV), (4, "swapon", 6, 0, -ERRNO["EPERM"])]


def test_a_read_of_another_value_is_data() -> None:
    model = outcome({}, {**RESULTS, 3: 7})
    assert judge(PROGRAM, [SPEC], model).signatures == (Signature("data", 3),)


def test_kernel_bug_deadlock_and_invariant() -> None:
    model = outcome(
        {},
        {k: v for k, v in RESULTS.items() if k != 5},
        bugs=[BugReport("migration_entry_to_page", "unlocked", 3)],
        violations=[Violation("I3", "mapcount", 2)],
        deadlock="thread 0 waits for the page lock",
    )
    judgement = judge(PROGRAM, [SPEC], model)
    assert judgement.signatures == (
        Signature("kernel-bug:migration_entry_to_page", 3),
        Signature("deadlock", 5),
        Signature("result:mprotect", 5),
        Signature("invariant:I3", 2),
    )
    assert judgement.divergence.primary.cls == "kernel-bug:migration_entry_to_page"  # type: ignore[union-attr]


def test_bugs_alone_are_a_divergence_even_when_the_state_matches() -> None:
    model = outcome(
        {}, bugs=[BugReport("remove_migration_pte", "leaked pte mapping", 2, kind="kmap-leak")]
    )
    judgement = judge(PROGRAM, [SPEC], model)
    assert not judgement.agrees
    assert classes(judgement) == ["kmap-leak:remove_migration_pte"]
    assert judgement.divergence.pte_rows == ()  # type: ignore[union-attr]


def test_the_allowance_of_the_matching_outcome_is_reported() -> None:
    plain = outcome({})
    allowed = outcome({("p0", A): present(10, node=1), ("p1", A): present(10, node=1)},
                      allowances=frozenset({"migrate-busy"}))
    judgement = judge(PROGRAM, [plain, allowed], outcome({("p0", A): present(4, node=1),
                                                          ("p1", A): present(4, node=1)}))
    assert judgement.agrees and judgement.allowances == {"migrate-busy"}
    assert judge(PROGRAM, [plain, allowed], outcome({})).allowances == frozenset()


def test_the_fewest_allowances_win_among_equal_matches() -> None:
    with_allowance = outcome({}, allowances=frozenset({"pageout-busy"}))
    judgement = judge(PROGRAM, [with_allowance, outcome({})], outcome({}))
    assert judgement.allowances == frozenset()


def test_divergence_is_reported_against_the_closest_outcome() -> None:
    far = outcome({("p0", A): present(1, True, 1, 5), ("p1", A): present(2, True, 1, 6)},
                  {**RESULTS, 3: 6})
    near = outcome({("p0", A): present(10, data=2), ("p1", A): present(10, data=2)},
                   {**RESULTS, 3: 2})
    model = outcome({("p0", A): present(10, data=2), ("p1", A): present(10, data=3)},
                    {**RESULTS, 3: 2})
    judgement = judge(PROGRAM, [far, near], model)
    assert judgement.divergence is not None and judgement.divergence.closest is near
    assert [(r.key, r.fields) for r in judgement.divergence.pte_rows] == [
        (("p1", A), ("data",))]


def test_checkpoints_locate_the_first_op_of_a_state_class() -> None:
    steps = len(PROGRAM.steps)
    good = [dict(SPEC.state) for _ in range(steps)]
    bad = [dict(SPEC.state) for _ in range(steps)]
    for later in range(2, steps):  # differs from the fork (step 2, op 2) on
        bad[later][("p1", A)] = present(10, data=9)
    spec = outcome({}, checkpoints=good)
    model = outcome({("p1", A): present(10, data=9)}, checkpoints=bad)
    assert judge(PROGRAM, [spec], model).signatures[0] == Signature("data", 2)


def test_missing_keys_count_as_none() -> None:
    model = outcome({})
    model.state[("p9", A)] = PteState("none")
    assert judge(PROGRAM, [SPEC], model).agrees
    model.state[("p9", A)] = PteState("migration", True, 3)
    assert classes(judge(PROGRAM, [SPEC], model))[0] == "orphan-migration-entry"


@pytest.mark.parametrize(
    ("post_agrees", "pre_agrees", "equal", "expected"),
    [
        (True, False, False, "fixed"),
        (False, False, False, "fix-incomplete"),
        (False, False, True, "spec-gap"),
        (True, True, True, "agree"),
    ],
)
def test_classify(post_agrees: bool, pre_agrees: bool, equal: bool, expected: str) -> None:
    good = outcome({})
    bad = outcome({}, {**RESULTS, 4: -ERRNO["EPERM"]})
    post = judge(PROGRAM, [SPEC], good if post_agrees else bad)
    pre = judge(PROGRAM, [SPEC], good if pre_agrees else bad)
    assert classify(post, pre, equal) == expected


def test_classify_compares_the_outcomes_by_default() -> None:
    bad = outcome({}, {**RESULTS, 4: -ERRNO["EPERM"]})
    renamed = outcome({("p0", A): present(3), ("p1", A): present(3)},
                      {**RESULTS, 4: -ERRNO["EPERM"]})
    assert same_outcome(bad, renamed)
    post, pre = judge(PROGRAM, [SPEC], bad), judge(PROGRAM, [SPEC], renamed)
    assert classify(post, pre) == "spec-gap"
    other = judge(PROGRAM, [SPEC], outcome({}, {**RESULTS, 3: 5}))
    assert classify(post, other) == "fix-incomplete"


def test_signature_helpers() -> None:
    sigs = ordered([Signature("data", 4), Signature("result:fault", 6), Signature("data", 2),
                    Signature("kernel-bug:f", None)])
    assert [str(s) for s in sigs] == ["kernel-bug:f", "result:fault@6", "data@2"]
    assert matches("kernel-bug", Signature("kernel-bug:sys_swapon"))
    assert matches("result:swapon", Signature("result:swapon", 3))
    assert not matches("data", Signature("data-x"))
    assert not matches("result:fault", Signature("result:swapon"))
