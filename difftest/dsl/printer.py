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

What a person wrote besides the program is kept (the parser's notes, `ptediff.dsl.notes`):
comments on their own lines, indented like the statement they precede; comments at the end of a
line, aligned one column past the longest line of their group (a group ends at a blank or
comment-only line); one blank line for each run of blank lines (none right after an opening
line or at the start of the body); and each number's base, decimal or hex (`=> 0` stays `=> 0`).
Only spacing, case, leading zeros and the order of the header are canonical. A default `config`
line is not written, but a comment on it is kept on a line of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields

from ptediff.core.outcome import format_result
from ptediff.core.program import (
    NO_NOTES,
    OP_KINDS,
    Config,
    Exit,
    Expect,
    Fault,
    Fork,
    Madvise,
    Map,
    Migrate,
    Mlock,
    Mprotect,
    Mremap,
    Munlock,
    Munmap,
    Op,
    Pageout,
    Parallel,
    Pin,
    Pinread,
    Pinwrite,
    Program,
    StateCheck,
    Step,
    Swapon,
    Thread,
    Unpin,
)

KEYWORD_WIDTH = max(len(kind) for kind in OP_KINDS)
INDENT = "  "


# A printed line: (code, trailing comment). ("", "text") is a comment line, ("", None) blank.
Line = tuple[str, str | None]
BLANK: Line = ("", None)


def format_program(program: Program, *, notes: bool = True) -> str:
    """The canonical text of `program`, ending with a newline.

    notes: write the comments, blank lines and number spellings the parser kept (False: the
    bare canonical form, as content hashes use).
    """
    keep = notes
    header: list[Line] = _header(program, keep)
    config = format_config(program.config)
    config_notes = program.config_notes if keep else NO_NOTES
    if config:
        header += [*_before(config_notes.before, ""), (config, config_notes.after)]
    else:  # a default config line is not written; what was said on it is kept
        header += [("", text) for text in config_notes.comments()]
    for expect in program.expects:
        expect_notes = expect.notes if keep else NO_NOTES
        header += [*_before(expect_notes.before, ""), (format_expect(expect), expect_notes.after)]
    body: list[Line] = []
    for step in program.steps:
        body += _step(step, "", keep)
    tail = _before(program.notes.inner, "") if keep else []
    if header and body:
        header.append(BLANK)
    return _render(_tidy(header + body + tail))


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
    """The `=> RESULT` part of `op` (without the arrow): as spelled when parsed, else a read
    fault's value in hex, an errno as -ENAME."""
    assert op.expect is not None
    base = dict(op.spelling).get("expect")
    if isinstance(op.expect, int) and base is not None:
        digits = _in_base(abs(op.expect), base)
        return "-" + digits if op.expect < 0 else digits
    reads_value = (isinstance(op, Fault) and not op.write) or isinstance(op, Pinread)
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
    """One top-level step (an operation or a whole parallel block), without a trailing newline
    or notes."""
    return _render(_step(step, "", False)).rstrip("\n")


def _comment(text: str) -> str:
    return f"# {text}" if text else "#"


def _header(program: Program, keep: bool) -> list[Line]:
    """The leading comments, with their blank lines when the parser's layout still fits."""
    layout = program.notes.before if keep else ()
    if [text for text in layout if text is not None] == list(program.comments):
        return [("", text) if text is not None else BLANK for text in layout]
    return [("", text) for text in program.comments]


def _before(items: Iterable[str | None], indent: str) -> list[Line]:
    return [(indent, text) if text is not None else BLANK for text in items]


def _step(step: Step, indent: str, keep: bool) -> list[Line]:
    if isinstance(step, Parallel):
        return _parallel(step, indent, keep)
    notes = step.notes if keep else NO_NOTES
    op = step if keep else _unspelled(step)
    return [*_before(notes.before, indent), (indent + format_op(op, pad=True), notes.after)]


def _parallel(block: Parallel, indent: str, keep: bool) -> list[Line]:
    notes = block.notes if keep else NO_NOTES
    lines = [*_before(notes.before, indent), (indent + "parallel {", notes.after)]
    for thread in block.threads:
        lines += _thread(thread, indent + INDENT, keep)
    lines += _before(notes.inner, indent + INDENT)
    closing = "}"
    if block.schedule is not None:
        closing += " schedule " + " ".join(str(entry) for entry in block.schedule)
    return [*lines, (indent + closing, notes.close)]


def _thread(thread: Thread, indent: str, keep: bool) -> list[Line]:
    notes = thread.notes if keep else NO_NOTES
    ops = [op if keep else _unspelled(op) for op in thread.ops]
    lines = _before(notes.before, indent)
    only = ops[0].notes if len(ops) == 1 else None
    if only is not None and not only.before and not notes.inner:
        # One operation on the thread's line: the first comment said on it ends the line, any
        # other follows on a line of its own.
        said = [text for text in (notes.after, only.after, notes.close) if text is not None]
        comment = said[0] if said else None
        lines.append((f"{indent}thread {{ {format_op(ops[0])} }}", comment))
        return lines + [(indent, text) for text in said[1:]]
    lines.append((indent + "thread {", notes.after))
    for op in ops:
        lines += _before(op.notes.before, indent + INDENT)
        lines.append((indent + INDENT + format_op(op, pad=True), op.notes.after))
    lines += _before(notes.inner, indent + INDENT)
    return [*lines, (indent + "}", notes.close)]


def _unspelled(op: Op) -> Op:
    from dataclasses import replace

    return replace(op, notes=NO_NOTES, spelling=()) if op.notes or op.spelling else op


def _tidy(lines: list[Line]) -> list[Line]:
    """No blank line at the start or end, after an opening line, or twice in a row."""
    tidy: list[Line] = []
    for line in lines:
        if line == BLANK and (not tidy or tidy[-1] == BLANK or tidy[-1][0].endswith("{")):
            continue
        tidy.append(line)
    while tidy and tidy[-1] == BLANK:
        tidy.pop()
    return tidy


def _render(lines: list[Line]) -> str:
    """The text, trailing comments aligned per group of lines with code."""
    out: list[str] = []
    group: list[Line] = []

    def flush() -> None:
        width = max((len(code) for code, comment in group if comment is not None), default=0)
        for code, comment in group:
            out.append(code if comment is None else f"{code.ljust(width)}  {_comment(comment)}")
        group.clear()

    for code, comment in lines:
        if code.strip():
            group.append((code, comment))
            continue
        flush()
        out.append("" if comment is None else f"{code}{_comment(comment)}")
    flush()
    return "".join(line + "\n" for line in out)


def _number(op: Op, name: str, value: int, default: Callable[[int], str]) -> str:
    """`value` in the base it was written in, else in the field's canonical base."""
    base = dict(op.spelling).get(name)
    return default(value) if base is None else _in_base(value, base)


def _in_base(value: int, base: int) -> str:
    return hex(value) if base == 16 else str(value)


def _arguments(op: Op) -> list[str]:
    def num(name: str, default: Callable[[int], str] = str) -> str:
        return _number(op, name, getattr(op, name), default)

    if isinstance(op, Map | Mprotect):
        return [op.proc, num("addr", hex), num("npages"), op.prot.value]
    if isinstance(op, Munmap):
        return [op.proc, num("addr", hex), num("npages")]
    if isinstance(op, Fault):
        access = ["write", num("value", hex)] if op.write else ["read"]
        return [op.proc, num("addr", hex), *access]
    if isinstance(op, Fork):
        return [op.parent, op.child]
    if isinstance(op, Exit):
        return [op.proc]
    if isinstance(op, Migrate):
        return [op.proc, num("addr", hex), num("node"), *(["unlocked"] if op.unlocked else [])]
    if isinstance(op, Swapon):
        prio = []
        if op.prio is not None:
            magnitude = _number(op, "prio", abs(op.prio), str)
            prio = [f"prio={'-' if op.prio < 0 else ''}{magnitude}"]
        return [num("nslots"), *prio]
    if isinstance(op, Pageout):
        return [op.proc, num("addr", hex)]
    if isinstance(op, Pin):
        return [op.proc, num("addr", hex), *(["write"] if op.write else [])]
    if isinstance(op, Unpin | Pinread):
        return [num("pin")]
    if isinstance(op, Pinwrite):
        return [num("pin"), num("value", hex)]
    if isinstance(op, Madvise):
        return [op.proc, num("addr", hex), num("npages"), op.advice]
    if isinstance(op, Mlock | Munlock):
        return [op.proc, num("addr", hex), num("npages")]
    if isinstance(op, Mremap):
        return [op.proc, num("addr", hex), num("npages"), num("new", hex)]
    if isinstance(op, StateCheck):
        return [op.proc, num("addr", hex), *op.words]
    raise TypeError(f"no printed form for {type(op).__name__}")
