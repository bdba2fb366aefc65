"""The hunt engine on a quick target: budgets, determinism, progress, saving, bad arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ptediff.core.errors import ImplLoadError
from ptediff.core.program import Config, Program, Swapon
from ptediff.dsl.parse import parse_file
from ptediff.search.findings import HuntReport, ProgramSize
from ptediff.search.hunt import HuntError, hunt
from ptediff.search.strategies import programs

SWAPONS = Program((Swapon(1), Swapon(1), Swapon(1)), config=Config(swap_bits=2))
SWAPON_BUG = "kernel-bug:sys_swapon"


# A focused strategy keeps these tests quick; tests/quality hunts with the full one.
SWAP_ONLY = programs(config=Config(swap_bits=2), ops={"swapon", "map"}, threads=None)


def quick_hunt(**options: Any) -> HuntReport:
    arguments: dict[str, Any] = {
        "max_examples": 100,
        "seed": 3,
        "profile": "ci",
        "strategy": SWAP_ONLY,
        **options,
    }
    return hunt(["postfix", "prefix-swapon-range"], **arguments)


def test_finds_the_swapon_bug_with_its_minimal_program() -> None:
    report = quick_hunt()
    finding = report.finding("prefix-swapon-range", SWAPON_BUG)
    assert finding is not None
    assert finding.program == SWAPONS
    assert finding.text == "config swap_bits=2\n\nswapon   1\nswapon   1\nswapon   1\n"
    assert finding.op == 2
    assert finding.size == ProgramSize(ops=3, threads=1, preemptions=0, lines=5)
    assert finding.concurrency == "sequential"
    assert finding.classification == "fixed"
    assert 0 < finding.examples_to_first <= report.examples
    assert finding.saved is None
    assert report.finding("postfix", SWAPON_BUG) is None
    assert report.impls == ("postfix", "prefix-swapon-range")
    assert report.rows()[0] == ("postfix", None)


def test_same_seed_and_budget_give_the_same_hunt() -> None:
    first, second = quick_hunt(max_examples=150), quick_hunt(max_examples=150)
    assert first.findings

    def summary(report: HuntReport) -> list[tuple[str, str, int, Program]]:
        return [(f.impl, f.signature, f.examples_to_first, f.program) for f in report.findings]

    assert summary(first) == summary(second)
    assert first.examples == second.examples and first.chunks == second.chunks == 2


def test_progress_reports_examples_and_findings() -> None:
    calls: list[tuple[int, int, float | None]] = []
    report = quick_hunt(max_examples=120, progress=lambda *args: calls.append(args))
    counts = [examples for examples, _, _ in calls]
    # one call per property run (shrinking included); the bug shows within the first few
    # examples, so hypothesis spends the chunk shrinking rather than generating
    assert len(calls) == report.examples and report.generated == 120
    assert counts[0] == 1 and counts == sorted(counts) and counts[-1] <= 120
    assert all(left is None for _, _, left in calls)
    assert calls[-1][1] == len(report.findings) >= 1


def test_saves_each_finding_once(tmp_path: Path) -> None:
    report = quick_hunt(save_dir=tmp_path)
    finding = report.finding("prefix-swapon-range", SWAPON_BUG)
    assert finding is not None and finding.saved is not None
    assert finding.saved.parent == tmp_path
    saved = parse_file(finding.saved)
    assert saved.steps == SWAPONS.steps
    assert [(e.impl, e.verdict) for e in saved.expects] == [
        ("postfix", "agrees"),
        ("prefix-swapon-range", "diverges"),
    ]
    again = quick_hunt(save_dir=tmp_path)
    assert again.findings[0].saved is None  # already there
    assert len(list(tmp_path.glob("*.pte"))) == len({f.saved for f in report.findings})


def test_a_time_budget_ends_the_hunt() -> None:
    # How closely the budget is kept is a benchmark figure (bench/, docs/benchmarks.md), not
    # a timed assertion: here only that the budget, not an example count, ended the hunt.
    report = hunt(["postfix"], seconds=1.0, seed=1, profile="ci")
    assert report.seconds >= 1.0
    assert report.max_examples is None and report.budget_seconds == 1.0
    assert not report.interrupted


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(HuntError, match="max_examples"):
        hunt(["postfix"], max_examples=0)
    with pytest.raises(HuntError, match="seconds"):
        hunt(["postfix"], seconds=-1)
    with pytest.raises(HuntError, match="unknown profile 'fast'"):
        hunt(["postfix"], profile="fast")
    with pytest.raises(ImplLoadError):
        hunt(["no-such-model"], max_examples=1)


def test_ctrl_c_ends_the_hunt_with_what_it_found() -> None:
    def interrupt_in_second_chunk(examples: int, found: int, left: float | None) -> None:
        if examples == 150:
            raise KeyboardInterrupt

    report = quick_hunt(max_examples=1000, progress=interrupt_in_second_chunk)
    assert report.interrupted and report.chunks == 1
    assert report.finding("prefix-swapon-range", SWAPON_BUG) is not None
