"""The grammar file itself: LALR, every terminal named and described in words."""

from __future__ import annotations

from ptediff.dsl.syntax import TERMINAL_WORDS, describe_expected, lark_parser
from ptediff.grammar import GRAMMAR_PATH, grammar_text


def test_grammar_file_is_shipped_with_the_package() -> None:
    assert GRAMMAR_PATH.name == "pte.lark"
    assert grammar_text().startswith("// The ptediff program language")


def test_parser_is_lalr_with_a_contextual_lexer() -> None:
    options = lark_parser().options
    assert (options.parser, options.lexer) == ("lalr", "contextual")


def test_every_terminal_is_named_and_has_words() -> None:
    names = {terminal.name for terminal in lark_parser().terminals}
    assert not [name for name in names if name.startswith("__")]
    assert names <= set(TERMINAL_WORDS)
    assert set(TERMINAL_WORDS) - names == {"$END"}


def test_expected_terminals_read_as_words() -> None:
    assert describe_expected({"READ", "WRITE"}) == "expected `read` or `write`"
    assert describe_expected({"NUMBER", "MINUS", "RESULT_NAME"}) == (
        "expected a result (a number, -ERRNO, SIGSEGV or BUG)"
    )
    assert describe_expected({"PROC"}) == "expected a process name (p0, p1, ...)"
