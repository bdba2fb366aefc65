"""Shared by the live-backend tests: the skip marker and a parser shortcut."""

from __future__ import annotations

import pytest
from ptediff.core.program import Program
from ptediff.dsl.parse import parse
from ptediff.live.guard import unavailable_reason

REASON = unavailable_reason()
needs_live = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def program(text: str) -> Program:
    return parse(text, "<test>")
