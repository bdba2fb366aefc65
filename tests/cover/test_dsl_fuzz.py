"""Fuzzing the DSL the way the reliability audit did (its campaign b1, bounded here): mutations
of the regression files must parse or give a DslError with a position, never anything else.

Grammar-derived inputs (hypothesis.extra.lark) are in test_dsl_roundtrip; the long versions of
both are opt-in (`-m slow`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from ptediff.core.errors import DslError
from ptediff.core.program import Program
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from ptediff.dsl.syntax import lark_parser

REGRESSIONS = Path(__file__).resolve().parents[2] / "tests" / "regressions"
SOURCES = [path.read_text(encoding="utf-8") for path in sorted(REGRESSIONS.glob("*.pte"))]

ODD_NUMBERS = ["0xffffffffffffffffffff", "9" * 5000, "0x" + "f" * 4000, "-1", "1e3", "0b101",
               "１２", "0x", "00000000000000000000000000001", str(2**47), "4097", "65537"]
ODD_CHARACTERS = ["\ufeff", "\u200b", "\u00a0", "\u202e", "\u2028", "\x00", "\x0c", "\x0b",
                  "\r", "\r\n", "\x85", "\t", "#", "{", "}", "=>", "-"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 5))):
        text = draw(st.sampled_from(MUTATIONS))(draw, text)
    return text


def _lines(draw: st.DrawFn, text: str) -> tuple[list[str], int]:
    lines = text.split("\n")
    return lines, draw(st.integers(0, max(len(lines) - 1, 0)))


def flip(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, max(len(text) - 1, 0)))
    return text[:at] + chr(draw(st.integers(32, 0x2FF))) + text[at + 1 :]


def delete_line(draw: st.DrawFn, text: str) -> str:
    lines, at = _lines(draw, text)
    return "\n".join(lines[:at] + lines[at + 1 :])


def duplicate_line(draw: st.DrawFn, text: str) -> str:
    lines, at = _lines(draw, text)
    return "\n".join(lines[: at + 1] + lines[at:])


def swap_lines(draw: st.DrawFn, text: str) -> str:
    lines, at = _lines(draw, text)
    other = draw(st.integers(0, len(lines) - 1))
    lines[at], lines[other] = lines[other], lines[at]
    return "\n".join(lines)


def token_edit(draw: st.DrawFn, text: str) -> str:
    words = text.split(" ")
    at = draw(st.integers(0, len(words) - 1))
    choice = draw(st.integers(0, 3))
    if choice == 0:
        del words[at]
    elif choice == 1:
        words[at] = draw(st.sampled_from([*ODD_NUMBERS, "thread", "parallel", "expect", "p9"]))
    elif choice == 2:
        words.insert(at, draw(st.sampled_from(words)))
    else:
        other = draw(st.integers(0, len(words) - 1))
        words[at], words[other] = words[other], words[at]
    return " ".join(words)


def truncate(draw: st.DrawFn, text: str) -> str:
    return text[: draw(st.integers(0, len(text)))]


def odd_number(draw: st.DrawFn, text: str) -> str:
    lines, at = _lines(draw, text)
    lines[at] += " " + draw(st.sampled_from(ODD_NUMBERS))
    return "\n".join(lines)


def odd_character(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(ODD_CHARACTERS)) + text[at:]


def line_ends(draw: st.DrawFn, text: str) -> str:
    return text.replace("\n", draw(st.sampled_from(["\r\n", "\r", "\x85", "\n\n"])))


def splice(draw: st.DrawFn, text: str) -> str:
    other = draw(st.sampled_from(SOURCES))
    return text[: draw(st.integers(0, len(text)))] + other[draw(st.integers(0, len(other))) :]


def long_line(draw: st.DrawFn, text: str) -> str:
    return text + draw(st.sampled_from(["swapon 1 ", "# x", "{", "thread { "])) * draw(
        st.integers(100, 3000)
    )


def deep(draw: st.DrawFn, text: str) -> str:
    depth = draw(st.integers(5, 400))
    return text + "parallel {\nthread {\n" * depth + "}\n" * draw(st.integers(0, 2 * depth))


def _bare(program: Program) -> Program:
    return dataclasses.replace(program, comments=())


MUTATIONS = [flip, delete_line, duplicate_line, swap_lines, token_edit, truncate, odd_number,
             odd_character, line_ends, splice, long_line, deep]


def parses_or_fails_cleanly(text: str) -> None:
    try:
        program = parse(text, "fuzz.pte")
    except DslError as error:
        assert error.filename == "fuzz.pte"
        assert error.line >= 1 and error.column >= 1
        shown = str(error).split("\n")
        assert max(len(line) for line in shown) < 300  # one screen line per part
        return
    once = format_program(program)
    # fmt may move a comment into the leading header (it writes config and expect lines
    # first), so the programs compare without their header comments
    assert _bare(parse(once)) == _bare(program)
    assert format_program(parse(once)) == once


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_regression_files_parse_or_give_a_dsl_error(text: str) -> None:
    parses_or_fails_cleanly(text)


@pytest.mark.slow
@settings(max_examples=6000, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_regression_files_parse_or_give_a_dsl_error_long(text: str) -> None:
    parses_or_fails_cleanly(text)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_lark(lark_parser()))
def test_grammar_text_parses_or_gives_a_dsl_error_long(text: str) -> None:
    parses_or_fails_cleanly(text)
