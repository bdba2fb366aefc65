"""Shared by the live-backend tests: the skip marker and a parser shortcut."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from ptediff.core.program import Program
from ptediff.dsl.parse import parse
from ptediff.live.guard import unavailable_reason

REASON = unavailable_reason()
needs_live = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def program(text: str) -> Program:
    return parse(text, "<test>")


def validate_report(document: Any) -> None:
    """docs/report-schema.json's check, from the schema tests (tests/cover)."""
    path = Path(__file__).resolve().parents[1] / "cover" / "test_report_schema.py"
    spec = importlib.util.spec_from_file_location("schema_checks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.validate_report(document)
