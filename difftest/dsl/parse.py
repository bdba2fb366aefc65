"""Read `.pte` text into a validated `ptediff.core.program.Program`.

The language (grammar/pte.lark is the authority):

    # leading comment lines are kept in Program.comments
    config swap_bits=2 highpte=on nodes=3      at most once, before any operation
    expect postfix agrees                      IMPL: a registered name or package.module:Class
    expect prefix diverges shared-writable data
    map      p0 0x1000 2 rw                    PROC ADDR NPAGES PROT (none | r | rw)
    munmap   p0 0x1000 1
    mprotect p0 0x1000 1 r
    fault    p0 0x1000 write 0xaa              or: fault PROC ADDR read
    fork     p0 p1                             PARENT CHILD
    exit     p1
    migrate  p0 0x1000 1 [unlocked]            PROC ADDR NODE
    swapon   4 [prio=-1]                       NSLOTS (usable slots, 0 gives -EINVAL)
    pageout  p0 0x1000
    parallel {
      thread { fault p0 0x1000 read => 0xaa }  any operation may end in `=> RESULT`
      thread {
        migrate p0 0x1000 0
      }
    } schedule 0 1 1 0                         optional: the thread taking each next step

Numbers are decimal or hex; RESULT is a number, -ERRNO, SIGSEGV or BUG. Processes are named
p0, p1, ...; p0 exists at the start. Limits: swap_bits 2..8 (default 5), highpte on|off
(default off), nodes 1..64 (default 2), npages 1..4096, addresses page-aligned and below 2**47
(and not 0 for map), written values below 2**64, swapon 0..65536 slots, prio -32768..32767.
Comments after an operation, and comment lines after the first statement, are not kept.

`parse` and `parse_file` raise DslSyntaxError for text that does not follow the grammar (with
what would be valid at that point as the hint) and DslValidationError for a well-formed text
that describes an invalid program (see ptediff.dsl.validate).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from ptediff.core.errors import DslError
from ptediff.core.program import (
    Config,
    Exit,
    Expect,
    Fault,
    Fork,
    Map,
    Migrate,
    Mprotect,
    Munmap,
    Op,
    Pageout,
    Parallel,
    Pos,
    Program,
    Result,
    Step,
    Swapon,
    Thread,
)
from ptediff.dsl.validate import (
    Problem,
    SourceText,
    config_value,
    did_you_mean,
    errno_result,
    one_of,
    prot_named,
    result_named,
    validate,
)
from ptediff.grammar import GRAMMAR_PATH

# ---- the parser ---------------------------------------------------------------------------


@functools.cache
def lark_parser() -> Lark:
    """The LALR parser of grammar/pte.lark (built once)."""
    return Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=False,
    )


def parse(text: str, filename: str = "<string>") -> Program:
    """Parse and validate a program; `Program.source` is `text`."""
    source = SourceText(filename, text)
    tree = _tree(text if text.endswith("\n") else text + "\n", source)
    try:
        program = _ToProgram(source).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, DslError):
            raise error.orig_exc from None
        raise
    program = dataclasses.replace(program, source=text)
    validate(program, source)
    return program


def parse_file(path: str | Path) -> Program:
    """Parse and validate a `.pte` file; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DslError("no such file", filename=str(path)) from None
    except UnicodeDecodeError as error:
        raise DslError(
            f"not UTF-8 text (byte {error.start})", filename=str(path), hint="a .pte file is text"
        ) from None
    except OSError as error:
        raise DslError(f"cannot read the file: {error.strerror}", filename=str(path)) from None
    return parse(text, str(path))


# ---- syntax errors ------------------------------------------------------------------------

OPERATIONS = ("map", "munmap", "mprotect", "fault", "fork", "exit", "migrate", "swapon", "pageout")
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
    "IMPL": "an implementation name (postfix, prefix, ... or package.module:Class)",
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


def _tree(text: str, source: SourceText) -> Any:
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
    return text[offset:end] or text[offset]


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


# ---- the tree -> AST transformer ----------------------------------------------------------


_CONFIG_KEYS = frozenset(field.name for field in dataclasses.fields(Config))


@dataclass(frozen=True)
class _ConfigLine:
    config: Config
    pos: Pos


@dataclass(frozen=True)
class _Result:
    value: Result
    pos: Pos


def _pos(token: Token) -> Pos:
    return Pos(token.line or 0, token.column or 0)


def _number(token: Token) -> int:
    text = str(token)
    return int(text, 16) if text[:2].lower() == "0x" else int(text, 10)


class _ToProgram(Transformer[Token, Program]):
    """Builds the AST bottom-up; each rule's method receives its children already built."""

    def __init__(self, source: SourceText) -> None:
        super().__init__()
        self.source = source

    def fail(self, problem: Problem, pos: Pos | None) -> DslError:
        return self.source.error(problem.message, pos, problem.hint)

    def remember(self, node: object, positions: dict[str, Pos]) -> None:
        self.source.positions[id(node)] = positions

    # -- header

    def config_item(self, children: list[Token]) -> tuple[Token, Token]:
        key, _equals, value = children
        return key, value

    def config(self, children: list[Any]) -> _ConfigLine:
        keyword, *items = children
        values: dict[str, int | bool] = {}
        for key, value in items:
            if str(key) in values:
                raise self.fail(Problem(f"{key} is set twice", "set each key once"), _pos(key))
            written = _number(value) if value.type == "NUMBER" else str(value)
            try:
                values[str(key)] = config_value(str(key), written)
            except Problem as problem:
                at = value if str(key) in _CONFIG_KEYS else key
                raise self.fail(problem, _pos(at)) from None
        return _ConfigLine(Config(**values), _pos(keyword))  # type: ignore[arg-type]

    def expect(self, children: list[Token]) -> Expect:
        keyword, impl, verdict, *signatures = children
        verdict_word: Literal["agrees", "diverges"] = (
            "agrees" if verdict.type == "AGREES" else "diverges"
        )
        node = Expect(str(impl), verdict_word, tuple(map(str, signatures)), pos=_pos(keyword))
        positions = {f"signatures.{i}": _pos(token) for i, token in enumerate(signatures)}
        self.remember(node, {"impl": _pos(impl), **positions})
        return node

    # -- operations

    def result(self, children: list[Token]) -> _Result:
        _arrow, *rest = children
        try:
            if len(rest) == 1 and rest[0].type == "NUMBER":
                value: Result = _number(rest[0])
            elif len(rest) == 1:
                value = result_named(str(rest[0]))
            elif rest[1].type == "NUMBER":
                value = -_number(rest[1])
            else:
                value = errno_result(str(rest[1]))
        except Problem as problem:
            raise self.fail(problem, _pos(rest[-1])) from None
        return _Result(value, _pos(rest[0]))

    def prio(self, children: list[Token]) -> tuple[int, Pos]:
        sign = -1 if children[2].type == "MINUS" else 1
        return sign * _number(children[-1]), _pos(children[2])

    def _op(self, cls: type[Op], children: list[Any], **parts: Any) -> Op:
        """Build `cls` from `parts` (field -> token, or (value, pos)) and the optional result."""
        keyword = children[0]
        result = children[-1] if isinstance(children[-1], _Result) else None
        values: dict[str, Any] = {}
        positions: dict[str, Pos] = {}
        for name, part in parts.items():
            if isinstance(part, tuple):
                values[name], positions[name] = part
            elif isinstance(part, Token):
                positions[name] = _pos(part)
                values[name] = _number(part) if part.type == "NUMBER" else str(part)
            else:
                values[name] = part
        if result is not None:
            positions["expect"] = result.pos
        node = cls(**values, expect=None if result is None else result.value, pos=_pos(keyword))
        self.remember(node, positions)
        return node

    def _prot(self, token: Token) -> tuple[Any, Pos]:
        try:
            return prot_named(str(token)), _pos(token)
        except Problem as problem:
            raise self.fail(problem, _pos(token)) from None

    def map(self, c: list[Any]) -> Op:
        return self._op(Map, c, proc=c[1], addr=c[2], npages=c[3], prot=self._prot(c[4]))

    def munmap(self, c: list[Any]) -> Op:
        return self._op(Munmap, c, proc=c[1], addr=c[2], npages=c[3])

    def mprotect(self, c: list[Any]) -> Op:
        return self._op(Mprotect, c, proc=c[1], addr=c[2], npages=c[3], prot=self._prot(c[4]))

    def fault(self, c: list[Any]) -> Op:
        if c[3].type == "WRITE":
            return self._op(Fault, c, proc=c[1], addr=c[2], write=True, value=c[4])
        return self._op(Fault, c, proc=c[1], addr=c[2], write=False)

    def fork(self, c: list[Any]) -> Op:
        return self._op(Fork, c, parent=c[1], child=c[2])

    def exit(self, c: list[Any]) -> Op:
        return self._op(Exit, c, proc=c[1])

    def migrate(self, c: list[Any]) -> Op:
        unlocked = len(c) > 4 and isinstance(c[4], Token) and c[4].type == "UNLOCKED"
        return self._op(Migrate, c, proc=c[1], addr=c[2], node=c[3], unlocked=unlocked)

    def swapon(self, c: list[Any]) -> Op:
        if len(c) > 2 and isinstance(c[2], tuple):
            return self._op(Swapon, c, nslots=c[1], prio=c[2])
        return self._op(Swapon, c, nslots=c[1])

    def pageout(self, c: list[Any]) -> Op:
        return self._op(Pageout, c, proc=c[1], addr=c[2])

    # -- concurrency

    def schedule(self, children: list[Token]) -> list[Token]:
        return children[1:]

    def thread(self, children: list[Any]) -> Thread:
        keyword, _lbrace, *items, _rbrace = children
        for item in items:
            if isinstance(item, Parallel):
                raise self.fail(
                    Problem(
                        "parallel blocks do not nest",
                        "a thread holds operations; write the inner threads as threads of the "
                        "outer block",
                    ),
                    item.pos,
                )
        return Thread(tuple(items), pos=_pos(keyword))

    def parallel(self, children: list[Any]) -> Parallel:
        keyword, _lbrace, *rest = children
        schedule_tokens: list[Token] | None = None
        if rest and isinstance(rest[-1], list):
            schedule_tokens = rest.pop()
        threads = tuple(item for item in rest if isinstance(item, Thread))
        schedule = None if schedule_tokens is None else tuple(map(_number, schedule_tokens))
        node = Parallel(threads, schedule, pos=_pos(keyword))
        self.remember(node, {f"schedule.{i}": _pos(t) for i, t in enumerate(schedule_tokens or ())})
        return node

    # -- the file

    def start(self, statements: list[Any]) -> Program:
        config: _ConfigLine | None = None
        expects: list[Expect] = []
        steps: list[Step] = []
        for statement in statements:
            if isinstance(statement, _ConfigLine):
                if config is not None:
                    raise self.fail(
                        Problem(
                            f"a second config line (the first is line {config.pos.line})",
                            "put every key on one config line",
                        ),
                        statement.pos,
                    )
                if steps:
                    raise self.fail(
                        Problem(
                            "config comes after operations",
                            "move the config line above the first operation",
                        ),
                        statement.pos,
                    )
                config = statement
            elif isinstance(statement, Expect):
                expects.append(statement)
            elif isinstance(statement, Thread):
                raise self.fail(
                    Problem(
                        "`thread` outside a parallel block",
                        "threads go inside `parallel { ... }`; a lone operation needs no thread",
                    ),
                    statement.pos,
                )
            else:
                steps.append(statement)
        first_line = min((s.pos.line for s in statements if s.pos is not None), default=None)
        return Program(
            tuple(steps),
            config=config.config if config else Config(),
            expects=tuple(expects),
            comments=self._leading_comments(first_line),
        )

    def _leading_comments(self, first_line: int | None) -> tuple[str, ...]:
        """Comment lines before the first statement, without their `#` and one space."""
        # Split on "\n" only, as the grammar does: line numbers must agree with lark's.
        lines = (self.source.text or "").split("\n")
        header = lines if first_line is None else lines[: first_line - 1]
        comments = []
        for line in header:
            stripped = line.strip(" \t\r")
            if stripped.startswith("#"):
                body = stripped[1:]
                comments.append(body[1:] if body.startswith(" ") else body)
        return tuple(comments)
