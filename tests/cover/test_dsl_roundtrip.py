"""Properties of the DSL: printing then parsing gives the same program back, and no text makes
the parser fail with anything but a DslError."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from ptediff.core.errors import DslError
from ptediff.core.outcome import ERRNO
from ptediff.core.program import BUG, SIGSEGV, Expect, Op, Parallel, Program, Result, Step, Thread
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.dsl.syntax import lark_parser
from ptediff.dsl.values import registered_impls
from ptediff.search.strategies import programs

RESULTS: st.SearchStrategy[Result | None] = st.one_of(
    st.none(),
    st.integers(0, 2**64 - 1),
    st.sampled_from([-number for number in ERRNO.values()]),
    st.sampled_from([SIGSEGV, BUG]),
)
SIGNATURES = st.sampled_from(
    [
        *("shared-writable", "orphan-migration-entry", "data", "result:swapon", "invariant:I6"),
        *("kernel-bug:migration_entry_to_page", "kernel-bug:sys_swapon", "deadlock"),
    ]
)
# Comment text: anything but a line break (a lone CR is one); trailing blanks are not kept by
# the parser.
COMMENTS = st.text(st.characters(codec="utf-8", exclude_characters="\n\r")).map(
    lambda text: text.rstrip(" \t\r")
)


def _with_results(draw: st.DrawFn, steps: tuple[Step, ...]) -> tuple[Step, ...]:
    def annotate(op: Op) -> Op:
        return dataclasses.replace(op, expect=draw(RESULTS))

    out: list[Step] = []
    for step in steps:
        if isinstance(step, Parallel):
            threads = tuple(Thread(tuple(map(annotate, t.ops))) for t in step.threads)
            out.append(dataclasses.replace(step, threads=threads))
        else:
            out.append(annotate(step))
    return tuple(out)


@st.composite
def annotated_programs(draw: st.DrawFn) -> Program:
    """`ptediff.programs()` plus what it leaves out: comments, expects, results."""
    program = draw(programs())
    impls = draw(st.lists(st.sampled_from(registered_impls()), unique=True, max_size=3))
    expects = tuple(
        Expect(impl, "agrees")
        if draw(st.booleans())
        else Expect(impl, "diverges", tuple(draw(st.lists(SIGNATURES, max_size=3))))
        for impl in impls
    )
    return dataclasses.replace(
        program,
        steps=_with_results(draw, program.steps),
        comments=tuple(draw(st.lists(COMMENTS, max_size=3))),
        expects=expects,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotated_programs())
def test_printing_then_parsing_gives_the_program_back(program: Program) -> None:
    _round_trips(program)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
@given(annotated_programs())
def test_printing_then_parsing_gives_the_program_back_long(program: Program) -> None:
    _round_trips(program)


def _round_trips(program: Program) -> None:
    text = format_program(program)
    parsed = parse(text)
    assert parsed == program
    assert format_program(parsed) == text  # the printed form is canonical: a fixed point


# Plain from_lark draws every terminal from its regex: slow to generate, so few examples.
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_lark(lark_parser()))
def test_any_text_of_the_grammar_parses_or_gives_a_dsl_error(text: str) -> None:
    _parses_or_fails_cleanly(text)


# Words the validator knows, and near misses, for the terminals that are open-ended words.
_MEANINGFUL: dict[str, st.SearchStrategy[str]] = {
    "PROC": st.integers(0, 4).map(lambda n: f"p{n}"),
    "NUMBER": st.one_of(
        st.integers(0, 9).map(str),
        st.integers(0, 9).map(lambda n: hex(n * 0x1000)),
        st.integers(0, 2**70).map(hex),
    ),
    "PROT": st.sampled_from(["none", "r", "rw", "wx"]),
    "CONFIG_KEY": st.sampled_from(["swap_bits", "highpte", "nodes", "node"]),
    "CONFIG_WORD": st.sampled_from(["on", "off", "yes"]),
    "ERRNO": st.sampled_from([*ERRNO, "EWHAT"]),
    "RESULT_NAME": st.sampled_from([SIGSEGV, BUG, "EPERM", "SEGV"]),
    "IMPL": st.sampled_from([*registered_impls(), "mypkg.kernels:Kernel", "nope"]),
    "SIGNATURE": st.sampled_from(["shared-writable", "result:swapon", "result:swapoff", "data"]),
    "_NL": st.sampled_from(["\n", "  # a comment\n", "\n\n# more\n  \n"]),
}


def _meaningful_terminals() -> dict[str, st.SearchStrategy[str]]:
    """Keywords and punctuation as written, open-ended words from `_MEANINGFUL`, each followed
    by a space, so that generated texts lex as intended and reach the validator."""
    out: dict[str, st.SearchStrategy[str]] = {}
    for terminal in lark_parser().terminals:
        if terminal.name == "SPACE":
            continue
        if terminal.name in _MEANINGFUL:
            strategy = _MEANINGFUL[terminal.name]
        elif terminal.pattern.type == "str":
            strategy = st.just(terminal.pattern.value)
        else:  # a keyword: its name, lowercased, is its text
            strategy = st.just(terminal.name.lower())
        out[terminal.name] = strategy if terminal.name == "_NL" else strategy.map(_spaced)
    return out


def _spaced(text: str) -> str:
    return text + " "


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_lark(lark_parser(), explicit=_meaningful_terminals()))
def test_meaningful_grammar_text_parses_or_gives_a_dsl_error(text: str) -> None:
    _parses_or_fails_cleanly(text)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_lark(lark_parser(), explicit=_meaningful_terminals()))
def test_meaningful_grammar_text_parses_or_gives_a_dsl_error_long(text: str) -> None:
    _parses_or_fails_cleanly(text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(list("mapfult rwx0123456789{}#=>-\n p"))))
def test_arbitrary_text_parses_or_gives_a_dsl_error(text: str) -> None:
    _parses_or_fails_cleanly(text)


def _parses_or_fails_cleanly(text: str) -> None:
    try:
        program = parse(text)
    except DslError as error:
        assert error.line >= 1 and error.column >= 1
        assert error.hint
        return
    # Whatever parses also survives the round trip.
    assert parse(format_program(program)) == program
