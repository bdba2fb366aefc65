"""The ptediff program grammar: `pte.lark`, an LALR grammar of `.pte` files."""

from __future__ import annotations

from pathlib import Path

GRAMMAR_PATH: Path = Path(__file__).with_name("pte.lark")


def grammar_text() -> str:
    """The grammar's source text."""
    return GRAMMAR_PATH.read_text(encoding="utf-8")
