"""`ptediff run`: verdicts against `expect` lines, divergence tables, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ptediff.cli.main import main

REGRESSIONS = Path(__file__).resolve().parents[2] / "tests" / "regressions"

# Fix 3 in its two-process form: an unlocked migration of p0's page is preempted by a fork
# right after it installed its migration entry; the pre-fix fork copies it as a WRITE entry
# into both mms, so after the migration both processes map the new page writable.
FIX3 = """\
expect postfix agrees
expect prefix-cow-fork-write diverges shared-writable

map      p0 0x1000 1 rw
fault    p0 0x1000 write 0xaa
parallel {
  thread { migrate p0 0x1000 1 unlocked }
  thread { fork p0 p1 }
} schedule 0 0 0 0 0 0 1 1 1 1 1 1
fault    p1 0x1000 write 0xbb
fault    p0 0x1000 read => 0xaa
"""


def ptediff(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def fix3(tmp_path: Path) -> Path:
    path = tmp_path / "fix3.pte"
    path.write_text(FIX3)
    return path


def words(text: str) -> list[str]:
    return text.split()


def _row(out: str, first: str) -> list[str]:
    """The words of the first line starting with the word `first`."""
    return next(line for line in out.splitlines() if line.startswith(first + " ")).split()


def test_expected_divergence_passes_with_its_tables(
    fix3: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = ptediff(capsys, "run", fix3)
    assert (code, err) == (0, "")
    assert _row(out, "postfix") == ["postfix", "agrees", "agrees", "ok"]
    verdict = _row(out, "prefix-cow-fork-write")
    assert verdict[:4] == ["prefix-cow-fork-write", "diverges", "shared-writable", "diverges:"]
    assert verdict[-1] == "ok"
    # signatures with the line of the operation where each first shows
    assert _row(out, "shared-writable") == words(
        "shared-writable contract L7 migrate p0 0x1000 1 unlocked")
    assert _row(out, "data")[:3] == ["data", "contract", "L10"]
    # the ptes side by side: spec private and read-only in p0; the model shares one writable page
    assert _row(out, "p0") == (
        words("p0 0x1000 present no P0 1 0xaa present yes* P0* 1 0xbb*")
    )
    assert _row(out, "p1") == words("p1 0x1000 present yes P1 0 0xbb present yes P0* 1* 0xbb")
    # the result that differs, with its line
    assert _row(out, "11") == words("11 fault p0 0x1000 read => 0xaa 0xaa 0xbb")
    # the interleaving: the fork preempts the migration after its sixth step
    assert "parallel block 0 (executed schedule 0 0 0 0 0 0 1 1 1 1 1 1" in out
    fork_row = _row(out, "6")
    assert fork_row[1:5] == ["L8", "fork", "p0", "p1:"]
    assert fork_row[-3:] == ["preempts", "thread", "0"]


def test_an_unexpected_divergence_fails_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wrong.pte"
    path.write_text(FIX3.replace("expect prefix-cow-fork-write diverges shared-writable",
                                 "expect prefix-cow-fork-write agrees"))
    code, out, _ = ptediff(capsys, "run", path)
    assert code == 1
    row = _row(out, "prefix-cow-fork-write")
    assert row[1:3] == ["agrees", "diverges:"]
    assert "FAIL" in row
    assert "expected to agree with the spec, but diverges" in out


def test_an_expected_divergence_that_does_not_happen_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sequential.pte"
    path.write_text(FIX3.replace(" schedule 0 0 0 0 0 0 1 1 1 1 1 1", ""))
    code, out, _ = ptediff(capsys, "run", path)
    assert code == 1
    assert "expected to diverge (shared-writable), but agrees with the spec" in out


def test_impl_option_overrides_expect_lines_and_unexpected_impls_are_only_reported(
    fix3: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = ptediff(capsys, "run", fix3, "--impl", "prefix", "--impl",
                           "ptediff.impls.variants:CowForkWrite")
    assert code == 0
    assert _row(out, "prefix")[-1] == "reported"
    assert _row(out, "ptediff.impls.variants:CowForkWrite")[-1] == "reported"
    assert "postfix" not in out


def test_without_expect_lines_every_registered_impl_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ptediff import impls

    path = tmp_path / "plain.pte"
    path.write_text("map p0 0x1000 1 rw\nfault p0 0x1000 read => 0\n")
    code, out, _ = ptediff(capsys, "run", path)
    assert code == 0
    for name in impls.REGISTRY:
        assert _row(out, name)[1:3] == ["-" if name != "postfix" else "agrees", "agrees"]


def test_an_expectation_the_spec_breaks_is_a_failure_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spec.pte"
    path.write_text("map p0 0x1000 1 rw\nfault p0 0x1000 read => 0x5\n")
    code, out, _ = ptediff(capsys, "run", path)
    assert code == 1
    assert "FAIL: line 2: `fault p0 0x1000 read => 0x5` expected 0x5, got 0x0" in out


def test_a_bad_file_exits_2_but_the_others_still_run(
    fix3: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pte"
    bad.write_text("fork p0 p0\n")
    code, out, err = ptediff(capsys, "run", bad, fix3)
    assert code == 2
    assert err.startswith(f"{bad}:1:")
    assert str(fix3) in out


def test_markdown_run_report(fix3: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ptediff(capsys, "run", fix3, "--format", "markdown")
    assert code == 0
    assert out.startswith(f"## {fix3}\n\n| implementation")
    assert "### prefix-cow-fork-write" in out
    assert "| p0        | 0x1000    | present     | no " in out


def test_every_regression_file_meets_its_expectations(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ptediff(capsys, "run", REGRESSIONS, "--format", "json")
    document = json.loads(out)
    failing = [
        (f["path"], f["spec_error"], [(v["impl"], v["messages"]) for v in f["verdicts"]
                                      if not v["passed"]])
        for f in document["files"]
        if not f["passed"]
    ]
    assert failing == []
    assert code == 0
    assert len(document["files"]) == len(list(REGRESSIONS.glob("*.pte")))
