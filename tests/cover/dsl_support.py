"""Helpers the per-operation test files share: drawn programs, and DSL error checks."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from ptediff.core.errors import DslError
from ptediff.core.program import Program
from ptediff.dsl.parse import parse
from ptediff.search.strategies import programs


def drawn_programs(examples: int = 400, **kwargs: object) -> list[Program]:
    """The programs the search's strategy draws first, derandomized (the same every run)."""
    drawn: list[Program] = []

    @settings(max_examples=examples, database=None, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(programs(**kwargs))  # type: ignore[arg-type]
    def gather(program: Program) -> None:
        drawn.append(program)

    gather()
    return drawn


def assert_dsl_error(text: str, where: str, message: str) -> None:
    """`text` is refused with an error naming t.pte:`where`, saying `message`, with a hint."""
    with pytest.raises(DslError) as caught:
        parse(text, "t.pte")
    assert f"t.pte:{where}" in str(caught.value)
    assert message in str(caught.value)
    assert caught.value.hint
