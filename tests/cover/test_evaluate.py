"""`ptediff evaluate`, its engine and the naive random peer."""

from __future__ import annotations

import builtins
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from ptediff.cli.main import main
from ptediff.dsl.printer import format_program
from ptediff.dsl.validate import validate
from ptediff.impls import mutants
from ptediff.report import chart
from ptediff.search.evaluate import (
    FIX_VARIANTS,
    Evaluation,
    Trial,
    censored_median,
    default_tasks,
    evaluate,
    speedup,
    summarize,
)
from ptediff.search.peer import draw_valid, peer_search
from test_report_schema import validate_report

EASY = "mutant:fork_no_wrprotect"  # both strategies find it within a few hundred examples


def test_peer_programs_are_valid_and_the_same_for_a_seed() -> None:
    first = [draw_valid(random.Random(7)) for _ in range(1)]
    rng_a, rng_b = random.Random(7), random.Random(7)
    a = [draw_valid(rng_a) for _ in range(200)]
    b = [draw_valid(rng_b) for _ in range(200)]
    assert a == b and a[0] == first[0]
    for program in a:
        validate(program)
    kinds = {op.KIND for program in a for op in program.ops()}
    assert kinds == {"map", "munmap", "mprotect", "fault", "fork", "exit", "migrate", "swapon",
                     "pageout"}
    assert any(program.blocks() for program in a)


def test_peer_finds_an_easy_bug_and_reduces_it_deterministically() -> None:
    runs = [peer_search("prefix-swapon-range", seed=1, max_examples=2000) for _ in range(2)]
    assert runs[0].cls == "kernel-bug:sys_swapon"
    assert runs[0].examples_to_first == runs[1].examples_to_first
    assert runs[0].reduced is not None and runs[0].reduced == runs[1].reduced
    assert [op.KIND for op in runs[0].reduced.ops()] == ["swapon"] * 3


def test_peer_stops_at_its_budget_when_the_implementation_agrees() -> None:
    run = peer_search("postfix", seed=3, max_examples=150)
    assert not run.solved and run.examples == 150


def test_default_tasks_are_the_catalogue_then_the_fixes_and_prefix() -> None:
    tasks = default_tasks()
    assert [t.impl for t in tasks] == [*mutants.CATALOGUE, *FIX_VARIANTS]
    assert all(t.expected for t in tasks if t.kind == "mutant")


def test_censored_median_and_speedup() -> None:
    assert censored_median([1.0, None, 3.0]) == 3.0
    assert censored_median([1.0, None, None]) is None
    trials = [Trial("t", "hunt", s, 10.0, True, "data", 10 * s, 0.1 * s, 3) for s in (1, 2, 3)]
    hunt = summarize(trials)
    assert hunt.examples == (20, 10, 30) and hunt.solved == 3 and hunt.ops == 3
    peer = summarize([Trial("t", "peer", 1, 10.0, True, "data", 400, 0.5, 5),
                      Trial("t", "peer", 2, 10.0)])
    assert peer.examples == (None, 400, None)
    assert speedup(hunt, peer, "examples") is None
    assert speedup(hunt, summarize(trials[:1]), "examples") == 0.5
    zero = summarize([Trial("t", "hunt", 1, 10.0, True, "data", 0, 0.0, 3)])
    assert math.isinf(speedup(zero, hunt, "examples") or 0)


def test_evaluate_runs_both_strategies_per_seed() -> None:
    ev = evaluate(default_tasks([EASY]), seeds=[1, 2], budget=60)
    assert [(t.strategy, t.seed) for t in ev.trials] == [
        ("hunt", 1), ("hunt", 2), ("peer", 1), ("peer", 2)
    ]
    hunt = ev.summary(EASY, "hunt")
    assert hunt is not None and hunt.solved == 2 and hunt.classes == ("shared-writable",)
    assert ev.trials[0].program == format_program(
        __import__("ptediff.dsl.parse", fromlist=["parse"]).parse(ev.trials[0].program)
    )
    assert ev.buckets()["hunt"][-1] == 1


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main([*argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    document = json.loads(out)
    validate_report(document)
    return code, document, err


def test_cli_evaluate_json_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "buckets.png"
    code, document, err = _json(
        capsys, "evaluate", "--impl", EASY, "--seeds", "1", "--seconds", "60", "--chart", str(png)
    )
    assert code == 0
    assert document["command"] == "evaluate" and document["chart"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {t["strategy"] for t in document["trials"]} == {"hunt", "peer"}
    assert document["trials"][0]["solved"] and document["trials"][0]["class"] == "shared-writable"
    assert "evaluate [1/2]" in err


def test_cli_evaluate_of_postfix_finds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, document, _ = _json(capsys, "evaluate", "--impl", "postfix", "--strategy", "peer",
                              "--seconds", "0.5", "--no-progress")
    assert code == 0 and not document["trials"][0]["solved"]


def test_cli_evaluate_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--chart", "out.svg"]) == 2
    assert "does not end in .png" in capsys.readouterr().err
    assert main(["evaluate", "--impl", "mutant:nope"]) == 2
    assert "unknown mutant" in capsys.readouterr().err


def test_chart_without_matplotlib_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    ev = Evaluation(default_tasks([EASY]), ("hunt",), (1,), 1.0)
    with pytest.raises(chart.ChartUnavailable, match=r"pip install 'ptediff\[plot\]'"):
        chart.write_chart(ev, tmp_path / "c.png")
    # The command checks before it searches: a usage error (2), nothing run.
    code = main(["evaluate", "--impl", EASY, "--chart", str(tmp_path / "c.png")])
    assert code == 2 and not (tmp_path / "c.png").exists()
