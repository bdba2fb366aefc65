"""Value rules of a `.pte` program: one word, number or operation field at a time.

Each check turns what the text says into its AST value, or checks a value already in the AST, and
raises `Problem` when it may not appear; the caller (the parser while it builds the AST, or
`ptediff.dsl.validate` on a whole program) knows where it is and attaches the position.

Limits (repeated in ptediff.dsl.parse's summary of the language): swap_bits 2..8, nodes 1..64,
npages 1..4096, addresses below 2**47 (the x86-64 user address space), written values below
2**64, swapon 0..65536 slots, prio -32768..32767.
"""

from __future__ import annotations

import re
from dataclasses import fields

from ptediff.core.outcome import ERRNO, ERRNO_NAME
from ptediff.core.program import (
    BUG,
    MADVISE_ADVICE,
    OP_KINDS,
    PAGE_SIZE,
    SIGSEGV,
    Config,
    Fault,
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
    Pin,
    Pinwrite,
    Prot,
    Result,
    StateCheck,
    Swapon,
)
from ptediff.dsl.source import Problem, did_you_mean, one_of

SWAP_BITS_RANGE = range(2, 9)
NODES_RANGE = range(1, 65)
MAX_NPAGES = 4096
ADDRESS_LIMIT = 1 << 47
VALUE_LIMIT = 1 << 64
MAX_NSLOTS = 1 << 16
PRIO_RANGE = range(-32768, 32768)
ON_OFF = {"on": True, "off": False}

# Used when `impls` has no REGISTRY yet: the names docs/design.md promises.
DOCUMENTED_IMPLS = (
    "postfix",
    "prefix",
    "prefix-anon-vma-head",
    "prefix-pte-unmap-arg",
    "prefix-cow-fork-write",
    "prefix-swapon-range",
)
# Signature classes whose part after the colon is checked (the rest are the differ's business).
RESULT_SIGNATURE_PREFIX = "result"
CLASS_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")


class FieldProblem(Problem):
    """A Problem with one field of an operation, named by `part`."""

    def __init__(self, part: str, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.part = part


# ---- value checks: one word or number of the text ----------------------------------------


def prot_named(word: str) -> Prot:
    try:
        return Prot(word)
    except ValueError:
        names = [p.value for p in Prot]
        raise Problem(
            f"unknown protection {word!r}{did_you_mean(word, names)}",
            f"a protection is one of {one_of(names)}",
        ) from None


CONFIG_HINT = (
    f"config keys: swap_bits={SWAP_BITS_RANGE.start}..{SWAP_BITS_RANGE.stop - 1}, "
    f"highpte=on|off, nodes={NODES_RANGE.start}..{NODES_RANGE.stop - 1}"
)


def config_value(key: str, value: int | str) -> int | bool:
    """The Config field value for `key=value` as written (a number or a word)."""
    if key == "highpte":
        if isinstance(value, str) and value in ON_OFF:
            return ON_OFF[value]
        raise Problem(f"highpte must be on or off, not {value!r}", CONFIG_HINT)
    bounds = {"swap_bits": SWAP_BITS_RANGE, "nodes": NODES_RANGE}.get(key)
    if bounds is None:
        keys = [f.name for f in fields(Config)]
        raise Problem(f"unknown config key {key!r}{did_you_mean(key, keys)}", CONFIG_HINT)
    if not isinstance(value, int) or value not in bounds:
        raise Problem(
            f"{key} must be a number in {bounds.start}..{bounds.stop - 1}, not {value!r}",
            CONFIG_HINT,
        )
    return value


RESULT_HINT = (
    "a result is a number (a value read, 0, a node), -ERRNO, SIGSEGV or BUG; errno names: "
    + ", ".join(ERRNO)
)


def result_named(word: str) -> str:
    """`=> SIGSEGV` or `=> BUG`."""
    if word in (SIGSEGV, BUG):
        return word
    if word in ERRNO:
        raise Problem(f"unknown result {word!r}: write an errno as -{word}", RESULT_HINT)
    raise Problem(
        f"unknown result {word!r}{did_you_mean(word, [SIGSEGV, BUG, *ERRNO])}", RESULT_HINT
    )


def errno_result(word: str) -> int:
    """`=> -ENAME`."""
    if word not in ERRNO:
        raise Problem(
            f"unknown errno name {word!r}{did_you_mean(word, ERRNO)}",
            "errno names: " + ", ".join(ERRNO),
        )
    return -ERRNO[word]


def check_result(result: Result) -> None:
    if isinstance(result, str):
        result_named(result)
    elif isinstance(result, bool) or not isinstance(result, int):
        raise Problem(f"a result must be a number or a name, not {result!r}", RESULT_HINT)
    elif result < 0 and -result not in ERRNO_NAME:
        raise Problem(f"{result} is not a known -errno", RESULT_HINT)


def advice_named(word: str) -> str:
    if word in MADVISE_ADVICE:
        return word
    raise Problem(
        f"unknown advice {word!r}{did_you_mean(word, MADVISE_ADVICE)}",
        "madvise takes " + one_of(list(MADVISE_ADVICE)) + "; MADV_PAGEOUT is `pageout PROC ADDR`",
    )


PTE_STATES = ("present", "swapped", "none")
PRESENT_MODES = {"writable": True, "readonly": False}
STATE_HINT = (
    "a state check reads `expect PROC ADDR present [writable|readonly]`, `swapped` or `none`"
)


def pte_expectation(words: list[str]) -> tuple[str, bool | None]:
    """(state, writable) of a state check's words; raises StateWordProblem naming the word
    that is wrong."""
    state = words[0]
    if state not in PTE_STATES:
        raise StateWordProblem(
            0, f"unknown pte state {state!r}{did_you_mean(state, PTE_STATES)}", STATE_HINT
        )
    if len(words) == 1:
        return state, None
    mode = words[1]
    if state != "present":
        raise StateWordProblem(1, f"a {state} pte has no {mode!r} mode", STATE_HINT)
    if mode not in PRESENT_MODES:
        raise StateWordProblem(
            1, f"unknown mode {mode!r}{did_you_mean(mode, PRESENT_MODES)}", STATE_HINT
        )
    if len(words) > 2:
        raise StateWordProblem(2, f"unexpected {words[2]!r} after the state", STATE_HINT)
    return state, PRESENT_MODES[mode]


class StateWordProblem(Problem):
    """A Problem with word `index` of a state check."""

    def __init__(self, index: int, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.index = index


def registered_impls() -> tuple[str, ...]:
    """The names `expect` lines may use: impls.REGISTRY, or the documented names until it exists."""
    try:
        from ptediff.impls import REGISTRY
    except ImportError:
        return DOCUMENTED_IMPLS
    return tuple(REGISTRY)


def check_impl(name: str) -> None:
    if name.startswith("mutant:"):
        from ptediff.impls.mutants import MUTANTS

        if name not in MUTANTS:
            raise Problem(
                f"unknown mutant {name!r}{did_you_mean(name, MUTANTS)}",
                "`ptediff impls --mutants` lists the catalogue",
            )
        return
    if ":" in name:
        if not CLASS_PATH.fullmatch(name):
            raise Problem(
                f"{name!r} is not a package.module:Class path",
                "write a class path like mypkg.kernels:MyKernel",
            )
        return
    known = registered_impls()
    if name not in known:
        raise Problem(
            f"unknown implementation {name!r}{did_you_mean(name, known)}",
            "registered implementations: " + ", ".join(known) + "; or a package.module:Class path",
        )


def check_signature(signature: str) -> None:
    prefix, colon, detail = signature.partition(":")
    if colon and prefix == RESULT_SIGNATURE_PREFIX and detail not in OP_KINDS:
        raise Problem(
            f"{signature!r} names no operation{did_you_mean(detail, OP_KINDS)}",
            "result signatures are result:<op>, with <op> one of " + ", ".join(OP_KINDS),
        )
    if colon and not detail:
        raise Problem(
            f"signature {signature!r} has nothing after the colon",
            "e.g. kernel-bug:migration_entry_to_page or invariant:I6",
        )


# ---- operation fields: alignment and ranges ---------------------------------------------


def check_op_fields(op: Op, nodes: int) -> None:
    """Raise FieldProblem at the first field of `op` out of range (`nodes`: the config's count)."""

    def need(ok: bool, part: str, message: str, hint: str) -> None:
        if not ok:
            raise FieldProblem(part, message, hint)

    if isinstance(op, Map | Munmap | Mprotect | Fault | Migrate | Pageout | StateCheck | Madvise
                  | Pin | Mlock | Munlock | Mremap):
        addr = op.addr
        need(
            isinstance(addr, int) and addr >= 0 and addr % PAGE_SIZE == 0,
            "addr",
            f"address {_hex(addr)} is not a multiple of the page size",
            f"pages are {PAGE_SIZE:#x} bytes: try {_hex(addr - addr % PAGE_SIZE)}"
            if isinstance(addr, int) and 0 < addr < ADDRESS_LIMIT
            else f"addresses are multiples of {PAGE_SIZE:#x} below {ADDRESS_LIMIT:#x}",
        )
        need(
            addr < ADDRESS_LIMIT,
            "addr",
            f"address {_hex(addr)} is beyond the user address space",
            f"addresses are below {ADDRESS_LIMIT:#x}",
        )
    if isinstance(op, Map):
        need(op.addr != 0, "addr", "address 0 cannot be mapped", "map at 0x1000 or above")
    if isinstance(op, Madvise):
        need(op.advice in MADVISE_ADVICE, "advice", f"unknown advice {op.advice!r}",
             "madvise takes dontneed")
    if isinstance(op, Map | Munmap | Mprotect | Madvise | Mlock | Munlock | Mremap):
        need(
            isinstance(op.npages, int) and 1 <= op.npages <= MAX_NPAGES,
            "npages",
            f"the page count must be in 1..{MAX_NPAGES}, not {op.npages}",
            f"NPAGES counts pages of {PAGE_SIZE:#x} bytes",
        )
        need(
            op.addr + op.npages * PAGE_SIZE <= ADDRESS_LIMIT,
            "npages",
            "the range ends beyond the user address space",
            f"addresses are below {ADDRESS_LIMIT:#x}",
        )
    if isinstance(op, Mremap):
        new = op.new
        need(
            isinstance(new, int) and new % PAGE_SIZE == 0,
            "new",
            f"new address {_hex(new)} is not a multiple of the page size",
            f"pages are {PAGE_SIZE:#x} bytes: try {_hex(new - new % PAGE_SIZE)}"
            if isinstance(new, int) and 0 < new < ADDRESS_LIMIT
            else f"addresses are multiples of {PAGE_SIZE:#x} below {ADDRESS_LIMIT:#x}",
        )
        need(new != 0, "new", "address 0 cannot be mapped", "move to 0x1000 or above")
        need(
            new + op.npages * PAGE_SIZE <= ADDRESS_LIMIT,
            "new",
            "the new range ends beyond the user address space",
            f"addresses are below {ADDRESS_LIMIT:#x}",
        )
    if isinstance(op, Map | Mprotect):
        need(
            isinstance(op.prot, Prot),
            "prot",
            f"unknown protection {op.prot!r}",
            "a protection is one of none, r or rw",
        )
    if isinstance(op, Fault):
        need(
            isinstance(op.value, int) and 0 <= op.value < VALUE_LIMIT,
            "value",
            f"a written value must be in 0..{VALUE_LIMIT - 1:#x}",
            "a value is one 64-bit word",
        )
        need(
            op.write or op.value == 0,
            "value",
            "a read fault carries no value",
            "build it as Fault(proc, addr, write=False)",
        )
    if isinstance(op, Migrate):
        need(
            isinstance(op.node, int) and 0 <= op.node < nodes,
            "node",
            f"node {op.node} does not exist: the config has {nodes} node"
            + ("s" if nodes != 1 else ""),
            f"nodes are 0..{nodes - 1}; `config nodes=N` sets the count",
        )
    if isinstance(op, StateCheck):
        _check_state(op)
    if isinstance(op, Pinwrite):
        need(
            isinstance(op.value, int) and 0 <= op.value < VALUE_LIMIT,
            "value",
            f"a written value must be in 0..{VALUE_LIMIT - 1:#x}",
            "a value is one 64-bit word",
        )
    if isinstance(op, Swapon):
        need(
            isinstance(op.nslots, int) and 0 <= op.nslots <= MAX_NSLOTS,
            "nslots",
            f"the slot count must be in 0..{MAX_NSLOTS}, not {op.nslots}",
            "NSLOTS counts usable slots; 0 makes swapon fail with -EINVAL",
        )
        need(
            op.prio is None or op.prio in PRIO_RANGE,
            "prio",
            f"prio must be in {PRIO_RANGE.start}..{PRIO_RANGE.stop - 1}",
            "a swap priority is a 16-bit number",
        )


def _check_state(op: StateCheck) -> None:
    if op.state not in PTE_STATES:
        raise FieldProblem("state", f"unknown pte state {op.state!r}", STATE_HINT)
    if op.writable is not None and op.state != "present":
        raise FieldProblem("state", f"a {op.state} pte is neither writable nor read-only",
                           STATE_HINT)


def _hex(value: object) -> str:
    return hex(value) if isinstance(value, int) else repr(value)


__all__ = [
    "FieldProblem",
    "advice_named",
    "check_impl",
    "check_op_fields",
    "check_result",
    "check_signature",
    "config_value",
    "errno_result",
    "prot_named",
    "pte_expectation",
    "registered_impls",
    "result_named",
]
