"""The `ptediff` entry point: fmt, check, impls, usage errors and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ptediff import impls
from ptediff.cli.main import main
from ptediff.dsl.parse import parse

REPO = Path(__file__).resolve().parents[2]
REGRESSIONS = REPO / "tests" / "regressions"

MESSY = "map p0   0x01000 1 rw\nfault p0 0X1000 write 0xAA\n"
CANONICAL = "map      p0 0x1000 1 rw\nfault    p0 0x1000 write 0xaa\n"


def ptediff(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_python_dash_m_is_the_ptediff_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ptediff", "impls"], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert "prefix-cow-fork-write" in done.stdout


# ---- fmt ------------------------------------------------------------------------------------


def test_fmt_rewrites_in_canonical_form_and_then_has_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "messy.pte"
    path.write_text(MESSY)
    assert ptediff(capsys, "fmt", path) == (0, f"reformatted {path}\n", "")
    assert path.read_text() == CANONICAL
    assert ptediff(capsys, "fmt", path) == (0, "", "")
    assert ptediff(capsys, "fmt", "--check", path) == (0, "", "")
    assert [p.name for p in tmp_path.iterdir()] == ["messy.pte"]  # no temporary left behind


def test_fmt_check_lists_files_that_would_change_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.pte").write_text(MESSY)
    (tmp_path / "b.pte").write_text(CANONICAL)
    code, out, _ = ptediff(capsys, "fmt", "--check", tmp_path)
    assert code == 1
    assert out == f"would reformat {tmp_path / 'a.pte'}\n"
    assert (tmp_path / "a.pte").read_text() == MESSY


def test_fmt_keeps_going_after_a_bad_file_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad, good = tmp_path / "a-bad.pte", tmp_path / "b-good.pte"
    bad.write_text("map p0 0x1000 1 rw\nfrob p0\n")
    good.write_text(MESSY)
    code, out, err = ptediff(capsys, "fmt", bad, good)
    assert code == 2
    assert out == f"reformatted {good}\n"
    assert err.startswith(f"{bad}:2:1: unknown operation 'frob'\n    frob p0\n    ^\nhint: ")


def test_fmt_is_idempotent_on_the_regression_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sorted(REGRESSIONS.glob("*.pte"))
    assert files
    for source in files:
        (tmp_path / source.name).write_text(source.read_text())
    assert ptediff(capsys, "fmt", tmp_path)[0] == 0
    once = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert ptediff(capsys, "fmt", "--check", tmp_path) == (0, "", "")
    assert once == {p.name: p.read_text() for p in tmp_path.iterdir()}


# ---- check ----------------------------------------------------------------------------------


def test_check_accepts_the_regression_files(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = ptediff(capsys, "check", REGRESSIONS)
    assert (code, err) == (0, "")
    for path in REGRESSIONS.glob("*.pte"):
        assert str(path) in out


def test_check_reports_each_bad_file_with_line_column_and_caret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    misaligned = tmp_path / "misaligned.pte"
    misaligned.write_text("map p0 0x1000 1 rw\nfault p0 0x1001 read\n")
    code, out, err = ptediff(capsys, "check", misaligned, REGRESSIONS)
    assert code == 2
    assert err.startswith(
        f"{misaligned}:2:10: address 0x1001 is not a multiple of the page size\n"
        "    fault p0 0x1001 read\n"
        "             ^\n"
    )
    assert "error: line 2, column 10: address 0x1001" in out
    assert "ok" in out  # the good files are still listed


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.pte", "missing.pte: no such file"),
        (lambda d: (d / "sub").mkdir() or d / "sub", "sub: a directory without .pte files"),
        (lambda d: (d / "bin.pte").write_bytes(b"\xff\xfe") and d / "bin.pte", "not valid UTF-8"),
    ],
)
def test_check_explains_unreadable_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    code, _, err = ptediff(capsys, "check", path)
    assert code == 2
    assert err.startswith("ptediff: error: ")
    assert message in err


# ---- impls ----------------------------------------------------------------------------------


def test_impls_lists_every_registered_implementation_with_what_it_reverts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = ptediff(capsys, "impls")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["implementation", "class", "reverts"]
    for name, cls in impls.REGISTRY.items():
        [line] = [line for line in lines if line.startswith(name + " ")]
        assert f"{cls.__module__}:{cls.__qualname__}" in line
        assert (cls.REVERTS or "nothing (the fixed code)") in line


def test_impls_in_markdown_is_a_github_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ptediff(capsys, "impls", "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("| implementation")
    assert set(lines[1]) <= {"|", "-"}
    assert len(lines) == 2 + len(impls.REGISTRY)


# ---- usage errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["frob"], "invalid choice: 'frob'"),
        (["impls", "--format", "html"], "invalid choice: 'html'"),
        (["hunt", "--max-examples", "0"], "must be at least 1, not 0"),
        (["hunt", "--max-examples", "ten"], "not a whole number: 'ten'"),
        (["hunt", "--seconds", "-1"], "must be positive"),
        (["hunt", "--seconds", "nan"], "must be positive"),
        (["hunt", "--seconds", "inf"], "must be finite"),
        (["hunt", "--seconds", "5", "--max-examples", "5"], "not allowed with argument"),
        (["explore", "x.pte", "--unbounded", "--preemptions", "1"], "not allowed with argument"),
        (["run"], "the following arguments are required: PATH"),
        (["explore", "x.pte", "--depth", "3"], "use them with --pct RUNS"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = ptediff(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err


@pytest.mark.parametrize("command", ["run", "explore"])
def test_an_unknown_implementation_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = next(REGRESSIONS.glob("*.pte"))
    code, out, err = ptediff(capsys, command, path, "--impl", "nosuch")
    assert (code, out) == (2, "")
    assert err.startswith("ptediff: error: unknown implementation 'nosuch'")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ptediff(capsys, "--help")
    assert code == 0
    for command in ("hunt", "run", "explore", "fmt", "check", "impls"):
        assert command in out


def test_fmt_fixtures_mean_the_same_program() -> None:
    # what fmt writes must mean what the user wrote
    assert parse(MESSY) == parse(CANONICAL)
