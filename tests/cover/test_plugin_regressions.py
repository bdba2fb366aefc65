"""The seeded regression files: one per fix, each asking the right implementations for the
right verdict. (The plugin runs them as tests; this checks they say what they should.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from ptediff.dsl.parse import parse, parse_file
from ptediff.dsl.printer import format_program

REGRESSIONS = Path(__file__).parents[1] / "regressions"

FIX_VARIANTS = {
    "fix1": ("prefix-anon-vma-head", "orphan-migration-entry"),
    "fix2": ("prefix-pte-unmap-arg", "kmap-leak:remove_migration_pte"),
    "fix3": ("prefix-cow-fork-write", "shared-writable"),
    "fix4": ("prefix-swapon-range", "result:swapon"),
}


@pytest.mark.parametrize("fix", sorted(FIX_VARIANTS))
def test_each_fix_has_a_regression_file_with_its_expectations(fix: str) -> None:
    variant, signature = FIX_VARIANTS[fix]
    program = parse_file(REGRESSIONS / f"{fix}.pte")
    verdicts = {expect.impl: expect for expect in program.expects}
    assert verdicts["postfix"].verdict == "agrees"
    for impl in ("prefix", variant):
        assert verdicts[impl].verdict == "diverges"
        assert verdicts[impl].signatures[0] == signature
    assert program.comments[0].startswith(f"Fix {fix[-1]} ")


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.pte")), ids=lambda path: path.name)
def test_regression_files_survive_printing(path: Path) -> None:
    program = parse_file(path)
    assert parse(format_program(program)) == program
