"""Judge one run of a kernel model against every outcome the spec allows.

`judge` finds an allowed outcome equal to the model's (frames up to renaming, see
`ptediff.core.canon`) — the model agrees, and the judgement names the allowances that outcome used —
or else reports a `Divergence` against the *closest* allowed outcome (fewest differing result
rows and pte fields): the differing ptes field by field, the differing results, the model's
kernel BUGs, invariant violations and deadlock, and the signatures that classify it.

`ptediff.judge.classify` turns the judgements of a post-fix and a pre-fix model into the verdict
of a fix: fixed / fix-incomplete / latent / spec-gap (or agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ptediff.core.canon import (
    canonical_labels,
    frame_space,
    sharing_groups,
    sorted_keys,
)
from ptediff.core.outcome import NONE_PTE, BugReport, Key, Outcome, PteState, Violation
from ptediff.core.program import Fault, Op, Parallel, Pinread, Program, Result
from ptediff.judge.match import index_of
from ptediff.judge.signature import (
    CONTRACT,
    FIELD_CLASS,
    IMPLEMENTATION_RESULTS,
    Signature,
    check_level,
    ordered,
)

# Which fields are meaningful for each pte kind (the others are None or irrelevant there).
_FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    "none": (),
    "present": ("writable", "node", "data", "sharing"),
    "swap": ("data", "swap", "sharing"),
    "migration": ("writable", "sharing"),
}


@dataclass(frozen=True)
class PteRow:
    """One pte that differs: both sides (None = no such key there) and the differing fields."""

    key: Key
    spec: PteState | None
    model: PteState | None
    spec_frame: str | None  # canonical label (P<n> / S<n>) on the spec side
    model_frame: str | None
    fields: tuple[str, ...]  # among kind, writable, sharing, node, data, swap

    @property
    def proc(self) -> str:
        return self.key[0]

    @property
    def addr(self) -> int:
        return self.key[1]


@dataclass(frozen=True)
class ResultRow:
    """One operation whose result differs (None = the side has no result for it)."""

    op: int
    kind: str  # the op's kind (map, fault, ...)
    line: int | None  # source line, when the program came from text
    spec: Result | None
    model: Result | None


@dataclass(frozen=True)
class Divergence:
    signatures: tuple[Signature, ...]  # primary first
    closest: Outcome  # the allowed outcome the model is compared with
    pte_rows: tuple[PteRow, ...]
    result_rows: tuple[ResultRow, ...]
    bugs: tuple[BugReport, ...]
    violations: tuple[Violation, ...]
    deadlock: str | None
    # Classes that first show at or after the operation of the model's first kernel BUG (and
    # are not that BUG): consequences of the dead task (its result, the locks it still holds,
    # what its process never did), not separate findings.
    secondary: frozenset[str] = frozenset()

    @property
    def primary(self) -> Signature:
        return self.signatures[0]

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(s.cls for s in self.signatures)

    @property
    def level(self) -> str:
        """`contract` when any signature is a contract breach, else `implementation`."""
        return CONTRACT if any(s.level == CONTRACT for s in self.signatures) else (
            self.primary.level)


@dataclass(frozen=True)
class Judgement:
    """The differ's answer for one model outcome."""

    outcome: Outcome  # the model's outcome that was judged
    divergence: Divergence | None = None
    # Used by the allowed outcome that matched (none when diverging: see divergence.closest).
    allowances: frozenset[str] = frozenset()
    matched: Outcome | None = None  # that allowed outcome (None when diverging)

    @property
    def agrees(self) -> bool:
        return self.divergence is None

    @property
    def signatures(self) -> tuple[Signature, ...]:
        return self.divergence.signatures if self.divergence is not None else ()

    @property
    def signatures_classes(self) -> frozenset[str]:
        return frozenset(s.cls for s in self.signatures)


def judge(
    program: Program,
    allowed: Sequence[Outcome],
    outcome: Outcome,
    *,
    level: str = "all",
    exact_match: bool = True,
) -> Judgement:
    """Compare a model's outcome with the spec's allowed outcomes.

    `level="contract"` compares only what a program can see: results, the data each page
    would read, kernel BUGs, deadlocks and the two contract state properties (shared-writable,
    writable-in-readonly-vma); pte kinds, write bits, frames, nodes, swap devices and invariant
    violations are left out (docs/semantics.md, "Two levels").

    `exact_match`: look the outcome up by match key first (`ptediff.judge.match`): one at
    distance zero is the closest, no ranking needed. False: always rank (same judgement).
    """
    contract = check_level(level) == CONTRACT
    found = index_of(allowed).find(outcome) if exact_match and not contract else None
    if found is not None:
        closest, distance = allowed[found], 0
        pte_rows: list[PteRow] = []
        result_rows: list[ResultRow] = []
    else:
        closest, distance, pte_rows, result_rows = _closest(program, allowed, outcome, contract)
    violations = () if contract else tuple(outcome.violations)
    properties_differ = bool(
        state_properties(outcome.state, {**closest.vma_prot, **outcome.vma_prot})
        - state_properties(closest.state, closest.vma_prot)
    )
    clean = not outcome.bugs and not violations and outcome.deadlock is None
    if distance == 0 and clean and not (contract and properties_differ):
        return Judgement(outcome, None, closest.allowances, closest)
    signatures = _signatures(program, closest, outcome, pte_rows, result_rows)
    if contract:
        signatures = tuple(s for s in signatures if s.level == CONTRACT)
        if not signatures:  # every difference was implementation level: nothing to report
            return Judgement(outcome, None, closest.allowances, closest)
    divergence = Divergence(
        signatures=signatures,
        closest=closest,
        pte_rows=tuple(pte_rows),
        result_rows=tuple(result_rows),
        bugs=tuple(outcome.bugs),
        violations=violations,
        deadlock=outcome.deadlock,
        secondary=secondary_classes(outcome.bugs, signatures),
    )
    return Judgement(outcome, divergence, frozenset(), None)


def _closest(
    program: Program, allowed: Sequence[Outcome], outcome: Outcome, contract: bool
) -> tuple[Outcome, int, list[PteRow], list[ResultRow]]:
    """The allowed outcome fewest result rows and pte fields away (then fewest allowances,
    then first), its distance and its differing rows."""
    candidates = list(allowed) or [Outcome()]
    ops = program.ops()
    scored = []
    for index, candidate in enumerate(candidates):
        if contract:
            keys = set(candidate.state) | set(outcome.state)
            spec_state, model_state = contract_view(candidate, keys), contract_view(outcome, keys)
        else:
            spec_state, model_state = candidate.state, outcome.state
        pte_rows = compare_states(spec_state, model_state)
        result_rows = compare_results(ops, candidate.results, outcome.results)
        if contract:  # a state check's result is a pte observation: implementation level
            result_rows = [r for r in result_rows if f"result:{r.kind}" not in
                           IMPLEMENTATION_RESULTS]
        distance = len(result_rows) + sum(len(row.fields) for row in pte_rows)
        scored.append((distance, len(candidate.allowances), index, pte_rows, result_rows))
    distance, _, index, pte_rows, result_rows = min(scored, key=lambda s: s[:3])
    return candidates[index], distance, pte_rows, result_rows


def secondary_classes(
    bugs: Sequence[BugReport], signatures: Sequence[Signature]
) -> frozenset[str]:
    """The classes that show only after the first BUG (see Divergence.secondary)."""
    killed = [b for b in bugs if b.kind == "BUG" and b.op is not None]
    if not killed:
        return frozenset()
    first = min(killed, key=lambda b: b.op)  # type: ignore[arg-type,return-value]
    assert first.op is not None
    own = first.signature_class
    return frozenset(
        s.cls for s in signatures if s.cls != own and s.op is not None and s.op >= first.op
    )


def contract_view(
    outcome: Outcome, keys: Iterable[Key] | None = None
) -> dict[Key, PteState]:
    """Each page as the contract sees it: only what a read of it returns — the data (0 for a
    none pte), or None when the read raises SIGSEGV (no vma there, or a `none` vma). Kind,
    write bit, frame, node and device are the implementation's business. `keys`: also these
    addresses (mapped on the other side), as unreadable when this side has no vma there."""
    view = {}
    for key in set(outcome.state) | set(keys or ()):
        pte = outcome.state.get(key)
        readable = pte is not None and outcome.vma_prot.get(key, "rw") != "none"
        data = (pte.data if pte.kind != "none" else 0) if readable and pte else None
        view[key] = PteState("present", data=data)
    return view


# ---------------------------------------------------------------------------------------------
# Row-level comparison
# ---------------------------------------------------------------------------------------------


def compare_states(
    spec: Mapping[Key, PteState], model: Mapping[Key, PteState]
) -> list[PteRow]:
    """The ptes that differ, in sorted key order. A key missing on one side counts as none."""
    keys = sorted_keys(set(spec) | set(model))
    both = {key: (spec.get(key, NONE_PTE), model.get(key, NONE_PTE)) for key in keys}
    # Sharing is compared only among ptes of the same kind on both sides, so one pte of the
    # wrong kind is reported once (as `kind`), not again as a sharing change of its partners.
    comparable = [k for k, (s, m) in both.items() if s.kind == m.kind and frame_space(s)]
    spec_groups = sharing_groups(spec, comparable)
    model_groups = sharing_groups(model, comparable)
    spec_labels, model_labels = canonical_labels(spec), canonical_labels(model)
    rows = []
    for key, (s, m) in both.items():
        fields = _differing_fields(s, m, spec_groups.get(key), model_groups.get(key))
        if fields:
            rows.append(
                PteRow(key, spec.get(key), model.get(key), spec_labels.get(key),
                       model_labels.get(key), fields)
            )
    return rows


def _differing_fields(
    spec: PteState,
    model: PteState,
    spec_group: frozenset[Key] | None,
    model_group: frozenset[Key] | None,
) -> tuple[str, ...]:
    if spec.kind != model.kind:
        return ("kind",)
    differing = []
    for name in _FIELDS_BY_KIND.get(spec.kind, ()):
        if name == "sharing":
            if spec_group != model_group:
                differing.append(name)
        elif getattr(spec, name) != getattr(model, name):
            differing.append(name)
    return tuple(differing)


def compare_results(
    ops: Sequence[Op], spec: Mapping[int, Result], model: Mapping[int, Result]
) -> list[ResultRow]:
    rows = []
    for op_id in sorted(set(spec) | set(model)):
        s, m = spec.get(op_id), model.get(op_id)
        if s == m and type(s) is type(m):
            continue
        op = ops[op_id] if 0 <= op_id < len(ops) else None
        rows.append(
            ResultRow(
                op=op_id,
                kind=op.KIND if op is not None else "?",
                line=op.pos.line if op is not None and op.pos is not None else None,
                spec=s,
                model=m,
            )
        )
    return rows


def result_class(program_ops: Sequence[Op], row: ResultRow) -> str:
    """`data` for a read (a fault's, or the device's through a pin) that returned another
    value, else `result:<op kind>`."""
    op = program_ops[row.op] if 0 <= row.op < len(program_ops) else None
    reads = (isinstance(op, Fault) and not op.write) or isinstance(op, Pinread)
    if reads and isinstance(row.spec, int) and isinstance(row.model, int):
        return "data"
    return f"result:{row.kind}"


# ---------------------------------------------------------------------------------------------
# Properties of a single state that are wrong whatever the spec says
# ---------------------------------------------------------------------------------------------


def state_properties(
    state: Mapping[Key, PteState], vma_prot: Mapping[Key, str]
) -> set[str]:
    """Classes a state shows on its own: orphaned migration entries, COW breaks, write bits
    in read-only vmas."""
    found: set[str] = set()
    present_frames: dict[object, int] = {}
    for pte in state.values():
        if pte.kind == "present":
            present_frames[pte.frame] = present_frames.get(pte.frame, 0) + 1
    for key, pte in state.items():
        if pte.kind == "migration":
            found.add("orphan-migration-entry")
        if pte.kind == "present" and pte.writable:
            if present_frames.get(pte.frame, 0) > 1:
                found.add("shared-writable")
            if vma_prot.get(key) != "rw":
                found.add("writable-in-readonly-vma")
    return found


# ---------------------------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------------------------


def _signatures(
    program: Program,
    closest: Outcome,
    outcome: Outcome,
    pte_rows: Sequence[PteRow],
    result_rows: Sequence[ResultRow],
) -> tuple[Signature, ...]:
    ops = program.ops()
    vma_prot = {**closest.vma_prot, **outcome.vma_prot}
    located = _locate_state_classes(program, closest, outcome, vma_prot)
    sigs: list[Signature] = [Signature(b.signature_class, b.op) for b in outcome.bugs]
    properties = state_properties(outcome.state, vma_prot) - state_properties(
        closest.state, closest.vma_prot
    )
    sigs += [Signature(cls, located.get(cls)) for cls in properties]
    if outcome.deadlock is not None:
        missing = [i for i in range(len(ops)) if i not in outcome.results]
        sigs.append(Signature("deadlock", missing[0] if missing else None))
    sigs += [Signature(result_class(ops, row), row.op) for row in result_rows]
    for row in pte_rows:
        for name in row.fields:
            cls = FIELD_CLASS[name]
            sigs.append(Signature(cls, located.get(cls)))
    sigs += [Signature(f"invariant:{v.name}", v.op) for v in outcome.violations]
    return ordered(sigs)


def _locate_state_classes(
    program: Program, closest: Outcome, outcome: Outcome, vma_prot: Mapping[Key, str]
) -> dict[str, int | None]:
    """For state classes: the first op of the first top-level step after which each shows.

    Needs checkpoints on both sides; the final vma prots stand in for the intermediate ones.
    """
    if outcome.checkpoints is None or closest.checkpoints is None:
        return {}
    first_ops = _first_op_of_steps(program)
    located: dict[str, int | None] = {}
    for step, (spec_state, model_state) in enumerate(
        zip(closest.checkpoints, outcome.checkpoints, strict=False)
    ):
        if step >= len(first_ops):
            break
        classes = {FIELD_CLASS[f] for row in compare_states(spec_state, model_state)
                   for f in row.fields}
        classes |= state_properties(model_state, vma_prot) - state_properties(
            spec_state, vma_prot
        )
        for cls in classes:
            located.setdefault(cls, first_ops[step])
    return located


def _first_op_of_steps(program: Program) -> list[int | None]:
    firsts: list[int | None] = []
    next_id = 0
    for step in program.steps:
        count = sum(len(t.ops) for t in step.threads) if isinstance(step, Parallel) else 1
        firsts.append(next_id if count else None)
        next_id += count
    return firsts
