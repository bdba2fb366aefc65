"""Report blocks (headings, text, tables, program listings) and their rendering.

A report is built as a list of blocks and only then rendered, so one construction serves both
the terminal (`plain`: tabulate's "simple" tables) and reviews or CI summaries (`markdown`:
GitHub tables, fenced listings). Scripts get JSON instead, from `ptediff.report.report_json`,
which works from the domain objects rather than from these tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from tabulate import tabulate

TextFormat = Literal["plain", "markdown"]

Cell = str | int | float | None


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1  # 1: a file or command; 2: an implementation inside it; 3: a section


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    title: str | None = None


@dataclass(frozen=True)
class Listing:
    """A block of DSL text (a program), shown verbatim."""

    text: str


Block = Heading | Text | Table | Listing


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Cell]], title: str | None = None
) -> Table:
    return Table(tuple(headers), tuple(tuple(row) for row in rows), title)


def render(blocks: Iterable[Block], fmt: TextFormat = "plain") -> str:
    """Render blocks as terminal text or GitHub markdown; the result ends with a newline."""
    parts = [_render_markdown(b) if fmt == "markdown" else _render_plain(b) for b in blocks]
    return "\n\n".join(p for p in parts if p) + "\n" if parts else ""


def _render_plain(block: Block) -> str:
    match block:
        case Heading(text, level):
            underline = {1: "=", 2: "-"}.get(level)
            return f"{text}\n{underline * len(text)}" if underline else f"{text}:"
        case Text(text):
            return text
        case Listing(text):
            lines = text.rstrip("\n").split("\n")
            return "\n".join("    " + line if line else "" for line in lines)
        case Table(headers, rows, title):
            body = tabulate(
                [[_plain_cell(c) for c in row] for row in rows],
                headers=list(headers),
                tablefmt="simple",
                disable_numparse=True,
            )
            return f"{title}:\n{body}" if title else body
    raise TypeError(f"not a report block: {block!r}")


def _render_markdown(block: Block) -> str:
    match block:
        case Heading(text, level):
            return "#" * min(level + 1, 6) + " " + text
        case Text(text):
            return text
        case Listing(text):
            return "```\n" + text.rstrip("\n") + "\n```"
        case Table(headers, rows, title):
            body = tabulate(
                [[_markdown_cell(c) for c in row] for row in rows],
                headers=[_markdown_cell(h) for h in headers],
                tablefmt="github",
                disable_numparse=True,
            )
            return f"**{title}**\n\n{body}" if title else body
    raise TypeError(f"not a report block: {block!r}")


def _plain_cell(cell: Cell) -> str:
    return "" if cell is None else str(cell)


def _markdown_cell(cell: Cell) -> str:
    # In a GitHub table a pipe ends the cell and a newline ends the row.
    return _plain_cell(cell).replace("|", "\\|").replace("\n", "<br>")
