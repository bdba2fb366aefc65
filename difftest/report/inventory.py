"""Reports that list things: the `.pte` files `check` validated, the implementations
`impls` registers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ptediff.core.errors import DslError, PtediffError
from ptediff.core.program import Program
from ptediff.report.blocks import Block, Cell, table


@dataclass(frozen=True)
class CheckedFile:
    path: str
    program: Program | None  # None when it did not parse or validate
    error: PtediffError | None = None


def check_blocks(checked: Sequence[CheckedFile]) -> list[Block]:
    rows: list[list[Cell]] = []
    for item in checked:
        if item.program is None:
            rows.append([item.path, f"error: {short_error(item.error)}", None, None, None])
            continue
        program = item.program
        expects = ", ".join(f"{e.impl} {e.verdict}" for e in program.expects) or "-"
        rows.append([item.path, "ok", len(program.ops()), len(program.blocks()), expects])
    return [table(("file", "status", "ops", "parallel blocks", "expect"), rows)]


def short_error(error: PtediffError | None) -> str:
    """One line: `line 3, column 7: unknown operation`, without the caret display."""
    if isinstance(error, DslError):
        return f"line {error.line}, column {error.column}: {error.message}"
    return str(error) if error is not None else "unknown error"


def impls_blocks(registry: Mapping[str, type]) -> list[Block]:
    rows = [
        [name, class_path(cls), getattr(cls, "REVERTS", "") or "nothing (the fixed code)"]
        for name, cls in registry.items()
    ]
    return [table(("implementation", "class", "reverts"), rows)]


def mutants_blocks(catalogue: Mapping[str, type]) -> list[Block]:
    """The mutant catalogue: where each bug sits, what it is, and its witness (or why none)."""
    rows = [
        [
            name,
            getattr(cls, "AREA", ""),
            f"{getattr(cls, 'FUNCTION', '')} in {getattr(cls, 'FILE', '')}",
            getattr(cls, "REVERTS", ""),
            _observable(cls),
        ]
        for name, cls in catalogue.items()
    ]
    return [table(("mutant", "area", "kernel function", "bug", "observable"), rows,
                  title="mutants (not registered; --impl mutant:NAME)")]


def class_path(cls: type) -> str:
    """`package.module:Class`, the form `--impl` accepts."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _observable(cls: type) -> str:
    """How a mutant is observed: by its witness program, or never (and why)."""
    why: str = getattr(cls, "EQUIVALENT", "")
    return f"equivalent: {why}" if why else "witness"
