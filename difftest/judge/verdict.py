"""A program's own expectations — its `expect` lines and `=> RESULT`s — checked for one impl.

* Every `=> RESULT` must hold in every outcome the spec allows; if not, the file (or the spec)
  is wrong and `SpecError` names the line.
* `expect IMPL agrees`: the implementation agrees with the spec and meets every `=>`.
* `expect IMPL diverges SIG...`: it diverges, and every listed signature class is among its
  signatures (a bare `kernel-bug`, `result` or `invariant` matches any class of that family).
  A broken `=>` is part of the divergence, not a failure of its own.
* No `expect` line for the implementation: `postfix` is expected to agree; any other is only
  reported (the verdict passes whatever happens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ptediff.core.errors import SpecError
from ptediff.core.outcome import format_result
from ptediff.core.program import HOLDS, Expect, Fault, Op, Pinread, Program, Result, StateCheck
from ptediff.judge.check import ImplRef, check, locate, spec_outcomes
from ptediff.judge.differ import Judgement
from ptediff.judge.signature import CONTRACT, level_of, matches

POSTFIX = "postfix"


@dataclass(frozen=True)
class Miss:
    """A `=> RESULT` that a run did not meet."""

    op: int
    line: int | None
    expected: Result
    got: Result | None

    def describe(self, ops: Sequence[Op]) -> str:
        where = f"line {self.line}" if self.line is not None else f"op {self.op}"
        read = _is_read(ops[self.op])
        if isinstance(ops[self.op], StateCheck):
            found = "no result" if self.got is None else f"the pte is {self.got}"
            return f"{where}: `{_op_text(ops[self.op])}` does not hold: {found}"
        got = "no result" if self.got is None else format_result(self.got, value=read)
        return (f"{where}: `{_op_text(ops[self.op])}` expected "
                f"{format_result(self.expected, value=read)}, got {got}")


@dataclass(frozen=True)
class Verdict:
    impl: str
    expected: Literal["agrees", "diverges"] | None  # None: no verdict expected, just a report
    passed: bool
    judgement: Judgement
    messages: tuple[str, ...]  # why it failed (or notes when it passed)
    expect: Expect | None = None  # the expect line that applied, if any
    misses: tuple[Miss, ...] = ()  # `=>` the implementation did not meet


def evaluate(
    program: Program,
    impl: ImplRef,
    *,
    judgement: Judgement | None = None,
    check_invariants: bool | str = True,
    locate_ops: bool = True,
    level: str = "all",
) -> Verdict:
    """Check `program`'s expectations for one implementation (run it unless `judgement` is
    given). Raises SpecError when a `=>` does not hold in the spec itself."""
    check_spec_expectations(program)
    name = impl_name(impl)
    if judgement is None:
        judgement = check(program, impl, check_invariants=check_invariants, level=level)
        if locate_ops and not judgement.agrees:
            judgement = locate(program, impl, judgement, check_invariants=check_invariants,
                               level=level)
    expect = expectation_for(program, name)
    misses = tuple(broken_expectations(program, judgement.outcome.results))
    ops = program.ops()
    if expect is None and name != POSTFIX:
        return Verdict(name, None, True, judgement, ("no expect line: reported only",), None,
                       misses)
    if expect is None or expect.verdict == "agrees":
        messages: list[str] = []
        if not judgement.agrees:
            found = ", ".join(str(s) for s in judgement.signatures)
            messages.append(f"expected to agree with the spec, but diverges: {found}")
        messages += [miss.describe(ops) for miss in misses]
        return Verdict(name, "agrees", not messages, judgement, tuple(messages), expect, misses)
    return _diverges_verdict(program, name, expect, judgement, misses, level)


def _diverges_verdict(
    program: Program,
    name: str,
    expect: Expect,
    judgement: Judgement,
    misses: tuple[Miss, ...],
    level: str = "all",
) -> Verdict:
    wanted = list(expect.signatures)
    if level == CONTRACT:
        # implementation-level classes are not compared at this level: nothing to check
        unseen = [cls for cls in wanted if level_of(cls) != CONTRACT]
        wanted = [cls for cls in wanted if cls not in unseen]
        if unseen and not wanted and judgement.agrees and not misses:
            note = (f"expected {' '.join(unseen)}: implementation level, not compared at "
                    "--level contract")
            return Verdict(name, "diverges", True, judgement, (note,), expect, misses)
    if judgement.agrees and not misses:
        asked = " ".join(expect.signatures) or "a divergence"
        return Verdict(name, "diverges", False, judgement,
                       (f"expected to diverge ({asked}), but agrees with the spec",),
                       expect, misses)
    missing = [cls for cls in wanted
               if not any(matches(cls, sig) for sig in judgement.signatures)]
    if missing:
        found = ", ".join(str(s) for s in judgement.signatures) or "none"
        message = f"diverges, but without {', '.join(missing)} (signatures: {found})"
        return Verdict(name, "diverges", False, judgement, (message,), expect, misses)
    return Verdict(name, "diverges", True, judgement, (), expect, misses)


def evaluate_program(program: Program, impls: Sequence[ImplRef] | None = None) -> list[Verdict]:
    """Verdicts for the implementations named by the program's `expect` lines (or `impls`)."""
    chosen: Sequence[ImplRef] = (
        impls if impls is not None else list(dict.fromkeys(e.impl for e in program.expects))
    )
    return [evaluate(program, impl) for impl in chosen]


def expectation_for(program: Program, impl: str) -> Expect | None:
    return next((e for e in program.expects if e.impl == impl), None)


def impl_name(impl: ImplRef) -> str:
    if isinstance(impl, str):
        return impl
    return getattr(impl, "NAME", "") or f"{impl.__module__}:{impl.__qualname__}"


def broken_expectations(program: Program, results: Mapping[int, Result]) -> list[Miss]:
    """The `=> RESULT`s that `results` does not meet."""
    misses = []
    for op_id, op in enumerate(program.ops()):
        wanted = HOLDS if isinstance(op, StateCheck) else op.expect
        if wanted is None:
            continue
        got = results.get(op_id)
        if got != wanted or type(got) is not type(wanted):
            misses.append(Miss(op_id, op.pos.line if op.pos else None, wanted, got))
    return misses


def check_spec_expectations(program: Program) -> None:
    """Raise SpecError naming the first `=>` that some allowed spec outcome does not meet."""
    if not any(op.expect is not None or isinstance(op, StateCheck) for op in program.ops()):
        return
    ops = program.ops()
    for outcome in spec_outcomes(program):
        misses = broken_expectations(program, outcome.results)
        if misses:
            allowances = ", ".join(sorted(outcome.allowances))
            how = f" (with allowance {allowances})" if allowances else ""
            raise SpecError(
                f"{misses[0].describe(ops)} in an outcome the spec allows{how}: "
                "the expectation or the spec is wrong"
            )


def _is_read(op: Op) -> bool:
    return (isinstance(op, Fault) and not op.write) or isinstance(op, Pinread)


def _op_text(op: Op) -> str:
    """The operation as written (with its `=> RESULT`)."""
    try:
        from ptediff.dsl.printer import format_op
    except ImportError:  # the printer is optional here: fall back to the op's kind
        return op.KIND
    return format_op(op)
