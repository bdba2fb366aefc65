"""How a command ends: its report on stdout, errors on stderr, its exit code.

Exit codes: 0 nothing unexpected; 1 an unexpected divergence or a failed expectation (or, for
`fmt --check`, a file that would change); 2 a usage, parse or validation error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ptediff.core.errors import DslError, PtediffError
from ptediff.report.blocks import Block, render

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_ERROR = 2


class UsageError(PtediffError):
    """A command-line argument that cannot be acted on (missing file, conflicting options)."""


def emit(
    fmt: str,
    blocks: Sequence[Block],
    document: Callable[[], dict[str, Any]],
    out: TextIO | None = None,
) -> None:
    """Print a report in the chosen format: text from blocks, or the JSON document."""
    out = out or sys.stdout
    if fmt == "json":
        out.write(json.dumps(document(), indent=2, sort_keys=False) + "\n")
    else:
        out.write(render(blocks, "markdown" if fmt == "markdown" else "plain"))


def print_error(error: PtediffError) -> None:
    """A DSL error already names file:line:col and shows the caret; others get a prefix."""
    print(error if isinstance(error, DslError) else f"ptediff: error: {error}", file=sys.stderr)
