"""`ptediff explore`: exhaustive and PCT exploration, the observation table, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ptediff.cli.main import main

FIX3 = Path(__file__).resolve().parents[2] / "tests" / "regressions" / "fix3.pte"


def ptediff(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def explore_json(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, Any]:
    code, out, _ = ptediff(capsys, "explore", *argv, "--format", "json")
    return code, json.loads(out)


def _impl(document: Any, name: str) -> Any:
    [impl] = [i for i in document["impls"] if i["impl"] == name]
    return impl


def _observations(impl: Any) -> dict[str, str]:
    return {s["class"]: s["observation"] for s in impl["signatures"]}


def test_exhaustive_exploration_finds_fix3_sometimes_and_never_on_postfix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = explore_json(capsys, FIX3, "--preemptions", "1")
    assert code == 0
    assert document["passed"] is True
    assert (document["mode"], document["preemption_bound"]) == ("exhaustive", 1)
    postfix = _impl(document, "postfix")
    assert postfix["complete"] is True
    assert postfix["signatures"] == []
    assert postfix["agreeing"] == postfix["schedules"] > 1
    variant = _impl(document, "prefix-cow-fork-write")
    assert variant["schedules"] == postfix["schedules"]
    assert _observations(variant)["shared-writable"] == "Sometimes"
    assert 0 < variant["agreeing"] < variant["schedules"]
    [shared] = [s for s in variant["signatures"] if s["class"] == "shared-writable"]
    assert len(shared["witness"]) == 1  # one schedule per parallel block


def test_the_text_report_has_the_herd_style_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ptediff(capsys, "explore", FIX3, "--preemptions", "1",
                           "--impl", "prefix-cow-fork-write", "--impl", "postfix")
    assert code == 0
    assert "every schedule with at most 1 preemptions" in out
    lines = out.splitlines()
    postfix = next(line for line in lines if line.startswith("postfix ") and "Never" in line)
    assert postfix.split()[1:4] == ["-", "Never", f"0/{postfix.split()[-1].split('/')[-1]}"]
    shared = next(line for line in lines if "shared-writable" in line and "Sometimes" in line)
    assert shared.split()[0] == "prefix-cow-fork-write"
    assert "outcomes of prefix-cow-fork-write:" in out


def test_an_expectation_no_schedule_meets_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    # without preemptions the fork cannot run inside the migration window
    code, out, _ = ptediff(capsys, "explore", FIX3, "--preemptions", "0",
                           "--impl", "prefix-cow-fork-write")
    assert code == 1
    assert "UNEXPECTED: expected to diverge, agrees in every schedule" in out


def test_diverging_in_some_schedule_when_expected_to_agree_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "claims.pte"
    lines = [line for line in FIX3.read_text().splitlines() if not line.startswith("expect ")]
    path.write_text("expect prefix-cow-fork-write agrees\n" + "\n".join(lines) + "\n")
    code, document = explore_json(capsys, path, "--preemptions", "1",
                                  "--impl", "prefix-cow-fork-write")
    assert code == 1
    assert document["passed"] is False
    unexpected = _impl(document, "prefix-cow-fork-write")["unexpected"]
    assert unexpected.startswith("diverges in ")


def test_pct_is_reproducible_for_a_seed(capsys: pytest.CaptureFixture[str]) -> None:
    def run(seed: str) -> Any:
        code, document = explore_json(capsys, FIX3, "--pct", "25", "--depth", "2",
                                      "--seed", seed, "--impl", "prefix")
        assert code == 0
        for impl in document["impls"]:
            impl.pop("seconds")
        document.pop("seconds")
        return document

    first = run("7")
    assert first == run("7")
    assert first["mode"] == "pct"
    assert first["pct"]["runs"] == 25
    assert first["pct"]["threads"] == 2
    assert 0 < first["pct"]["probability_bound"] <= 0.5
    assert _impl(first, "prefix")["schedules"] == 25


def test_a_program_without_parallel_blocks_has_one_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "seq.pte"
    path.write_text("map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\n")
    code, document = explore_json(capsys, path, "--impl", "postfix")
    assert code == 0
    assert _impl(document, "postfix")["schedules"] == 1
