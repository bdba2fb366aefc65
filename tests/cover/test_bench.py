"""Smoke test of the benchmark runner: every benchmark at minimal sizes, asserting the shape of
what it prints and writes. Never a timing assertion: figures depend on the machine."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from ptediff.core.program import Program
from ptediff.dsl.validate import validate

import bench
from bench.bugs import SEEDED_BUGS, search_plan
from bench.cli import ALL, run
from bench.long_programs import long_programs
from bench.minima import known_minimum
from bench.settings import QUICK
from bench.workload import sequential_program

TINY = dataclasses.replace(
    QUICK,
    mode="custom",
    seeds=1,
    budget=1.0,  # one chunk: the budget is checked between chunks
    jobs=1,
    impls=("prefix-pte-unmap-arg",),
    throughput_examples=4,
    throughput_ops=(3, 5),
    scaling_sizes=(5, 10),
    scaling_ops=20,
    explore_unbounded=False,
    explore_files=("fix3-unlocked.pte",),
    memory_seconds=1.0,
    memory_max_examples=2,
    memory_impls=("postfix",),
    memory_tracemalloc=True,
    profile_examples=3,
)
DOCUMENT_KEYS = {"benchmark", "date", "machine", "settings", "parameters", "summary", "targets",
                 "rows", "table"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("bench")
    lines: list[str] = []
    assert run([*ALL, "profile"], TINY, out, log=lines.append) == 0
    return out / "custom", "\n".join(lines)


def document(directory: Path, name: str) -> dict:
    return json.loads((directory / f"{name}.json").read_text())


def test_every_benchmark_writes_a_document(tiny_run: tuple[Path, str]) -> None:
    directory, log = tiny_run
    for name in (*ALL, "profile"):
        doc = document(directory, name)
        assert set(doc) >= DOCUMENT_KEYS, name
        assert doc["benchmark"] == name
        assert doc["settings"]["mode"] == "custom"
        assert {"cpu", "cores", "python", "packages"} <= set(doc["machine"])
        assert f"wrote {directory / (name + '.json')}" in log


def test_time_to_failure_rows(tiny_run: tuple[Path, str]) -> None:
    doc = document(tiny_run[0], "ttf")
    [row] = doc["rows"]
    assert (row["bug"], row["impl"], row["expected"]) == (
        "fix 2", "prefix-pte-unmap-arg", "kmap-leak:remove_migration_pte"
    )
    assert row["seeds"] == 1 and row["solved"] in (0, 1)
    [seed] = row["per_seed"]
    assert seed["solved"] == (seed["seconds_to_first"] is not None and row["solved"] == 1)
    assert {t["figure"] for t in doc["targets"]} == {
        "median time to failure, fix 2 on prefix-pte-unmap-arg",
        "solve rate within 1 s, fix 2 on prefix-pte-unmap-arg",
    }


def test_shrink_rows_compare_with_the_minimum(tiny_run: tuple[Path, str]) -> None:
    [row] = document(tiny_run[0], "shrink")["rows"]
    assert row["minimum"] == {"ops": 3, "threads": 1, "preemptions": 0, "lines": 5}
    assert 0 <= row["at_minimum"] <= row["reported"] <= row["seeds"] == 1
    if row["reported"]:
        assert row["per_seed"][0]["text"].startswith("config highpte=on")


def test_throughput_draws_the_same_programs_in_both_passes(tiny_run: tuple[Path, str]) -> None:
    summary = document(tiny_run[0], "throughput")["summary"]
    assert summary["same_programs"] is True
    assert summary["programs"] == TINY.throughput_examples
    assert summary["ratio"] == pytest.approx(
        summary["full_check_per_second"] / summary["draw_only_per_second"]
    )
    assert set(summary["breakdown_ms_per_program"]) == {"spec", "postfix", "prefix", "judge"}


def test_explore_scaling_memory_rows(tiny_run: tuple[Path, str]) -> None:
    directory = tiny_run[0]
    explored = document(directory, "explore")["rows"]
    assert [(r["file"], r["bound"], r["invariants"]) for r in explored] == [
        ("fix3-unlocked.pte", 2, True), ("fix3-unlocked.pte", 2, False)
    ]
    assert all(r["complete"] and r["schedules"] > 0 for r in explored)
    scaled = document(directory, "scaling")
    assert [r["ops"] for r in scaled["rows"]] == [5, 10]
    assert set(scaled["summary"]["ratios"]) == {"spec", "postfix", "postfix+invariants"}
    memory = document(directory, "memory")["rows"]
    assert [r["mode"] for r in memory] == ["rss", "tracemalloc"]
    assert memory[0]["impls"] == ["postfix"] and memory[0]["examples"] >= 1
    assert memory[0]["max_rss_kib"] >= memory[0]["baseline_rss_kib"] > 0
    assert memory[1]["tracemalloc_peak_bytes"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "unknown benchmark 'nope'"),
        (["--seeds", "0"], "must be at least 1"),
        (["--budget", "inf"], "positive and finite"),
        (["--impl", "postfix"], "invalid choice"),
    ],
)
def test_bad_arguments_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_unusable_output_directory_fails_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert bench.main(["ttf", "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert "bench: error: cannot create" in err and "Traceback" not in err


def test_known_minima_match_the_seeded_bugs() -> None:
    sizes = {bug.fix: known_minimum(bug) for bug in SEEDED_BUGS}
    assert {fix: (m.ops, m.threads) for fix, m in sizes.items()} == {
        1: (4, 2), 2: (3, 1), 3: (4, 2), 4: (3, 1)
    }
    for bug in SEEDED_BUGS:
        assert (sizes[bug.fix].preemptions > 0) == bug.racy
        assert sizes[bug.fix].texts
    assert [impl for impl, _ in search_plan()][-1] == "prefix"


def test_sequential_workload_is_valid_deterministic_and_exact() -> None:
    program = sequential_program(200)
    assert len(program.ops()) == 200 and not program.blocks()
    assert program == sequential_program(200)
    assert program != sequential_program(200, seed=1)


@settings(max_examples=15, database=None, deadline=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(long_programs(18, 24))
def test_long_programs_are_valid_and_about_twenty_ops(program: Program) -> None:
    validate(program)
    assert 18 <= len(program.ops()) <= 24
