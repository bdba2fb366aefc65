"""What a hunt reports: its findings, each with its minimal program and size, and the report.

The data types `ptediff.search.hunt` fills in and `ptediff.report` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ptediff.core.program import Program
from ptediff.dsl.printer import format_program
from ptediff.judge.differ import Judgement
from ptediff.search import profiles
from ptediff.search.coverage import KernelCoverage


@dataclass(frozen=True)
class ProgramSize:
    ops: int
    threads: int  # most threads in one parallel block (1: none)
    preemptions: int
    lines: int  # lines of the printed program

    @classmethod
    def of(cls, program: Program, preemptions: int) -> ProgramSize:
        threads = max((len(block.threads) for block in program.blocks()), default=1)
        lines = len(format_program(program).splitlines())
        return cls(len(program.ops()), threads, preemptions, lines)


@dataclass
class Finding:
    """One (implementation, primary signature class) the hunt found."""

    impl: str
    signature: str
    op: int | None  # where it first shows in the minimal program
    examples_to_first: int  # property runs up to and including the first failing one
    seconds_to_first: float
    shrunk: Program  # as hypothesis left it
    program: Program  # simplified: the minimal program reported and saved
    judgement: Judgement | None  # None for a model crash
    size: ProgramSize
    concurrency: str  # sequential / threads / preemptions
    saved: Path | None = None
    classification: str | None = None  # fixed / fix-incomplete / latent / spec-gap / agree
    detail: str = ""  # for a crash: the exception
    save_error: str | None = None  # why it could not be saved (it stays in the report)
    simplified: bool = True  # False: the hunt was interrupted before it could simplify it
    from_database: bool = False  # replayed from a campaign database, not generated

    @property
    def text(self) -> str:
        return format_program(self.program)


@dataclass
class HuntReport:
    impls: tuple[str, ...]
    findings: list[Finding] = field(default_factory=list)
    examples: int = 0  # property runs, shrinking included
    generated: int = 0  # examples counted against the budget (whole chunks)
    seconds: float = 0.0
    chunks: int = 0
    seed: int | None = None
    profile: str = profiles.DEFAULT_PROFILE
    max_examples: int | None = None
    budget_seconds: float | None = None
    errors: list[str] = field(default_factory=list)  # hypothesis errors other than divergences
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM before the budget was spent
    signal: str | None = None  # which one: "SIGINT" or "SIGTERM"
    over_budget: int = 0  # examples skipped: a tool limit (BudgetExceeded) gave no verdict
    coverage: KernelCoverage | None = None  # modelled kernel functions the programs reached
    replayed: int = 0  # programs replayed from a campaign database before the search
    jobs: int = 1  # worker processes (`ptediff.search.jobs` merges their reports)

    def finding(self, impl: str, signature: str) -> Finding | None:
        return next((f for f in self.findings if (f.impl, f.signature) == (impl, signature)), None)

    def rows(self) -> list[tuple[str, Finding | None]]:
        """Per implementation its findings in order, or one (impl, None) row if none."""
        rows: list[tuple[str, Finding | None]] = []
        for impl in self.impls:
            found = [f for f in self.findings if f.impl == impl]
            if found:
                rows.extend((impl, f) for f in found)
            else:
                rows.append((impl, None))
        return rows
