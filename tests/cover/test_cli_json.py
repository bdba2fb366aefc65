"""`--format json`: every command's document follows docs/report-schema.json, with real data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ptediff import impls
from ptediff.cli.main import main
from ptediff.dsl.parse import parse_file
from test_cli_run import FIX3 as FIX3_TEXT
from test_report_schema import validate_report

REGRESSIONS = Path(__file__).resolve().parents[2] / "tests" / "regressions"
FIX3 = REGRESSIONS / "fix3.pte"


def json_of(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, Any]:
    code = main([str(a) for a in (*argv, "--format", "json")])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    document = json.loads(out)
    validate_report(document)
    assert document["command"] == str(argv[0])
    return code, document


def test_impls_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = json_of(capsys, "impls")
    assert code == 0
    assert [i["name"] for i in document["impls"]] == list(impls.REGISTRY)
    assert document["impls"][0]["class"] == "ptediff.impls.base:Kernel"


def test_check_json_with_a_good_and_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pte"
    bad.write_text("map p0 0x1000 1 rw\nfault p0 0x1000 write\n")
    code, document = json_of(capsys, "check", FIX3, bad)
    assert code == 2
    good, broken = document["files"]
    program = parse_file(FIX3)
    assert (good["path"], good["ok"]) == (str(FIX3), True)
    assert (good["ops"], good["parallel_blocks"]) == (len(program.ops()), len(program.blocks()))
    assert {"impl": "postfix", "verdict": "agrees", "signatures": []} in good["expects"]
    assert broken["ok"] is False
    assert broken["error"]["kind"] == "syntax"
    assert (broken["error"]["file"], broken["error"]["line"]) == (str(bad), 2)


def test_run_json_carries_the_whole_divergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fix3.pte"
    path.write_text(FIX3_TEXT)
    code, document = json_of(capsys, "run", path)
    assert code == 0
    assert document["passed"] is True
    [item] = document["files"]
    assert item["program"]["text"] == FIX3_TEXT  # already canonical
    verdicts = {v["impl"]: v for v in item["verdicts"]}
    assert verdicts["postfix"]["agrees"] is True
    assert verdicts["postfix"]["divergence"] is None
    variant = verdicts["prefix-cow-fork-write"]
    assert (variant["expected"], variant["passed"], variant["agrees"]) == ("diverges", True, False)
    assert variant["expected_signatures"] == ["shared-writable"]
    divergence = variant["divergence"]
    assert divergence["level"] == "contract"
    assert divergence["signatures"][0] == {"class": "shared-writable", "level": "contract", "op": 2,
                                           "line": 7, "secondary": False}
    # the last line reads p0's page back: the spec keeps 0xaa, the model shows p1's 0xbb
    assert divergence["results"] == [
        {"op": 5, "line": 11, "kind": "fault", "spec": 0xAA, "impl": 0xBB}
    ]
    assert variant["misses"] == [{"op": 5, "line": 11, "expected": 0xAA, "got": 0xBB}]
    p0 = next(p for p in divergence["ptes"] if p["proc"] == "p0")
    assert p0["addr"] == 0x1000
    assert p0["spec"] == {"kind": "present", "writable": False, "frame": "P0", "node": 1,
                          "data": 0xAA, "swap": None}
    assert (p0["impl"]["writable"], p0["impl"]["data"]) == (True, 0xBB)
    assert set(p0["fields"]) >= {"writable", "data"}
    assert [step["thread"] for step in divergence["trace"]][:7] == [0, 0, 0, 0, 0, 0, 1]


def test_run_json_of_every_regression_file_validates(capsys: pytest.CaptureFixture[str]) -> None:
    _, document = json_of(capsys, "run", REGRESSIONS)
    assert len(document["files"]) == len(list(REGRESSIONS.glob("*.pte")))


def test_run_json_when_the_spec_breaks_an_expectation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spec.pte"
    path.write_text("map p0 0x1000 1 rw\nfault p0 0x1000 read => 0x5\n")
    code, document = json_of(capsys, "run", path)
    assert code == 1
    [item] = document["files"]
    assert item["passed"] is False
    assert item["spec_error"].startswith("line 2:")
    assert item["verdicts"] == []


@pytest.mark.parametrize("mode", [("--preemptions", "1"), ("--pct", "5", "--seed", "2")])
def test_explore_json(capsys: pytest.CaptureFixture[str], mode: tuple[str, ...]) -> None:
    code, document = json_of(capsys, "explore", FIX3, *mode)
    assert code == 0
    assert document["path"] == str(FIX3)
    assert {i["impl"] for i in document["impls"]} == {"postfix", "prefix", "prefix-cow-fork-write"}


def test_run_json_lists_the_files_it_could_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pte"
    bad.write_text("map p0 0x1000 1 rw\nmprotect p0 0x1000 1 rwx\n")
    code, document = json_of(capsys, "run", bad, FIX3, "--impl", "postfix")
    assert code == 2
    assert document["passed"] is False
    [error] = document["errors"]
    assert (error["kind"], error["file"], error["line"]) == ("validation", str(bad), 2)
    assert [f["path"] for f in document["files"]] == [str(FIX3)]
