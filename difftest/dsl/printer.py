"""Write a Program back as canonical `.pte` text.

The canonical form, whose parse gives back an equal Program:

* the leading comments, each as `# TEXT`;
* a `config` line naming only the keys that differ from the defaults (none when all are default);
* the `expect` lines, in order;
* a blank line between this header and the operations (when both exist);
* one operation per line, its keyword padded to the widest keyword (`mprotect`) so that the
  process names line up; addresses and written values in lowercase hex, page counts, nodes,
  slot counts and priorities in decimal; `=> RESULT` via `ptediff.core.outcome.format_result`
  (a value read in hex, an errno as -ENAME);
* a parallel block as `parallel {`, one `thread { OP }` line per single-operation thread or a
  `thread {` ... `}` group, then `}` and the `schedule` if it has one.

Comments after operations, and comment lines among the operations, are not part of the AST and
are not written back.
"""

from __future__ import annotations

from dataclasses import fields

from ptediff.core.outcome import format_result
from ptediff.core.program import (
    OP_KINDS,
    Config,
    Exit,
    Expect,
    Fault,
    Fork,
    Map,
    Migrate,
    Mprotect,
    Munmap,
    Op,
    Pageout,
    Parallel,
    Program,
    StateCheck,
    Step,
    Swapon,
    Thread,
)

KEYWORD_WIDTH = max(len(kind) for kind in OP_KINDS)
INDENT = "  "


def format_program(program: Program) -> str:
    """The canonical text of `program`, ending with a newline."""
    header = [_comment(text) for text in program.comments]
    config = format_config(program.config)
    if config:
        header.append(config)
    header.extend(format_expect(expect) for expect in program.expects)
    body = [line for step in program.steps for line in _step_lines(step)]
    lines = header + ([""] if header and body else []) + body
    return "".join(line + "\n" for line in lines)


def format_op(op: Op, *, with_expect: bool = True, pad: bool = False) -> str:
    """One operation on one line, e.g. `fault p0 0x1000 write 0xaa => 0`.

    pad: pad the keyword to the widest one, as the canonical program text does.
    """
    keyword = op.KIND.ljust(KEYWORD_WIDTH) if pad else op.KIND
    text = " ".join([keyword, *_arguments(op)])
    if with_expect and op.expect is not None:
        text += " => " + format_expect_result(op)
    return text


def format_expect_result(op: Op) -> str:
    """The `=> RESULT` part of `op` (without the arrow); a read fault's value in hex."""
    assert op.expect is not None
    reads_value = isinstance(op, Fault) and not op.write
    value = reads_value and isinstance(op.expect, int) and op.expect >= 0
    return format_result(op.expect, value=value)


def format_config(config: Config) -> str:
    """`config KEY=VALUE...` for the keys that differ from the defaults, or ''."""
    default = Config()
    items = []
    for f in fields(Config):
        value = getattr(config, f.name)
        if value != getattr(default, f.name):
            shown = ("on" if value else "off") if isinstance(value, bool) else str(value)
            items.append(f"{f.name}={shown}")
    return "config " + " ".join(items) if items else ""


def format_expect(expect: Expect) -> str:
    return " ".join(["expect", expect.impl, expect.verdict, *expect.signatures])


def format_step(step: Step) -> str:
    """One top-level step (an operation or a whole parallel block), without a trailing newline."""
    return "\n".join(_step_lines(step))


def _comment(text: str) -> str:
    return f"# {text}" if text else "#"


def _step_lines(step: Step) -> list[str]:
    if isinstance(step, Parallel):
        return _parallel_lines(step)
    return [format_op(step, pad=True)]


def _parallel_lines(block: Parallel) -> list[str]:
    lines = ["parallel {"]
    for thread in block.threads:
        lines.extend(INDENT + line for line in _thread_lines(thread))
    closing = "}"
    if block.schedule is not None:
        closing += " schedule " + " ".join(str(entry) for entry in block.schedule)
    lines.append(closing)
    return lines


def _thread_lines(thread: Thread) -> list[str]:
    if len(thread.ops) == 1:
        return [f"thread {{ {format_op(thread.ops[0])} }}"]
    inner = [INDENT + format_op(op, pad=True) for op in thread.ops]
    return ["thread {", *inner, "}"]


def _arguments(op: Op) -> list[str]:
    if isinstance(op, Map | Mprotect):
        return [op.proc, hex(op.addr), str(op.npages), op.prot.value]
    if isinstance(op, Munmap):
        return [op.proc, hex(op.addr), str(op.npages)]
    if isinstance(op, Fault):
        access = ["write", hex(op.value)] if op.write else ["read"]
        return [op.proc, hex(op.addr), *access]
    if isinstance(op, Fork):
        return [op.parent, op.child]
    if isinstance(op, Exit):
        return [op.proc]
    if isinstance(op, Migrate):
        return [op.proc, hex(op.addr), str(op.node), *(["unlocked"] if op.unlocked else [])]
    if isinstance(op, Swapon):
        return [str(op.nslots), *([f"prio={op.prio}"] if op.prio is not None else [])]
    if isinstance(op, Pageout):
        return [op.proc, hex(op.addr)]
    if isinstance(op, StateCheck):
        return [op.proc, hex(op.addr), *op.words]
    raise TypeError(f"no printed form for {type(op).__name__}")
