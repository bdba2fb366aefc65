"""The lark parse tree to the program AST (`ptediff.core.program`), with field positions.

Besides the AST it records, for `ptediff.dsl.notes`, where each statement starts and where each
block closes, and how each number was spelled (decimal or hex).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from lark import Token, Transformer
from ptediff.core.errors import DslError
from ptediff.core.program import (
    Config,
    Exit,
    Expect,
    Fault,
    Fork,
    Madvise,
    Map,
    Migrate,
    Mlock,
    Mprotect,
    Mremap,
    Munlock,
    Munmap,
    Op,
    Pageout,
    Parallel,
    Pin,
    Pinread,
    Pinwrite,
    Pos,
    Program,
    Result,
    StateCheck,
    Step,
    Swapon,
    Thread,
    Unpin,
)
from ptediff.dsl.source import Problem, SourceText
from ptediff.dsl.values import (
    StateWordProblem,
    advice_named,
    config_value,
    errno_result,
    prot_named,
    pte_expectation,
    result_named,
)

_CONFIG_KEYS = frozenset(field.name for field in dataclasses.fields(Config))


@dataclass(frozen=True)
class _ConfigLine:
    config: Config
    pos: Pos


@dataclass(frozen=True)
class _Result:
    value: Result
    pos: Pos
    base: int | None  # 10 or 16 for a number, None for a name


def _pos(token: Token) -> Pos:
    return Pos(token.line or 0, token.column or 0)


# No field takes a value of 2**64 or more: a longer number is refused before it is converted
# (Python's int() refuses decimals past 4,300 digits, and the messages would print it).
MAX_DIGITS = {10: len(str(2**64 - 1)), 16: 16}


def _base(token: Token) -> int:
    return 16 if str(token)[:2].lower() == "0x" else 10


class NumberTooLarge(Problem):
    def __init__(self, digits: int) -> None:
        super().__init__(
            f"a number of {digits} digits is too large",
            "no value in a program reaches 2**64 (0xffffffffffffffff)",
        )


def number_value(text: str) -> int:
    """The value of a NUMBER token's text; NumberTooLarge past 2**64's digit count."""
    base = 16 if text[:2].lower() == "0x" else 10
    digits = (text[2:] if base == 16 else text).lstrip("0")
    if len(digits) > MAX_DIGITS[base]:
        raise NumberTooLarge(len(digits))
    return int(digits or "0", base)


class ToProgram(Transformer[Token, Program]):
    """Builds the AST bottom-up; each rule's method receives its children already built."""

    def __init__(self, source: SourceText) -> None:
        super().__init__()
        self.source = source
        self.pins = 0
        # For ptediff.dsl.notes: (position, node) of every statement and of every closing `}`
        # (the nodes are kept alive, so their ids stay valid), and each op's number bases.
        self.starts: list[tuple[Pos, object]] = []
        self.closes: list[tuple[Pos, object]] = []
        self.spellings: dict[int, tuple[tuple[str, int], ...]] = {}
        self.config_line: _ConfigLine | None = None

    def _number(self, token: Token) -> int:
        try:
            return number_value(str(token))
        except Problem as problem:
            raise self.fail(problem, _pos(token)) from None

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
            written = self._number(value) if value.type == "NUMBER" else str(value)
            try:
                values[str(key)] = config_value(str(key), written)
            except Problem as problem:
                at = value if str(key) in _CONFIG_KEYS else key
                raise self.fail(problem, _pos(at)) from None
        line = _ConfigLine(Config(**values), _pos(keyword))  # type: ignore[arg-type]
        self.starts.append((line.pos, line))
        return line

    def expect(self, children: list[Token]) -> Expect:
        keyword, impl, verdict, *signatures = children
        verdict_word: Literal["agrees", "diverges"] = (
            "agrees" if verdict.type == "AGREES" else "diverges"
        )
        node = Expect(str(impl), verdict_word, tuple(map(str, signatures)), pos=_pos(keyword))
        positions = {f"signatures.{i}": _pos(token) for i, token in enumerate(signatures)}
        self.remember(node, {"impl": _pos(impl), **positions})
        self.starts.append((_pos(keyword), node))
        return node

    # -- operations

    def result(self, children: list[Token]) -> _Result:
        _arrow, *rest = children
        base = _base(rest[-1]) if rest[-1].type == "NUMBER" else None
        try:
            if len(rest) == 1 and rest[0].type == "NUMBER":
                value: Result = number_value(str(rest[0]))
            elif len(rest) == 1:
                value = result_named(str(rest[0]))
            elif rest[1].type == "NUMBER":
                value = -number_value(str(rest[1]))
            else:
                value = errno_result(str(rest[1]))
        except Problem as problem:
            raise self.fail(problem, _pos(rest[-1])) from None
        return _Result(value, _pos(rest[0]), base)

    def prio(self, children: list[Token]) -> tuple[int, Pos, int]:
        sign = -1 if children[2].type == "MINUS" else 1
        return sign * self._number(children[-1]), _pos(children[2]), _base(children[-1])

    def _op(self, cls: type[Op], children: list[Any], **parts: Any) -> Op:
        """Build `cls` from `parts` (field -> token, or (value, pos)) and the optional result."""
        keyword = children[0]
        result = children[-1] if isinstance(children[-1], _Result) else None
        values: dict[str, Any] = {}
        positions: dict[str, Pos] = {}
        spelling: list[tuple[str, int]] = []
        for name, part in parts.items():
            if isinstance(part, tuple):
                values[name], positions[name] = part[:2]
                if len(part) > 2:
                    spelling.append((name, part[2]))
            elif isinstance(part, Token):
                positions[name] = _pos(part)
                if part.type == "NUMBER":
                    values[name] = self._number(part)
                    spelling.append((name, _base(part)))
                else:
                    values[name] = str(part)
            else:
                values[name] = part
        if result is not None:
            positions["expect"] = result.pos
            if result.base is not None:
                spelling.append(("expect", result.base))
        node = cls(**values, expect=None if result is None else result.value, pos=_pos(keyword))
        self.remember(node, positions)
        self.starts.append((_pos(keyword), node))
        self.spellings[id(node)] = tuple(spelling)
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

    def madvise(self, c: list[Any]) -> Op:
        try:
            advice = advice_named(str(c[4])), _pos(c[4])
        except Problem as problem:
            raise self.fail(problem, _pos(c[4])) from None
        return self._op(Madvise, c, proc=c[1], addr=c[2], npages=c[3], advice=advice)

    def mlock(self, c: list[Any]) -> Op:
        return self._op(Mlock, c, proc=c[1], addr=c[2], npages=c[3])

    def munlock(self, c: list[Any]) -> Op:
        return self._op(Munlock, c, proc=c[1], addr=c[2], npages=c[3])

    def mremap(self, c: list[Any]) -> Op:
        return self._op(Mremap, c, proc=c[1], addr=c[2], npages=c[3], new=c[4])

    def pin(self, c: list[Any]) -> Op:
        # The transformer builds operations in source order, which is op-id order: the n-th
        # `pin` built is pin n.
        write = len(c) > 3 and isinstance(c[3], Token) and c[3].type == "WRITE"
        self.pins += 1
        return self._op(Pin, c, proc=c[1], addr=c[2], write=write, id=self.pins - 1)

    def unpin(self, c: list[Any]) -> Op:
        return self._op(Unpin, c, pin=c[1])

    def pinread(self, c: list[Any]) -> Op:
        return self._op(Pinread, c, pin=c[1])

    def pinwrite(self, c: list[Any]) -> Op:
        return self._op(Pinwrite, c, pin=c[1], value=c[2])

    def state_check(self, c: list[Any]) -> Op:
        keyword, proc, addr, *words = c
        if not str(proc).startswith("p") or not str(proc)[1:].isdigit():
            raise self.fail(
                Problem(
                    f"{proc} is not a process name",
                    "a state check names a process: `expect p0 0x1000 present`; an "
                    "implementation's verdict reads `expect IMPL agrees` or `... diverges`",
                ),
                _pos(proc),
            )
        try:
            state, writable = pte_expectation([str(word) for word in words])
        except StateWordProblem as problem:
            raise self.fail(problem, _pos(words[problem.index])) from None
        return self._op(StateCheck, [keyword], proc=proc, addr=addr, state=state,
                        writable=writable)

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
        node = Thread(tuple(items), pos=_pos(keyword))
        self.starts.append((_pos(keyword), node))
        self.closes.append((_pos(_rbrace), node))
        return node

    def parallel(self, children: list[Any]) -> Parallel:
        keyword, _lbrace, *rest = children
        schedule_tokens: list[Token] | None = None
        if rest and isinstance(rest[-1], list):
            schedule_tokens = rest.pop()
        threads = tuple(item for item in rest if isinstance(item, Thread))
        schedule = None if schedule_tokens is None else tuple(map(self._number, schedule_tokens))
        node = Parallel(threads, schedule, pos=_pos(keyword))
        self.remember(node, {f"schedule.{i}": _pos(t) for i, t in enumerate(schedule_tokens or ())})
        self.starts.append((_pos(keyword), node))
        closing = next(t for t in rest if isinstance(t, Token) and t.type == "RBRACE")
        self.closes.append((_pos(closing), node))
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
        self.config_line = config
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

