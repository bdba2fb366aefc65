"""Human-readable reports: what ptediff prints for a divergence, a hunt, an exploration.

A report is built as a list of blocks (headings, text, tables, program listings) and only then
rendered, so one construction serves both the terminal (`plain`: tabulate's "simple" tables) and
reviews or CI summaries (`markdown`: GitHub tables, fenced listings). Scripts get JSON instead,
from `ptediff.report.report_json`, which works from the same domain objects rather than from these
tables.

The pytest plugin shows a failing regression item with `format_divergence`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ptediff.core.errors import DslError, PtediffError
from ptediff.core.outcome import PteState, TraceStep, format_result
from ptediff.core.program import Fault, Op, Program, Result
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_op
from ptediff.judge.differ import Judgement, PteRow
from ptediff.judge.signature import family_rank
from ptediff.judge.verdict import Verdict
from ptediff.search.explore import ExploreReport, format_schedule
from tabulate import tabulate

if TYPE_CHECKING:  # only for annotations: importing the hunt engine loads hypothesis
    from ptediff.search.hunt import Finding, HuntReport

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


# ---------------------------------------------------------------------------------------------
# The executed interleaving
# ---------------------------------------------------------------------------------------------


def timeline_blocks(program: Program, trace: Sequence[TraceStep]) -> list[Block]:
    """One table per parallel block: a row per run of steps, a column per thread.

    Consecutive steps of one thread in one kernel function collapse into one row (`3-5`), the
    first step of each operation names the operation, and a step that switches away from a
    thread that could still run is marked as a preemption: that is what a reader looks for.
    """
    ops = program.ops()
    parallels = program.blocks()
    out: list[Block] = []
    for block_index in sorted({step.block for step in trace}):
        steps = [s for s in trace if s.block == block_index]
        nthreads = (
            len(parallels[block_index].threads)
            if block_index < len(parallels)
            else max(s.thread for s in steps) + 1
        )
        rows = [
            _timeline_row(run, nthreads, ops, first_of_op)
            for run, first_of_op in _collapse(steps)
        ]
        schedule = " ".join(str(s.thread) for s in steps)
        out.append(
            table(
                ("step", *(f"thread {t}" for t in range(nthreads)), "switch"),
                rows,
                title=f"parallel block {block_index} (executed schedule {schedule})",
            )
        )
    return out


@dataclass(frozen=True)
class _Run:
    first: int  # step index within the block
    last: int
    step: TraceStep
    preempts: int | None  # the still-runnable thread this run switched away from


def _collapse(steps: Sequence[TraceStep]) -> list[tuple[_Run, bool]]:
    runs: list[tuple[_Run, bool]] = []
    seen_ops: set[int] = set()
    previous: TraceStep | None = None
    for index, step in enumerate(steps):
        preempts = (
            previous.thread
            if previous is not None
            and previous.thread != step.thread
            and previous.thread in step.runnable
            else None
        )
        same = (
            runs
            and previous is not None
            and (previous.thread, previous.op, previous.function)
            == (step.thread, step.op, step.function)
        )
        if same:
            run, first_of_op = runs[-1]
            runs[-1] = (_Run(run.first, index, run.step, run.preempts), first_of_op)
        else:
            runs.append((_Run(index, index, step, preempts), step.op not in seen_ops))
        seen_ops.add(step.op)
        previous = step
    return runs


def _timeline_row(run: _Run, nthreads: int, ops: Sequence[Op], first_of_op: bool) -> list[Cell]:
    steps = str(run.first) if run.first == run.last else f"{run.first}-{run.last}"
    cell = run.step.function
    if first_of_op:
        cell = f"{describe_op(ops, run.step.op)}: {cell}"
    row: list[Cell] = [steps, *("" for _ in range(nthreads))]
    row[1 + run.step.thread] = cell
    row.append(f"preempts thread {run.preempts}" if run.preempts is not None else "")
    return row


def describe_op(ops: Sequence[Op], op_id: int | None) -> str:
    """`L12 migrate p0 0x1000 1`: the operation as written, with its line when known."""
    if op_id is None or not 0 <= op_id < len(ops):
        return "-" if op_id is None else f"op {op_id}"
    pos = ops[op_id].pos
    where = f"L{pos.line}" if pos is not None else f"op {op_id}"
    return f"{where} {op_text(ops, op_id)}"


def op_text(ops: Sequence[Op], op_id: int) -> str:
    """The operation as the DSL writes it (`op N` for an id the program does not have)."""
    return format_op(ops[op_id]) if 0 <= op_id < len(ops) else f"op {op_id}"


# ---------------------------------------------------------------------------------------------
# check, impls
# ---------------------------------------------------------------------------------------------


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


def class_path(cls: type) -> str:
    """`package.module:Class`, the form `--impl` accepts."""
    return f"{cls.__module__}:{cls.__qualname__}"


# ---------------------------------------------------------------------------------------------
# explore
# ---------------------------------------------------------------------------------------------


def explore_blocks(
    path: str, program: Program, exploration: ExploreReport, unexpected: Mapping[str, str]
) -> list[Block]:
    """Schedules per implementation, the Never/Sometimes/Always table, the outcomes reached.

    `unexpected` maps an implementation to why its exploration contradicts its expectation.
    """
    blocks: list[Block] = [Heading(f"explore {path}"), Text(explore_mode(exploration))]
    ops = program.ops()
    blocks.append(
        table(
            ("implementation", "schedules", "complete", "model runs", "seconds", "outcomes",
             "agreeing", "verdict"),
            (
                [
                    impl.impl,
                    impl.schedules,
                    "yes" if impl.complete else "no",
                    impl.model_runs,
                    f"{impl.elapsed:.2f}",
                    len(impl.outcomes),
                    impl.agreeing,
                    f"UNEXPECTED: {unexpected[impl.impl]}" if impl.impl in unexpected else "ok",
                ]
                for impl in exploration.impls
            ),
            title="schedules",
        )
    )
    blocks.append(table(
        ("implementation", "signature", "observation", "schedules", "first shows at", "witness"),
        _observation_rows(exploration, ops),
        title="signatures (herd-style observations)",
    ))
    for impl in exploration.impls:
        blocks.append(table(
            ("schedules", "verdict", "outcome", "witness"),
            (
                [
                    outcome.count,
                    "agrees" if outcome.verdict.agrees
                    else " ".join(s.cls for s in outcome.verdict.signatures),
                    outcome.outcome.describe(),
                    format_schedule(outcome.witness),
                ]
                for outcome in sorted(impl.outcomes.values(), key=lambda c: -c.count)
            ),
            title=f"outcomes of {impl.impl}",
        ))
    return blocks


def explore_mode(exploration: ExploreReport) -> str:
    spec = f"the spec allows {exploration.spec_outcomes} outcome(s)"
    if exploration.mode == "pct" and exploration.pct is not None:
        p = exploration.pct
        return (
            f"PCT: {p.runs} runs of depth {p.depth}, seed {p.seed}; n={p.threads} threads, "
            f"k={p.steps} steps; each run finds a given depth-{p.depth} bug with probability "
            f"at least 1/(n·k^(d-1)) = {p.probability_bound:.3g}; {spec}."
        )
    bound = exploration.preemption_bound
    limit = (
        "every schedule" if bound is None else f"every schedule with at most {bound} preemptions"
    )
    return f"Exhaustive: {limit}; {spec}."


def _observation_rows(exploration: ExploreReport, ops: Sequence[Op]) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for impl in exploration.impls:
        if not impl.classes:
            rows.append([impl.impl, "-", "Never", f"0/{impl.schedules}", None, None])
        for cls in sorted(impl.classes, key=lambda c: (family_rank(c), c)):
            hits = impl.hits(cls)
            first_ops = sorted(
                {key.op for key in impl.signatures if key.cls == cls and key.op is not None}
            )
            witness = impl.witness(cls)
            rows.append([
                impl.impl,
                cls,
                impl.observe(cls),
                f"{hits}/{impl.schedules}",
                "; ".join(describe_op(ops, op) for op in first_ops) or None,
                format_schedule(witness) if witness is not None else None,
            ])
    return rows


# ---------------------------------------------------------------------------------------------
# A divergence
# ---------------------------------------------------------------------------------------------

PTE_FIELDS = ("kind", "writable", "frame", "node", "data", "swap")


def format_divergence(
    program: Program, judgement: Judgement, impl: str, fmt: TextFormat = "plain"
) -> str:
    """The whole divergence report of one judgement as text (the pytest plugin's failure)."""
    return render(divergence_blocks(program, judgement, impl), fmt)


def divergence_blocks(program: Program, judgement: Judgement, impl: str) -> list[Block]:
    """Signatures, differing ptes side by side, differing results, BUGs, invariant
    violations, deadlock, allowances and the executed interleaving of one judgement."""
    divergence = judgement.divergence
    ops = program.ops()
    blocks: list[Block] = []
    if divergence is None:
        blocks.append(Text(f"{impl} agrees with the spec{allowance_note(judgement.allowances)}."))
        return blocks
    blocks.append(table(
        ("signature", "first shows at"),
        ([sig.cls, describe_op(ops, sig.op)] for sig in divergence.signatures),
        title=f"{impl} diverges from the spec",
    ))
    if divergence.pte_rows:
        blocks.append(pte_table(divergence.pte_rows, impl))
    if divergence.result_rows:
        blocks.append(table(
            ("line", "operation", "spec", impl),
            (
                [row.line, op_text(ops, row.op),
                 _result_text(ops, row.op, row.spec), _result_text(ops, row.op, row.model)]
                for row in divergence.result_rows
            ),
            title="results that differ",
        ))
    if divergence.bugs:
        blocks.append(table(
            ("function", "reason", "during"),
            ([bug.function, bug.reason, describe_op(ops, bug.op)] for bug in divergence.bugs),
            title="kernel BUGs",
        ))
    if divergence.violations:
        blocks.append(table(
            ("invariant", "detail", "after"),
            ([v.name, v.detail, describe_op(ops, v.op)] for v in divergence.violations),
            title="invariant violations",
        ))
    if divergence.deadlock is not None:
        blocks.append(Text(f"deadlock: {divergence.deadlock}"))
    if divergence.closest.allowances:
        names = ", ".join(sorted(divergence.closest.allowances))
        blocks.append(Text(f"The closest allowed outcome uses the allowances: {names}."))
    blocks.extend(timeline_blocks(program, judgement.outcome.trace))
    return blocks


def pte_table(rows: Sequence[PteRow], impl: str) -> Table:
    """Differing ptes: spec fields, then the implementation's; `*` marks a differing field.

    Frames are canonical labels (P<n> pages, S<n> swap slots) numbered separately on each
    side: only which ptes share a label matters, not the label itself.
    """
    body = []
    for row in rows:
        marks = {"frame" if name == "sharing" else name for name in row.fields}
        spec = _pte_cells(row.spec, row.spec_frame, set())
        model = _pte_cells(row.model, row.model_frame, marks)
        body.append([row.proc, f"{row.addr:#x}", *spec, *model])
    headers = (
        "process", "address",
        *(f"spec {name}" for name in PTE_FIELDS),
        *(f"impl {name}" for name in PTE_FIELDS),
    )
    title = f"page-table entries that differ (impl = {impl}; * = differs)"
    return table(headers, body, title=title)


def _pte_cells(pte: PteState | None, frame: str | None, marks: set[str]) -> list[Cell]:
    if pte is None:
        return ["-", None, None, None, None, None]
    values: dict[str, Cell] = {
        "kind": pte.kind,
        "writable": ("yes" if pte.writable else "no") if pte.kind != "none" else None,
        "frame": frame,
        "node": pte.node,
        "data": hex(pte.data) if pte.data is not None else None,
        "swap": pte.swap,
    }
    if "kind" in marks:
        marks = set(PTE_FIELDS) - {"kind"} | {"kind"}
    return [
        f"{_plain_cell(values[name]) or '-'}*" if name in marks else values[name]
        for name in PTE_FIELDS
    ]


def _result_text(ops: Sequence[Op], op_id: int, result: Result | None) -> str:
    if result is None:
        return "(no result)"
    op = ops[op_id] if 0 <= op_id < len(ops) else None
    return format_result(result, value=isinstance(op, Fault) and not op.write)


def allowance_note(allowances: Iterable[str]) -> str:
    names = sorted(allowances)
    if not names:
        return ""
    return f" (using the allowance{'s' if len(names) > 1 else ''} {', '.join(names)})"


# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFile:
    """One `.pte` file run on the spec and implementations."""

    path: str
    program: Program
    verdicts: tuple[Verdict, ...]
    spec_error: str | None = None  # a `=> RESULT` the spec itself does not meet

    @property
    def passed(self) -> bool:
        return self.spec_error is None and all(v.passed for v in self.verdicts)


def run_blocks(files: Sequence[RunFile]) -> list[Block]:
    blocks: list[Block] = []
    for item in files:
        blocks.append(Heading(item.path))
        if item.spec_error is not None:
            blocks.append(Text(f"FAIL: {item.spec_error}"))
            continue
        blocks.append(verdict_table(item.verdicts))
        for verdict in item.verdicts:
            if verdict.judgement.agrees:
                continue
            blocks.append(Heading(verdict.impl, level=2))
            blocks.extend(divergence_blocks(item.program, verdict.judgement, verdict.impl))
    return blocks


def verdict_table(verdicts: Sequence[Verdict]) -> Table:
    rows = []
    for verdict in verdicts:
        judgement = verdict.judgement
        if judgement.agrees:
            observed = "agrees" + allowance_note(judgement.allowances)
        else:
            observed = "diverges: " + " ".join(judgement.divergence.classes)  # type: ignore[union-attr]
        rows.append([
            verdict.impl,
            expected_text(verdict),
            observed,
            verdict_word(verdict),
            "; ".join(verdict.messages) if not verdict.passed else None,
        ])
    return table(("implementation", "expected", "observed", "verdict", "why"), rows)


def expected_text(verdict: Verdict) -> str:
    if verdict.expected is None:
        return "-"
    if verdict.expected == "diverges" and verdict.expect is not None and verdict.expect.signatures:
        return "diverges " + " ".join(verdict.expect.signatures)
    return verdict.expected


def verdict_word(verdict: Verdict) -> str:
    if not verdict.passed:
        return "FAIL"
    return "ok" if verdict.expected is not None else "reported"


# ---------------------------------------------------------------------------------------------
# hunt
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HuntFinding:
    """A hunt finding as reported: its minimal program re-read from its printed text, so that
    line numbers in the report point into the listing shown."""

    finding: Finding
    program: Program
    text: str
    expected: bool  # the implementation reverts a fix: diverging is its purpose

    @classmethod
    def of(cls, finding: Finding, *, expected: bool) -> HuntFinding:
        text = finding.text
        try:
            program = parse(text)
        except DslError:  # cannot happen for a printed program; keep the report going anyway
            program = finding.program
        return cls(finding, program, text, expected)

    @property
    def concurrency(self) -> str:
        preemptions = self.finding.size.preemptions
        if self.finding.concurrency == "preemptions":
            return f"{preemptions} preemption{'s' * (preemptions != 1)}"
        return self.finding.concurrency


def hunt_blocks(
    hunted: HuntReport, findings: Sequence[HuntFinding], *, saving: bool
) -> list[Block]:
    """The summary table (implementation × signature class), then each minimal program."""
    seed = "no seed" if hunted.seed is None else f"seed {hunted.seed}"
    blocks: list[Block] = [
        Heading("hunt"),
        Text(
            f"{hunted.examples} examples in {hunted.seconds:.1f} s ({seed}, profile "
            f"{hunted.profile}); {len(findings)} divergence class(es) found."
        ),
    ]
    rows: list[list[Cell]] = []
    for impl in hunted.impls:
        found = [f for f in findings if f.finding.impl == impl]
        if not found:
            rows.append([impl, "-", "no", None, None, None, None, None, None, None])
        for item in found:
            finding = item.finding
            saved = str(finding.saved) if finding.saved else "(already saved)" if saving else None
            rows.append([
                impl,
                finding.signature,
                "yes" if item.expected else "UNEXPECTED",
                finding.examples_to_first,
                f"{finding.seconds_to_first:.1f}",
                finding.size.ops,
                finding.size.lines,
                item.concurrency,
                finding.classification,
                saved,
            ])
    blocks.append(table(
        ("implementation", "signature", "found", "examples", "seconds", "ops", "lines",
         "concurrency", "classification", "saved"),
        rows,
        title="divergences (examples and seconds to the first failure; size of the minimal "
              "program)",
    ))
    for item in findings:
        blocks.extend(_finding_blocks(item))
    return blocks


def _finding_blocks(item: HuntFinding) -> list[Block]:
    finding = item.finding
    blocks: list[Block] = [Heading(f"{finding.impl}: {finding.signature}", level=2)]
    facts = [f"needs {item.concurrency}" if item.concurrency != "sequential" else "sequential"]
    if finding.op is not None:
        facts.insert(0, f"first shows at {describe_op(item.program.ops(), finding.op)}")
    if finding.classification is not None:
        facts.append(f"classification {finding.classification}")
    if finding.saved is not None:
        facts.append(f"saved as {finding.saved}")
    if finding.detail:
        facts.append(finding.detail)
    blocks.append(Text("; ".join(facts) + "."))
    blocks.append(Listing(item.text))
    return blocks
