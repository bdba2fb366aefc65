"""Syntax errors: where lark stopped, and what would have been valid there, in words."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from ptediff.core.errors import DslError
from ptediff.core.program import Pos
from ptediff.dsl.source import SourceText, did_you_mean, one_of
from ptediff.grammar import GRAMMAR_PATH


@functools.cache
def lark_parser() -> Lark:
    """The LALR parser of grammar/pte.lark (built once)."""
    return Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=False,
    )


OPERATIONS = (
    *("map", "munmap", "mprotect", "fault", "fork", "exit", "migrate", "swapon", "pageout"),
    *("madvise", "pin", "unpin", "pinread", "pinwrite", "mlock", "munlock", "mremap"),
)
_OPERATION_TERMINALS = frozenset(word.upper() for word in OPERATIONS)

# What each terminal is, in words. A test checks that every terminal of the grammar is here.
TERMINAL_WORDS: dict[str, str] = {
    **{
        name: f"`{name.lower()}`"
        for name in (
            *("CONFIG", "EXPECT", "AGREES", "DIVERGES", "READ", "WRITE", "UNLOCKED", "PRIO"),
            *("PARALLEL", "THREAD", "SCHEDULE"),
        )
    },
    **{name: f"`{name.lower()}`" for name in _OPERATION_TERMINALS},
    "PROC": "a process name (p0, p1, ...)",
    "NUMBER": "a number",
    "PROT": "a protection (none, r or rw)",
    "CONFIG_KEY": "a config key (swap_bits, highpte, nodes)",
    "CONFIG_WORD": "on or off",
    "ERRNO": "an errno name (EPERM, ENOMEM, ...)",
    "RESULT_NAME": "SIGSEGV or BUG",
    "IMPL": "an implementation name (postfix, prefix, ... or package.module:Class), or a "
    "process for a state check",
    "ADVICE": "an madvise advice (dontneed)",
    "PTE_WORD": "a pte state (present, present writable, present readonly, swapped, none)",
    "SIGNATURE": "a signature class (shared-writable, result:swapon, ...)",
    "ARROW": "`=>`",
    "EQUALS": "`=`",
    "MINUS": "`-`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "SPACE": "a space",
}

# Sets of terminals read better as one phrase.
_PHRASES: tuple[tuple[frozenset[str], str], ...] = (
    (
        _OPERATION_TERMINALS,
        "an operation (" + ", ".join(OPERATIONS) + ")",
    ),
    (frozenset({"NUMBER", "MINUS", "RESULT_NAME"}), "a result (a number, -ERRNO, SIGSEGV or BUG)"),
    (frozenset({"NUMBER", "ERRNO"}), "a number or an errno name (EPERM, ENOMEM, ...)"),
)


def describe_expected(terminals: Iterable[str]) -> str:
    """'expected X, Y or Z' in words, for a set of terminal names."""
    left = set(terminals)
    words: list[str] = []
    for group, phrase in _PHRASES:
        if group <= left:
            words.append(phrase)
            left -= group
    order = list(TERMINAL_WORDS)
    for name in sorted(left, key=lambda n: order.index(n) if n in order else len(order)):
        words.append(TERMINAL_WORDS.get(name, name.lower()))
    return "expected " + one_of(words) if words else "nothing more is possible here"


def parse_tree(text: str, source: SourceText) -> Any:
    """lark's parse tree of `text`, or the DslSyntaxError that explains why there is none."""
    try:
        return lark_parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, source, error) from None


def _syntax_error(text: str, source: SourceText, error: UnexpectedInput) -> DslError:
    expected = _expected_at_error(text)
    line, column = error.line, error.column
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        last = text.rstrip("\n").count("\n") + 1
        line, column = last, len(text.rstrip("\n").split("\n")[-1]) + 1
        what = "end of file"
    elif isinstance(error, UnexpectedToken) and error.token.type == "_NL":
        what = "end of line"
    elif isinstance(error, UnexpectedCharacters | UnexpectedToken):
        what = repr(_word_at(text, error.pos_in_stream))
    else:  # pragma: no cover - lark raises no other UnexpectedInput for LALR
        what = "input"
    if line < 1:
        line, column = 1, 1
    message = f"unexpected {what}"
    word = what.strip("'\"")
    at_statement_start = expected >= _OPERATION_TERMINALS
    if at_statement_start:
        # Blank lines, `thread` (legal only inside `parallel`) and, inside a thread, a nested
        # `parallel` are no help to list here.
        expected -= {"_NL", "$END", "THREAD"}
        if "CONFIG" not in expected:
            expected.discard("PARALLEL")
        if word[:1].isalpha():
            message = f"unknown operation {what}" + did_you_mean(word, OPERATIONS)
    hint = describe_expected(expected)
    if word == "schedule" and "SCHEDULE" not in expected:
        hint += "; `schedule` goes on the line of the block's closing `}`"
    return source.syntax_error(message, Pos(line, column), hint)


def _word_at(text: str, offset: int | None) -> str:
    """The run of non-space characters starting at `offset`: what the reader sees as the culprit."""
    if offset is None or offset >= len(text):
        return ""
    end = offset
    while end < len(text) and not text[end].isspace():
        end += 1
    word = text[offset:end] or text[offset]
    # a word of thousands of characters is named by its start (the caret shows where it is)
    return word if len(word) <= MAX_WORD else word[:MAX_WORD] + "..."


MAX_WORD = 40


def _expected_at_error(text: str) -> set[str]:
    """The terminals the parser would accept where it failed, replaying the parse interactively.

    lark's own `expected` comes from the (merged) LALR state and may list tokens that a
    reduction would then reject; `accepts()` on a snapshot taken before the failing token
    gives only those that really continue the program.
    """
    interactive = lark_parser().parse_interactive(text)
    snapshot = interactive.copy(deepcopy_values=False)
    try:
        for token in interactive.lexer_thread.lex(interactive.parser_state):
            interactive.feed_token(token)
            snapshot = interactive.copy(deepcopy_values=False)
        interactive.feed_eof()
    except UnexpectedInput:
        pass
    return {name for name in snapshot.accepts() if name in TERMINAL_WORDS}
