"""One exception hierarchy for everything ptediff reports to a user as an error.

Kernel BUGs hit by a model are not errors: they are outcomes (see impls.bugs.KernelBug and
ptediff.core.outcome.BugReport). Divergences found by the search have their own family in
ptediff.search.property.
"""

from __future__ import annotations

from typing import Any


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
            shown, caret = _window(self.source_line.rstrip("\n"), max(self.column - 1, 0))
            parts.append("    " + shown)
            parts.append("    " + " " * caret + "^")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


SHOWN_LINE = 100  # characters of a source line an error shows around its caret


def _window(line: str, caret: int) -> tuple[str, int]:
    """At most SHOWN_LINE characters of `line` around `caret` (cut ends marked `...`), and
    where the caret falls in them; a line of thousands of characters stays one screen line."""
    if len(line) <= SHOWN_LINE:
        return line, caret
    start = max(0, min(caret - SHOWN_LINE // 2, len(line) - SHOWN_LINE))
    shown = line[start : start + SHOWN_LINE]
    prefix = "..." if start > 0 else ""
    suffix = "..." if start + SHOWN_LINE < len(line) else ""
    return prefix + shown + suffix, len(prefix) + caret - start


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


class ModelCrash(Exception):
    """A kernel model raised a Python exception: a bug in the model (a user's class, usually),
    not a kernel BUG it models. Reported as the divergence class `crash:<type>` with the place
    it was raised, never as a traceback; not a PtediffError (it is a finding, exit 1)."""

    def __init__(self, impl: str, type_name: str, message: str, where: str) -> None:
        self.impl = impl
        self.type_name = type_name
        self.message = message
        self.where = where  # file:line in function, the innermost frame
        self.trace: list[Any] = []  # the scheduler steps taken before it (TraceStep)
        super().__init__(self.describe())

    @property
    def cls(self) -> str:
        return f"crash:{self.type_name}"

    def describe(self) -> str:
        text = f"{self.type_name}: {self.message}" if self.message else self.type_name
        return f"{text} (at {self.where})" if self.where else text

    @classmethod
    def of(cls, impl: str, error: BaseException) -> ModelCrash:
        """The crash `error` (raised by the model `impl`), located at its innermost frame."""
        import traceback

        frames = traceback.extract_tb(error.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
        return cls(impl, type(error).__name__, str(error), where)
