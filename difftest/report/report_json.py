"""JSON reports for scripts: one document per command, described by docs/report-schema.json.

Every document is an object with `schema` (a version string that changes only when a field
changes meaning or goes away), `command`, and the command's own fields. Built from the domain
objects, not from the text tables, so scripts never parse display strings: results are JSON
numbers or the strings "SIGSEGV" / "BUG", addresses are numbers, absent values are null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ptediff.core.errors import (
    DslError,
    DslSyntaxError,
    DslValidationError,
    ModelCrash,
    PtediffError,
)
from ptediff.core.outcome import PteState
from ptediff.core.program import Expect, Op, Program
from ptediff.judge.differ import Judgement
from ptediff.judge.signature import level_of
from ptediff.judge.verdict import Verdict
from ptediff.report.hunt import HuntFinding
from ptediff.report.inventory import CheckedFile, class_path
from ptediff.report.run import RunFile
from ptediff.search.explore_report import ExploreReport
from ptediff.search.tally import ImplReport

if TYPE_CHECKING:  # only for annotations: importing the hunt engine loads hypothesis
    from ptediff.search.findings import HuntReport

SCHEMA_VERSION = "ptediff-report/1"

Json = dict[str, Any]


def document(command: str, **fields: Any) -> Json:
    return {"schema": SCHEMA_VERSION, "command": command, **fields}


def check_json(checked: Sequence[CheckedFile]) -> Json:
    return document("check", files=[_checked_file(item) for item in checked])


def _checked_file(item: CheckedFile) -> Json:
    program = item.program
    return {
        "path": item.path,
        "ok": program is not None,
        "ops": len(program.ops()) if program is not None else None,
        "parallel_blocks": len(program.blocks()) if program is not None else None,
        "expects": [expect_json(e) for e in program.expects] if program is not None else [],
        "error": error_json(item.error) if item.error is not None else None,
    }


def expect_json(expect: Expect) -> Json:
    return {"impl": expect.impl, "verdict": expect.verdict, "signatures": list(expect.signatures)}


def error_json(error: PtediffError) -> Json:
    if isinstance(error, DslError):
        kind = (
            "syntax"
            if isinstance(error, DslSyntaxError)
            else "validation" if isinstance(error, DslValidationError) else "dsl"
        )
        return {
            "kind": kind,
            "message": error.message,
            "file": error.filename,
            "line": error.line,
            "column": error.column,
            "hint": error.hint,
        }
    return {
        "kind": type(error).__name__,
        "message": str(error),
        "file": None,
        "line": None,
        "column": None,
        "hint": None,
    }


def impls_json(registry: Mapping[str, type], mutants: Mapping[str, type] | None = None) -> Json:
    extra: dict[str, Any] = {}
    if mutants is not None:
        extra["mutants"] = [
            {
                "name": name,
                "class": class_path(cls),
                "area": getattr(cls, "AREA", ""),
                "function": getattr(cls, "FUNCTION", ""),
                "file": getattr(cls, "FILE", ""),
                "bug": getattr(cls, "REVERTS", ""),
                "equivalent": getattr(cls, "EQUIVALENT", "") or None,
            }
            for name, cls in mutants.items()
        ]
    return document(
        "impls",
        impls=[
            {"name": name, "class": class_path(cls), "reverts": getattr(cls, "REVERTS", "")}
            for name, cls in registry.items()
        ],
        **extra,
    )


def program_json(program: Program) -> Json:
    """A program as scripts need it: its canonical DSL text and its size."""
    from ptediff.dsl.printer import format_program

    return {
        "text": format_program(program),
        "ops": len(program.ops()),
        "parallel_blocks": len(program.blocks()),
    }


# ---------------------------------------------------------------------------------------------
# run: verdicts and divergences
# ---------------------------------------------------------------------------------------------


def run_json(files: Sequence[RunFile], errors: Sequence[PtediffError] = ()) -> Json:
    """`errors`: the files that could not be read, parsed or validated (exit status 2)."""
    passed = all(f.passed for f in files) and not errors
    return document("run", passed=passed, errors=[error_json(e) for e in errors], files=[
        {
            "path": item.path,
            "passed": item.passed,
            "spec_error": item.spec_error,
            "budget_exceeded": item.budget,
            "crashes": [crash_json(crash) for crash in item.crashes],
            "program": program_json(item.program),
            "verdicts": [verdict_json(item.program, v) for v in item.verdicts],
            "skipped": [{"impl": impl, "reason": reason} for impl, reason in item.skipped],
            "declared": [{"impl": impl, "fired": fired} for impl, fired in item.declared],
        }
        for item in files
    ])


def crash_json(crash: ModelCrash) -> Json:
    return {"impl": crash.impl, "class": crash.cls, "message": crash.message,
            "where": crash.where}


def verdict_json(program: Program, verdict: Verdict) -> Json:
    judgement = verdict.judgement
    return {
        "impl": verdict.impl,
        "expected": verdict.expected,
        "expected_signatures": list(verdict.expect.signatures) if verdict.expect else [],
        "passed": verdict.passed,
        "messages": list(verdict.messages),
        "agrees": judgement.agrees,
        "allowances": sorted(judgement.allowances),
        "misses": [
            {"op": m.op, "line": m.line, "expected": m.expected, "got": m.got}
            for m in verdict.misses
        ],
        "divergence": divergence_json(program, judgement),
    }


def divergence_json(program: Program, judgement: Judgement) -> Json | None:
    divergence = judgement.divergence
    if divergence is None:
        return None
    ops = program.ops()
    return {
        "level": divergence.level,
        "signatures": [
            {"class": s.cls, "level": s.level, "op": s.op, "line": op_line(ops, s.op),
             "secondary": s.cls in divergence.secondary}
            for s in divergence.signatures
        ],
        "ptes": [
            {
                "proc": row.proc,
                "addr": row.addr,
                "fields": list(row.fields),
                "spec": pte_json(row.spec, row.spec_frame),
                "impl": pte_json(row.model, row.model_frame),
            }
            for row in divergence.pte_rows
        ],
        "results": [
            {"op": row.op, "line": row.line, "kind": row.kind, "spec": row.spec, "impl": row.model}
            for row in divergence.result_rows
        ],
        "bugs": [
            {"function": b.function, "reason": b.reason, "op": b.op, "line": op_line(ops, b.op),
             "kind": b.kind, "class": b.signature_class}
            for b in divergence.bugs
        ],
        "violations": [
            {"name": v.name, "detail": v.detail, "op": v.op, "line": op_line(ops, v.op)}
            for v in divergence.violations
        ],
        "deadlock": divergence.deadlock,
        "closest_allowances": sorted(divergence.closest.allowances),
        "trace": [
            {
                "block": step.block,
                "thread": step.thread,
                "function": step.function,
                "op": step.op,
                "runnable": list(step.runnable),
            }
            for step in judgement.outcome.trace
        ],
    }


def pte_json(pte: PteState | None, frame: str | None) -> Json | None:
    """A pte with its frame as the canonical label (P<n> / S<n>), comparable only for sharing."""
    if pte is None:
        return None
    return {
        "kind": pte.kind,
        "writable": pte.writable,
        "frame": frame,
        "node": pte.node,
        "data": pte.data,
        "swap": pte.swap,
    }


def op_line(ops: Sequence[Op], op_id: int | None) -> int | None:
    if op_id is None or not 0 <= op_id < len(ops):
        return None
    pos = ops[op_id].pos
    return pos.line if pos is not None else None


# ---------------------------------------------------------------------------------------------
# explore
# ---------------------------------------------------------------------------------------------


def explore_json(
    path: str, program: Program, exploration: ExploreReport, unexpected: Mapping[str, str]
) -> Json:
    parameters = exploration.pct
    return document(
        "explore",
        path=path,
        mode=exploration.mode,
        preemption_bound=exploration.preemption_bound,
        pct=None if parameters is None else {
            "runs": parameters.runs,
            "depth": parameters.depth,
            "seed": parameters.seed,
            "threads": parameters.threads,
            "steps": parameters.steps,
            "probability_bound": parameters.probability_bound,
        },
        spec_outcomes=exploration.spec_outcomes,
        seconds=exploration.elapsed,
        passed=not unexpected,
        impls=[
            _explored_impl(program, impl, unexpected.get(impl.impl))
            for impl in exploration.impls
        ],
    )


def _explored_impl(program: Program, impl: ImplReport, unexpected: str | None) -> Json:
    ops = program.ops()
    signatures = []
    for cls in sorted(impl.classes):
        first_ops = sorted({k.op for k in impl.signatures if k.cls == cls and k.op is not None})
        witness = impl.witness(cls)
        signatures.append({
            "class": cls,
            "level": level_of(cls),
            "observation": impl.observe(cls),
            "count": impl.hits(cls),
            "ops": first_ops,
            "lines": [op_line(ops, op) for op in first_ops],
            "witness": None if witness is None else [list(block) for block in witness],
        })
    return {
        "impl": impl.impl,
        "schedules": impl.schedules,
        "distinct_schedules": impl.distinct_schedules,
        "model_runs": impl.model_runs,
        "complete": impl.complete,
        "seconds": impl.elapsed,
        "agreeing": impl.agreeing,
        "unexpected": unexpected,
        "signatures": signatures,
        "outcomes": [
            {
                "count": c.count,
                "agrees": c.verdict.agrees,
                "signatures": list(dict.fromkeys(s.cls for s in c.verdict.signatures)),
                "allowances": sorted(c.verdict.allowances),
                "outcome": c.outcome.describe(),
                "witness": [list(block) for block in c.witness],
            }
            for c in sorted(impl.outcomes.values(), key=lambda c: -c.count)
        ],
    }


# ---------------------------------------------------------------------------------------------
# hunt
# ---------------------------------------------------------------------------------------------


def hunt_json(hunted: HuntReport, findings: Sequence[HuntFinding]) -> Json:
    from ptediff.report.grouping import bugs_json, bugs_of

    return document(
        "hunt",
        impls=list(hunted.impls),
        seed=hunted.seed,
        profile=hunted.profile,
        max_examples=hunted.max_examples,
        budget_seconds=hunted.budget_seconds,
        examples=hunted.examples,
        seconds=hunted.seconds,
        interrupted=hunted.interrupted,
        signal=hunted.signal,
        over_budget=hunted.over_budget,
        passed=all(item.expected for item in findings) and not hunted.errors
        and not hunted.interrupted,
        errors=list(hunted.errors),
        findings=[_finding_json(item) for item in findings],
        bugs=bugs_json(bugs_of(findings), findings),
        jobs=hunted.jobs,
        replayed=hunted.replayed,
        coverage=hunted.coverage.to_json() if hunted.coverage is not None else None,
    )


def _finding_json(item: HuntFinding) -> Json:
    finding = item.finding
    size = finding.size
    return {
        "impl": finding.impl,
        "signature": finding.signature,
        "expected": item.expected,
        "op": finding.op,
        "line": op_line(item.program.ops(), finding.op),
        "examples_to_first": finding.examples_to_first,
        "seconds_to_first": finding.seconds_to_first,
        "size": {
            "ops": size.ops,
            "threads": size.threads,
            "preemptions": size.preemptions,
            "lines": size.lines,
        },
        "concurrency": finding.concurrency,
        "classification": finding.classification,
        "saved": str(finding.saved) if finding.saved is not None else None,
        "save_error": finding.save_error,
        "simplified": finding.simplified,
        "program": item.text,
        "detail": finding.detail or None,
        "from_database": finding.from_database,
        "divergence": (
            divergence_json(item.program, finding.judgement)
            if finding.judgement is not None
            else None
        ),
    }
