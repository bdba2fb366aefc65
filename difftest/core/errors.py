"""One exception hierarchy for everything ptediff reports to a user as an error.

Kernel BUGs hit by a model are not errors: they are outcomes (see impls.bugs.KernelBug and
ptediff.core.outcome.BugReport). Divergences found by the search have their own family in
ptediff.search.property.
"""

from __future__ import annotations


class PtediffError(Exception):
    """Base of every user-facing ptediff error."""


class DslError(PtediffError):
    """A `.pte` text that cannot be accepted; carries file, line and column."""

    def __init__(
        self,
        message: str,
        *,
        filename: str = "<string>",
        line: int = 0,
        column: int = 0,
        source_line: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column
        self.source_line = source_line
        self.hint = hint

    def __str__(self) -> str:
        parts = [f"{self.filename}:{self.line}:{self.column}: {self.message}"]
        if self.source_line is not None:
            parts.append("    " + self.source_line.rstrip("\n"))
            parts.append("    " + " " * max(self.column - 1, 0) + "^")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class DslSyntaxError(DslError):
    """The text does not follow the grammar."""


class DslValidationError(DslError):
    """The text parses but does not describe a valid program."""


class ImplLoadError(PtediffError):
    """An implementation name or `package.module:Class` path that cannot be loaded."""


class SpecError(PtediffError):
    """A `=> RESULT` the spec itself does not meet: the file or the spec is wrong."""


class BudgetExceeded(PtediffError):
    """A tool limit was reached (spec worlds, scheduler steps, ...): no verdict, never a divergence.

    `what` names the budget ("spec worlds", "scheduler steps"), `limit` its value, `hint` what
    the user can do (a smaller block, a documented option that raises the limit).
    """

    def __init__(self, what: str, limit: int, hint: str = "") -> None:
        self.what = what
        self.limit = limit
        self.hint = hint
        text = f"budget exceeded: {limit} {what}"
        super().__init__(f"{text} ({hint})" if hint else text)
