"""`ptediff fmt` as a property: idempotent, meaning-preserving, and it never drops a comment.

Programs from the round-trip strategy are printed, then comments are scattered over the text:
on lines of their own (indented or not, with blank lines around) and at the end of any line.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ptediff.core.program import Program
from ptediff.dsl.notes import comment_text
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_program
from test_dsl_roundtrip import annotated_programs

# What a comment may say: anything but a line end (a lone CR is one too); the parser drops
# trailing blanks and the one space after `#`.
WORDS = st.text(
    st.characters(codec="utf-8", exclude_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
    min_size=1,
    max_size=12,
).map(lambda text: text.strip(" \t")).filter(bool)


@st.composite
def commented_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    program: Program = draw(annotated_programs())
    lines = format_program(program).split("\n")[:-1]
    said: list[str] = []
    out: list[str] = []
    for line in lines:
        if draw(st.integers(0, 4)) == 0:
            text = draw(WORDS)
            said.append(text)
            out.append(" " * draw(st.integers(0, 4)) + "# " + text)
        if draw(st.integers(0, 6)) == 0:
            out.append("")
        if draw(st.integers(0, 3)) == 0 and line.strip() and not line.lstrip().startswith("#"):
            text = draw(WORDS)
            said.append(text)
            line += " " * draw(st.integers(1, 3)) + "# " + text
        out.append(line)
    if draw(st.booleans()):
        text = draw(WORDS)
        said.append(text)
        out.append("# " + text)
    return "\n".join(out) + "\n", said


def _comments(text: str) -> list[str]:
    return [found for line in text.split("\n") if (found := comment_text(line)) is not None]


def _check(text: str, said: list[str]) -> None:
    program = parse(text)
    once = format_program(program)
    assert format_program(parse(once)) == once  # idempotent
    # same program (fmt may move a comment into the leading header: it writes config and
    # expect lines first)
    bare = dataclasses.replace(program, comments=())
    assert dataclasses.replace(parse(once), comments=()) == bare
    kept = _comments(once)
    for comment in said:  # never drops a comment (and keeps their order)
        assert comment in kept, (comment, once)
    assert sorted(kept) == sorted(_comments(text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commented_texts())
def test_fmt_is_idempotent_and_keeps_every_comment(case: tuple[str, list[str]]) -> None:
    _check(*case)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(commented_texts())
def test_fmt_is_idempotent_and_keeps_every_comment_long(case: tuple[str, list[str]]) -> None:
    _check(*case)
