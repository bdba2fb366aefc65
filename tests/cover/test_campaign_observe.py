"""`hunt --observe`, `ptediff stats`, kernel-function coverage and `--jobs`.

The observation lines must validate against hypothesis's documented observation schema
(tests/data/hypothesis-observation.schema.json restates it) and carry ptediff's features.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ptediff import impls
from ptediff.cli.main import main
from ptediff.dsl.parse import parse_file
from ptediff.impls.coverage import counted, kernel_functions
from ptediff.search.jobs import Campaign, hunt_jobs, split_examples, worker_seed
from test_report_schema import validate_report

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency")

SCHEMA = Path(__file__).parent.parent / "data" / "hypothesis-observation.schema.json"
REGRESSIONS = Path(__file__).parent.parent / "regressions"
FIX2 = ("prefix-pte-unmap-arg", "kmap-leak:remove_migration_pte")
BUDGET = ("--max-examples", "150", "--seed", "1", "--profile", "ci", "--no-progress")


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("observe") / "campaign.jsonl"
    code = main(["hunt", "--impl", "postfix", "--impl", FIX2[0], *BUDGET, "--observe",
                 str(path), "--format", "json"])
    assert code == 0
    return path


def test_every_observation_line_follows_hypothesis_schema(observed: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    lines = [json.loads(line) for line in observed.read_text().splitlines()]
    assert len(lines) >= 150
    for line in lines:
        validator.validate(line)
    cases = [line for line in lines if "outcome" in line["features"]]
    assert {line["features"]["outcome"] for line in cases} == {"agree", "divergence"}
    failing = next(line for line in cases if line["features"]["outcome"] == "divergence")
    assert failing["features"]["divergence"] == ":".join(FIX2)
    assert failing["features"]["op:migrate"] >= 1
    assert failing["features"]["kfunc:remove_migration_pte"] >= 1
    assert failing["status"] == "failed"
    assert any("migrate" in note for note in failing["metadata"]["notes"])  # the DSL text


def test_stats_summarises_the_campaign_and_draws_the_plot(
    observed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is a test dependency")
    plot = tmp_path / "campaign.png"
    assert main(["stats", str(observed), "--plot", str(plot), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    validate_report(document)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert document["cases"] == sum(document["outcomes"].values())
    assert {op["kind"] for op in document["operations"]} >= {"map", "fault", "migrate"}
    [seen] = document["divergences"]
    assert seen["divergence"] == ":".join(FIX2) and seen["first_case"] >= 1
    coverage = document["coverage"]
    assert 0 < coverage["reached"] < coverage["functions"]
    assert coverage["functions"] == len(coverage["by_function"])

    assert main(["stats", str(observed), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "operation mix" in out and "not exercised:" in out and "divergences over time" in out


def test_stats_names_the_line_of_a_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"type": "info"}\n{not json\n')
    assert main(["stats", str(broken), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert f"{broken}:2:2: not JSON" in err and "Traceback" not in err


def test_hunt_reports_kernel_function_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", "--impl", FIX2[0], *BUDGET, "--format", "json"]) == 0
    coverage = json.loads(capsys.readouterr().out)["coverage"]
    rows = {row["function"]: row for row in coverage["by_function"]}
    assert rows["remove_migration_pte"]["file"] == "mm/migrate.c"
    assert rows["remove_migration_pte"]["programs"] >= 1
    assert coverage["unreached"] == [name for name, row in rows.items() if not row["programs"]]
    assert main(["hunt", "--impl", FIX2[0], *BUDGET]) == 0
    assert "kernel-function coverage:" in capsys.readouterr().out


def test_counting_changes_no_outcome() -> None:
    for path in sorted(REGRESSIONS.glob("*.pte")):
        program = parse_file(path)
        for kernel in impls.REGISTRY.values():
            assert impls.run(counted(kernel), program) == impls.run(kernel, program), path


def test_every_model_method_citing_a_kernel_file_is_a_kernel_function() -> None:
    functions = kernel_functions(impls.REGISTRY["postfix"])
    assert functions["sys_swapon"] == "mm/swapfile.c"
    assert functions["copy_one_pte"] == "mm/memory.c"
    assert "run_op" not in functions  # the program's dispatcher, not a kernel function
    for kernel in impls.REGISTRY.values():  # a variant's overrides keep their citation
        assert set(kernel_functions(kernel)) >= set(functions)


def test_jobs_split_the_budget_and_seeds() -> None:
    assert split_examples(301, 2) == [151, 150]
    assert worker_seed(5, 0, False) == 5 and worker_seed(5, 1, False) != 5
    assert worker_seed(None, 1, True) == 1 and worker_seed(None, 1, False) is None


def test_jobs_with_a_seed_and_an_example_budget_are_reproducible(tmp_path: Path) -> None:
    def campaign() -> Campaign:
        return Campaign(impls=(FIX2[0],), max_examples=200, seconds=None, seed=1, profile="ci",
                        save_dir=tmp_path / "saved", check_invariants=False, database=None,
                        observe=None)

    first, second = hunt_jobs(2, campaign()), hunt_jobs(2, campaign())
    assert first.jobs == 2 and first.errors == []
    assert [(f.impl, f.signature) for f in first.findings] == [FIX2]
    assert [f.program for f in first.findings] == [f.program for f in second.findings]
    assert first.coverage is not None and first.coverage.programs > 0
    [saved] = (tmp_path / "saved").glob("*.pte")  # both workers, one deduplicated file
    assert f"diverges {FIX2[1]}" in saved.read_text()


def test_sigterm_ends_a_jobs_campaign_with_one_partial_report(tmp_path: Path) -> None:
    """`timeout` and CI signal the parent alone: it passes the stop on to its workers."""
    hunt_process = subprocess.Popen(
        [sys.executable, "-m", "ptediff", "hunt", "--jobs", "2", "--seconds", "300", "--impl",
         FIX2[0], "--no-progress", "--format", "json", "--save", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    children = Path(f"/proc/{hunt_process.pid}/task/{hunt_process.pid}/children")
    for _ in range(600):  # until both workers are forked (the machine may be loaded)
        if children.exists() and len(children.read_text().split()) >= 2:
            break
        time.sleep(0.1)
    time.sleep(1)
    hunt_process.send_signal(signal.SIGTERM)
    try:
        out, err = hunt_process.communicate(timeout=300)
    finally:
        if hunt_process.poll() is None:  # never leave it (or its workers) behind
            hunt_process.kill()
            hunt_process.communicate()
    assert hunt_process.returncode == 143, err
    document = json.loads(out)
    assert document["interrupted"] and document["signal"] == "SIGTERM" and document["jobs"] == 2
    assert "Traceback" not in err
