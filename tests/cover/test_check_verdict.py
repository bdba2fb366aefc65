"""`ptediff.judge.check` (spec + model + differ), `ptediff.judge.verdict` (expect lines, `=>`)."""

from __future__ import annotations

import pytest
from ptediff import spec
from ptediff.core.errors import ImplLoadError, SpecError
from ptediff.core.outcome import Outcome
from ptediff.dsl.parse import parse
from ptediff.judge import check as check_module
from ptediff.judge.check import check, check_located, locate, spec_outcomes
from ptediff.judge.differ import Judgement, judge
from ptediff.judge.verdict import broken_expectations, evaluate, evaluate_program

SWAPON_LIMIT = """
config swap_bits=2
expect postfix agrees
expect prefix-swapon-range diverges result:swapon kernel-bug
swapon 1
swapon 1
swapon 1 => -EPERM
"""


def test_spec_outcomes_are_cached_per_program(monkeypatch: pytest.MonkeyPatch) -> None:
    check_module.clear_cache()
    calls: list[bool] = []
    real_run = spec.run

    def counting_run(program: object, *, checkpoints: bool = False) -> list[Outcome]:
        calls.append(checkpoints)
        return real_run(program, checkpoints=checkpoints)  # type: ignore[arg-type]

    monkeypatch.setattr(check_module.spec, "run", counting_run)
    program = parse(SWAPON_LIMIT)
    assert spec_outcomes(program) is spec_outcomes(parse(SWAPON_LIMIT))
    spec_outcomes(program, checkpoints=True)
    assert calls == [False, True]


def test_check_runs_both_sides_and_judges() -> None:
    program = parse(SWAPON_LIMIT)
    assert check(program, "postfix").agrees
    diverging = check(program, "prefix-swapon-range")
    assert [str(s) for s in diverging.signatures[:2]] == ["kernel-bug:sys_swapon@2",
                                                          "result:swapon@2"]


def test_check_accepts_a_kernel_class_and_rejects_unknown_names() -> None:
    from ptediff import impls

    assert check(parse(SWAPON_LIMIT), impls.REGISTRY["postfix"]).agrees
    with pytest.raises(ImplLoadError):
        check(parse(SWAPON_LIMIT), "no-such-kernel")


def test_locate_fills_in_the_first_op_of_state_classes() -> None:
    program = parse("""
        config swap_bits=2
        map    p0 0x1000 1 rw
        fault  p0 0x1000 write 0x1
        swapon 1
        swapon 1
        swapon 1
        fault  p0 0x1000 write 0x2
    """)
    plain = check(program, "prefix-swapon-range")
    located = locate(program, "prefix-swapon-range", plain)
    assert located.signatures[0].op == 4
    assert located.outcome.checkpoints is not None
    agreeing = check(program, "postfix")
    assert locate(program, "postfix", agreeing) is agreeing
    assert check_located(program, "postfix").agrees


def test_expected_agreement_passes() -> None:
    verdict = evaluate(parse(SWAPON_LIMIT), "postfix")
    assert verdict.passed and verdict.expected == "agrees" and verdict.messages == ()


def test_expected_divergence_with_its_signatures_passes_despite_a_broken_result() -> None:
    verdict = evaluate(parse(SWAPON_LIMIT), "prefix-swapon-range")
    assert verdict.passed and verdict.expected == "diverges"
    assert [m.op for m in verdict.misses] == [2]  # the `=> -EPERM` it breaks
    assert verdict.judgement.divergence is not None


def test_a_missing_signature_fails_the_verdict() -> None:
    text = SWAPON_LIMIT.replace("result:swapon kernel-bug", "shared-writable")
    verdict = evaluate(parse(text), "prefix-swapon-range")
    assert not verdict.passed
    assert "without shared-writable" in verdict.messages[0]


def test_an_impl_expected_to_diverge_that_agrees_fails() -> None:
    text = SWAPON_LIMIT.replace("expect postfix agrees", "expect postfix diverges")
    verdict = evaluate(parse(text), "postfix")
    assert not verdict.passed and "agrees with the spec" in verdict.messages[0]


def test_an_impl_expected_to_agree_that_diverges_fails() -> None:
    text = SWAPON_LIMIT.replace("expect prefix-swapon-range diverges result:swapon kernel-bug",
                                "expect prefix-swapon-range agrees")
    verdict = evaluate(parse(text), "prefix-swapon-range")
    assert not verdict.passed
    assert "kernel-bug:sys_swapon" in verdict.messages[0]
    assert any("line 7" in m and "expected -EPERM, got 0" in m for m in verdict.messages)


def test_no_expect_line_postfix_must_agree_others_are_only_reported() -> None:
    program = parse("config swap_bits=2\nswapon 1\nswapon 1\nswapon 1\n")
    assert evaluate(program, "postfix").expected == "agrees"
    other = evaluate(program, "prefix-swapon-range")
    assert other.expected is None and other.passed and not other.judgement.agrees


def test_a_given_judgement_is_used_as_is() -> None:
    program = parse(SWAPON_LIMIT)
    fake = Outcome(results={0: 0, 1: 0, 2: 0})  # the third swapon wrongly succeeds
    judgement = judge(program, spec_outcomes(program), fake)
    verdict = evaluate(program, "postfix", judgement=judgement)
    assert verdict.judgement is judgement and not verdict.passed
    assert [m.op for m in verdict.misses] == [2]


def test_an_expectation_the_spec_breaks_is_a_spec_error_naming_the_line() -> None:
    program = parse("""
        map   p0 0x1000 1 rw
        fault p0 0x1000 write 0x5
        fault p0 0x1000 read => 0x6
    """)
    message = r"line 4: `fault p0 0x1000 read => 0x6` expected 0x6, got 0x5"
    with pytest.raises(SpecError, match=message):
        evaluate(program, "postfix", judgement=Judgement(Outcome()))


def test_an_expectation_must_hold_in_every_allowed_outcome() -> None:
    program = parse("""
        map p0 0x1000 1 rw
        parallel {
          thread { fault p0 0x1000 write 0x1 }
          thread { fault p0 0x1000 read => 0x1 }
        }
    """)
    with pytest.raises(SpecError, match="expected 0x1, got 0x0"):
        evaluate(program, "postfix")


def test_broken_expectations_compare_result_types() -> None:
    program = parse("map p0 0x1000 1 r\nfault p0 0x1000 write 1 => SIGSEGV")
    assert broken_expectations(program, {0: 0, 1: "SIGSEGV"}) == []
    assert [m.got for m in broken_expectations(program, {0: 0})] == [None]


def test_evaluate_program_follows_the_expect_lines() -> None:
    verdicts = evaluate_program(parse(SWAPON_LIMIT))
    assert [(v.impl, v.passed) for v in verdicts] == [("postfix", True),
                                                      ("prefix-swapon-range", True)]
