"""Where a `.pte` program's text came from, and the error values the checks raise against it.

`SourceText` turns a node (and a field of it) into a line and column and builds the
DslValidationError or DslSyntaxError pointing there; `Problem` is what a check raises when it
knows what is wrong but not where. `did_you_mean` and `one_of` phrase the messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ptediff.core.errors import DslError, DslSyntaxError, DslValidationError
from ptediff.core.program import Pos


class Problem(Exception):
    """A value the program may not contain; the caller knows where it is."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class SourceText:
    """Where a program came from, to point errors at the right line and column.

    `positions` maps `id(node)` to the position of each of its fields (and "schedule.N" for
    a schedule's entries), filled in by the parser; nodes absent from it fall back to their
    own `pos`.
    """

    filename: str = "<string>"
    text: str | None = None
    positions: dict[int, dict[str, Pos]] = field(default_factory=dict)

    def line(self, number: int) -> str | None:
        if self.text is None or number < 1:
            return None
        lines = self.text.split("\n")  # as the grammar counts lines
        return lines[number - 1].rstrip("\r") if number <= len(lines) else None

    def locate(self, node: object, part: str | None = None) -> Pos | None:
        if part is not None:
            found = self.positions.get(id(node), {}).get(part)
            if found is not None:
                return found
        return getattr(node, "pos", None)

    def error(
        self,
        message: str,
        pos: Pos | None,
        hint: str | None = None,
        *,
        kind: type[DslError] = DslValidationError,
    ) -> DslError:
        line, column = (pos.line, pos.column) if pos is not None else (0, 0)
        return kind(
            message,
            filename=self.filename,
            line=line,
            column=column,
            source_line=self.line(line),
            hint=hint,
        )

    def syntax_error(self, message: str, pos: Pos, hint: str | None) -> DslSyntaxError:
        error = self.error(message, pos, hint, kind=DslSyntaxError)
        assert isinstance(error, DslSyntaxError)
        return error


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' when a choice is close to `word`, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def one_of(choices: Sequence[str]) -> str:
    """'a, b or c'."""
    if len(choices) <= 1:
        return "".join(choices)
    return ", ".join(choices[:-1]) + " or " + choices[-1]


__all__ = ["Problem", "SourceText", "did_you_mean", "one_of"]
