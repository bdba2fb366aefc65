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
Comments after an operation, and comment lines after the first statement, are not kept.

`parse` and `parse_file` raise DslSyntaxError for text that does not follow the grammar (with
what would be valid at that point as the hint) and DslValidationError for a well-formed text
that describes an invalid program (see ptediff.dsl.validate and ptediff.dsl.values).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lark.exceptions import VisitError
from ptediff.core.errors import DslError
from ptediff.core.program import Program
from ptediff.dsl.source import SourceText
from ptediff.dsl.syntax import parse_tree
from ptediff.dsl.transform import ToProgram
from ptediff.dsl.validate import validate


def parse(text: str, filename: str = "<string>") -> Program:
    """Parse and validate a program; `Program.source` is `text`."""
    source = SourceText(filename, text)
    tree = parse_tree(text if text.endswith("\n") else text + "\n", source)
    try:
        program = ToProgram(source).transform(tree)
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
