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
    madvise  p0 0x1000 2 dontneed              PROC ADDR NPAGES ADVICE (dontneed)
    pin      p0 0x1000 write                   PROC ADDR [write]: pins are 0, 1, ... in order
    pinwrite 0 0x5                             PIN VALUE (write pins); also pinread PIN, unpin PIN
    mlock    p0 0x1000 2                       PROC ADDR NPAGES; also munlock PROC ADDR NPAGES
    mremap   p0 0x1000 2 0x5000 => 0x5000      PROC OLD NPAGES NEW (MREMAP_MAYMOVE|MREMAP_FIXED)
    expect   p0 0x1000 present writable        state check: present [writable|readonly] | swapped
                                               | none (must hold in every outcome the spec allows)
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
Comments (on their own lines and after statements), blank lines and whether a number was
written in decimal or hex are kept as notes for the printer (`ptediff.dsl.notes`); they never
change the program. Line ends are `\n`; `\r\n` and a lone `\r` are read as `\n` (as Python's
text files read them), so that a program means the same whichever way it is read.

Limits that keep every input a clear error: a number may not reach 2**64 (no field takes one),
parallel blocks do not nest (checked before the tree is built, at any depth), and a text with no
operation is refused (a regression file that runs nothing would pass vacuously).

`parse` and `parse_file` raise DslSyntaxError for text that does not follow the grammar (with
what would be valid at that point as the hint) and DslValidationError for a well-formed text
that describes an invalid program (see ptediff.dsl.validate and ptediff.dsl.values).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lark import Token, Tree
from lark.exceptions import VisitError
from ptediff.core.errors import DslError
from ptediff.core.program import Pos, Program
from ptediff.dsl.notes import attach, collect_notes
from ptediff.dsl.source import Problem, SourceText
from ptediff.dsl.syntax import parse_tree
from ptediff.dsl.transform import ToProgram
from ptediff.dsl.validate import validate


def normalize_newlines(text: str) -> str:
    """`\r\n` and lone `\r` as `\n`, as Python's universal-newline reading does."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def parse(text: str, filename: str = "<string>") -> Program:
    """Parse and validate a program; `Program.source` is `text` (line ends normalized)."""
    text = normalize_newlines(text)
    source = SourceText(filename, text)
    tree = parse_tree(text if text.endswith("\n") else text + "\n", source)
    _refuse_nesting(tree, source)
    builder = ToProgram(source)
    try:
        program = builder.transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, DslError):
            raise error.orig_exc from None
        raise
    program = dataclasses.replace(program, source=text)
    validate(program, source)
    if not program.steps:
        raise source.error(
            "the program has no operation" if text.strip() else "the file is empty",
            Pos(1, 1),
            "a program needs at least one operation: a test that runs nothing would always pass",
        )
    fields, notes = collect_notes(text, builder.starts, builder.closes)
    return attach(program, builder.config_line, fields, builder.spellings, notes)


def _refuse_nesting(tree: Tree[Token], source: SourceText) -> None:
    """The first `parallel` inside a thread, as an error, found without recursion (a tree
    nested thousands deep would exhaust Python's stack in the transformer)."""
    stack: list[tuple[Tree[Token], bool]] = [(tree, False)]
    while stack:
        node, in_thread = stack.pop()
        if node.data == "parallel" and in_thread:
            keyword = node.children[0]
            assert isinstance(keyword, Token)
            problem = Problem(
                "parallel blocks do not nest",
                "a thread holds operations; write the inner threads as threads of the outer block",
            )
            raise source.error(problem.message, Pos(keyword.line or 1, keyword.column or 1),
                               problem.hint)
        inside = in_thread or node.data == "thread"
        children = [child for child in node.children if isinstance(child, Tree)]
        stack.extend((child, inside) for child in reversed(children))


def parse_file(path: str | Path) -> Program:
    """Parse and validate a `.pte` file; errors name the file."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DslError("no such file", filename=str(path)) from None
    except UnicodeDecodeError as error:
        raise DslError(
            f"not UTF-8 text (byte {error.start})", filename=str(path), hint="a .pte file is text"
        ) from None
    except OSError as error:
        raise DslError(f"cannot read the file: {error.strerror}", filename=str(path)) from None
    return parse(text, str(path))
