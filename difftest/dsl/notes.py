"""Comments, blank lines and number spellings: what the parser keeps for the printer.

Nothing here changes what a program means. After the parse the text is read once more line by
line (a `#` starts a comment: no token contains one), and every comment and blank line is given
to a statement:

* own-line comments and blank lines go to the first statement that starts on the next line
  with code (`Notes.before`); when that line only closes a block, to the block (`Notes.inner`);
  after the last statement, to the program (`Program.notes.inner`); before the first one, to
  the program's header (`Program.comments`, and their layout in `Program.notes.before`);
* a comment at the end of a line goes to the last statement that starts on that line
  (`Notes.after`), or, on a line that starts none, to the last block closed there
  (`Notes.close`).

The program is then rebuilt with the notes and spellings in place (`dataclasses.replace`: the
AST is frozen); as they never take part in equality, the rebuilt program equals the parsed one.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from ptediff.core.program import NO_NOTES, Expect, Notes, Op, Parallel, Pos, Program, Thread


def comment_text(line: str) -> str | None:
    """The comment of a line (after `#` and one space, trailing blanks dropped), or None."""
    at = line.find("#")
    if at < 0:
        return None
    body = line[at + 1 :].rstrip(" \t\r")
    return body[1:] if body.startswith(" ") else body


def collect_notes(
    text: str, starts: list[tuple[Pos, object]], closes: list[tuple[Pos, object]]
) -> tuple[dict[int, dict[str, Any]], Notes]:
    """Per node id the Notes fields it gets; and the program's own Notes."""
    starts_on: dict[int, list[tuple[int, object]]] = defaultdict(list)
    for pos, node in starts:
        starts_on[pos.line].append((pos.column, node))
    closes_on: dict[int, list[tuple[int, object]]] = defaultdict(list)
    for pos, node in closes:
        closes_on[pos.line].append((pos.column, node))
    fields: dict[int, dict[str, Any]] = defaultdict(dict)
    header: list[str | None] = []
    pending: list[str | None] = []
    seen_statement = False
    for number, line in enumerate(text.split("\n"), start=1):
        comment = comment_text(line)
        code = line[: line.find("#")] if comment is not None else line
        if not code.strip(" \t\r"):
            if comment is not None:
                pending.append(comment)
            elif pending[-1:] != [None] and (pending or seen_statement):
                pending.append(None)  # a run of blank lines counts once
            continue
        here = sorted(starts_on.get(number, []), key=lambda item: item[0])
        closing = sorted(closes_on.get(number, []), key=lambda item: item[0])
        if not seen_statement:
            header, pending = pending, []
            seen_statement = True
        if pending:
            if here:
                fields[id(here[0][1])]["before"] = tuple(pending)
            elif closing:
                fields[id(closing[0][1])]["inner"] = tuple(pending)
            pending = []
        if comment is not None:
            if here:
                fields[id(here[-1][1])]["after"] = comment
            elif closing:
                fields[id(closing[-1][1])]["close"] = comment
    while pending and pending[-1] is None:
        pending.pop()
    program_notes = Notes(before=tuple(header), inner=tuple(pending))
    return fields, program_notes


def attach(
    program: Program,
    config_line: object | None,
    fields: dict[int, dict[str, Any]],
    spellings: dict[int, tuple[tuple[str, int], ...]],
    program_notes: Notes,
) -> Program:
    """`program` rebuilt with each statement's notes and each operation's spelling."""

    def notes_of(node: object) -> Notes:
        found = fields.get(id(node))
        return Notes(**found) if found else NO_NOTES

    def op(node: Op) -> Op:
        notes, spelling = notes_of(node), spellings.get(id(node), ())
        if not notes and not spelling:
            return node
        return dataclasses.replace(node, notes=notes, spelling=spelling)

    def thread(node: Thread) -> Thread:
        return dataclasses.replace(node, ops=tuple(map(op, node.ops)), notes=notes_of(node))

    def step(node: Op | Parallel) -> Op | Parallel:
        if isinstance(node, Parallel):
            threads = tuple(map(thread, node.threads))
            return dataclasses.replace(node, threads=threads, notes=notes_of(node))
        return op(node)

    def expect(node: Expect) -> Expect:
        notes = notes_of(node)
        return dataclasses.replace(node, notes=notes) if notes else node

    return dataclasses.replace(
        program,
        steps=tuple(map(step, program.steps)),
        expects=tuple(map(expect, program.expects)),
        notes=program_notes,
        config_notes=notes_of(config_line) if config_line is not None else NO_NOTES,
    )


__all__ = ["attach", "collect_notes", "comment_text"]
