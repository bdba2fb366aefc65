"""From a divergence the search raised to the hunt's findings: simplify it, locate where it
first shows, find the same class on the other implementations, classify it against the post-fix
model, and save one `.pte` file per distinct minimal program."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ptediff.core.errors import BudgetExceeded, ModelCrash
from ptediff.core.program import Program
from ptediff.judge.check import check, check_located
from ptediff.judge.classify import classify
from ptediff.judge.differ import Judgement
from ptediff.search.crash_shrink import simplify_crash
from ptediff.search.findings import Finding, HuntReport, ProgramSize
from ptediff.search.property import DivergenceFound, divergence_type
from ptediff.search.regressions import SaveError, save
from ptediff.search.simplify import Simplified, simplify

if TYPE_CHECKING:
    from ptediff.search.hunt import _Search

POSTFIX = "postfix"
PREFIX = "prefix"


def record(
    report: HuntReport,
    search: _Search,
    divergence: DivergenceFound,
    save_dir: str | Path | None,
    check_invariants: bool | str,
) -> None:
    """Findings for a new divergence and for the same class on the other implementations
    (hypothesis raises only the first implementation that shows a class on a program, so each
    class is shrunk once); then save them, one file per distinct minimal program."""
    findings = [finding_of(report, search, divergence, check_invariants)]
    if divergence.judgement is not None:
        for name, kernel in search.named:
            if (name, divergence.cls) in search.found:
                continue
            try:
                judgement = check(divergence.program, kernel, check_invariants=check_invariants)
            except (BudgetExceeded, ModelCrash):  # no verdict for this twin: not a finding
                continue
            if _shows(judgement, divergence.cls):
                search.found.add((name, divergence.cls))
                twin = divergence_type(name, divergence.cls)(divergence.program, judgement)
                findings.append(finding_of(report, search, twin, check_invariants))
    report.findings.extend(findings)
    if save_dir is not None:
        save_findings(findings, search, save_dir, check_invariants)


def finding_of(
    report: HuntReport, search: _Search, divergence: DivergenceFound, check_invariants: bool | str
) -> Finding:
    kernel = dict(search.named)[divergence.impl]
    first = search.first_seen.get(
        divergence.key,
        search.first_seen.get((divergence.impl, "crash"), (report.examples, search.elapsed())),
    )
    if divergence.judgement is None:  # a model crash: simplified by crash alone
        type_name = divergence.cls.partition(":")[2]
        program, crash = simplify_crash(
            divergence.program, kernel, type_name, check_invariants=check_invariants
        )
        return Finding(
            divergence.impl,
            divergence.cls,
            None,
            first[0],
            first[1],
            divergence.program,
            program,
            None,
            ProgramSize.of(program, 0),
            "sequential" if not program.blocks() else "threads",
            detail=crash.describe() if crash is not None else divergence.detail,
        )
    try:
        simplified = simplify(
            divergence.program, kernel, divergence.cls, check_invariants=check_invariants
        )
        located = check_located(simplified.program, kernel, check_invariants=check_invariants)
    except BudgetExceeded as limit:  # a candidate over a tool limit: keep it as found
        assert divergence.judgement is not None
        return Finding(
            impl=divergence.impl,
            signature=divergence.cls,
            op=divergence.op,
            examples_to_first=first[0],
            seconds_to_first=first[1],
            shrunk=divergence.program,
            program=divergence.program,
            judgement=divergence.judgement,
            size=ProgramSize.of(divergence.program, 0),
            concurrency="sequential" if not divergence.program.blocks() else "threads",
            detail=f"not simplified: {limit}",
            simplified=False,
        )
    judgement = located if _shows(located, divergence.cls) else simplified.judgement
    assert judgement.divergence is not None
    return Finding(
        impl=divergence.impl,
        signature=divergence.cls,
        op=judgement.divergence.primary.op,
        examples_to_first=first[0],
        seconds_to_first=first[1],
        shrunk=divergence.program,
        program=simplified.program,
        judgement=judgement,
        size=ProgramSize.of(simplified.program, simplified.preemptions),
        concurrency=simplified.concurrency,
        classification=_classification(
            search, divergence.impl, simplified, check_invariants, divergence.cls
        ),
    )


def save_findings(
    findings: list[Finding], search: _Search, save_dir: str | Path, check_invariants: bool | str
) -> None:
    """One file per (class, minimal program), with an expect line for every implementation
    that found it."""
    groups: dict[tuple[str, Program], list[Finding]] = {}
    for finding in findings:
        if finding.judgement is not None:
            groups.setdefault((finding.signature, finding.program), []).append(finding)
    kernels = dict(search.named)
    for (_, program), group in groups.items():
        lead = group[0]
        assert lead.judgement is not None
        impl_names = [f.impl for f in group]
        postfix = None
        if POSTFIX in kernels and POSTFIX not in impl_names:
            try:
                postfix = check(program, kernels[POSTFIX], check_invariants=check_invariants)
            except (BudgetExceeded, ModelCrash):
                postfix = None
        try:
            path = save(
                program,
                lead.judgement,
                lead.impl,
                save_dir,
                also=impl_names[1:],
                postfix_judgement=postfix,
                check_invariants=check_invariants,
            )
        except SaveError as error:  # the finding stays in the report, marked unsaved
            for finding in group:
                finding.save_error = str(error)
            continue
        for finding in group:
            finding.saved = path


def _shows(judgement: Judgement, cls: str) -> bool:
    return judgement.divergence is not None and judgement.divergence.primary.cls == cls


def _classification(
    search: _Search,
    impl: str,
    simplified: Simplified,
    check_invariants: bool | str,
    cls: str | None = None,
) -> str | None:
    """fixed / fix-incomplete / latent / spec-gap / agree, when post-fix and a pre-fix ran."""
    try:
        return _classify(search, impl, simplified, check_invariants, cls)
    except (BudgetExceeded, ModelCrash):  # a model without a verdict: no classification
        return None


def _classify(
    search: _Search,
    impl: str,
    simplified: Simplified,
    check_invariants: bool | str,
    cls: str | None,
) -> str | None:
    kernels = dict(search.named)
    if POSTFIX not in kernels:
        return None
    if impl == POSTFIX:
        pre_name = (
            PREFIX
            if PREFIX in kernels
            else next((name for name in kernels if name != POSTFIX), None)
        )
        if pre_name is None:
            # no pre-fix model to compare with: a documented latent bug is still one
            known: frozenset[str] = getattr(kernels[POSTFIX], "LATENT", frozenset())
            return "latent" if cls is not None and cls in known else None
        post = simplified.judgement
        pre = check(simplified.program, kernels[pre_name], check_invariants=check_invariants)
    else:
        pre = simplified.judgement
        post = check(simplified.program, kernels[POSTFIX], check_invariants=check_invariants)
    return classify(post, pre, cls=cls)
