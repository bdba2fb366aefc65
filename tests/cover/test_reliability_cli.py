"""Audit 2026-12 (reliability), command-line defects: fmt on links and read-only directories,
user models that raise, modules that exit, budgets, and `run`'s invariant switch."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
from ptediff import impls
from ptediff.cli import files
from ptediff.cli.main import main
from ptediff.cli.output import UsageError
from ptediff.core.errors import BudgetExceeded, ModelCrash
from ptediff.dsl.parse import parse
from ptediff.impls import sched
from test_report_schema import validate_report

MESSY = "map p0   0x1000 1 rw\n"
CANONICAL = "map      p0 0x1000 1 rw\n"
BUGGY_MODEL = '''
from ptediff import Kernel


class Buggy(Kernel):
    """A user model with a plain Python bug in one kernel function."""

    def sys_swapon(self, *args, **kwargs):
        yield from ()
        return 1 // 0


class BadInit(Kernel):
    def __init__(self, config):
        raise RuntimeError("cannot start")
'''


def ptediff(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "midkernel.py").write_text(BUGGY_MODEL)
    (tmp_path / "exiter.py").write_text("import sys\nsys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("midkernel", "exiter"):  # imported afresh, forgotten afterwards
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


# ---- defect 6: fmt ------------------------------------------------------------------------


def test_defect6_fmt_writes_through_a_symlink_and_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "a.pte"
    target.write_text(MESSY)
    link = tmp_path / "link.pte"
    link.symlink_to(Path("real") / "a.pte")
    assert ptediff(capsys, "fmt", link)[0] == 0
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "a.pte")
    assert target.read_text() == CANONICAL
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["a.pte"]


def test_defect6_fmt_in_a_directory_it_cannot_write_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root writes anywhere, so the refusal is simulated where the write would fail.
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    (tmp_path / "a.pte").write_text(MESSY)
    (tmp_path / "b.pte").write_text(MESSY)
    code, _, err = ptediff(capsys, "fmt", tmp_path)
    assert code == 2
    assert f"{tmp_path / 'a.pte'}: cannot rewrite it: Permission denied" in err
    assert f"{tmp_path / 'b.pte'}: cannot rewrite it" in err  # the next file is still tried
    assert (tmp_path / "a.pte").read_text() == MESSY


def test_defect6_fmt_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.pte"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        files.write_atomically(fifo, CANONICAL)


# ---- defect 8: a user model that raises -----------------------------------------------------


@pytest.mark.usefixtures("user_models")
def test_defect8_run_reports_a_model_crash_with_its_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "swap.pte"
    program.write_text("swapon 1\n")
    code, out, _ = ptediff(capsys, "run", program, "--impl", "midkernel:Buggy")
    assert code == 1
    assert "midkernel:Buggy diverges: crash:ZeroDivisionError" in out
    assert "midkernel.py:10 in sys_swapon" in out
    code, out, _ = ptediff(capsys, "run", program, "--impl", "midkernel:BadInit",
                           "--format", "json")
    document = json.loads(out)
    validate_report(document)
    [crash] = document["files"][0]["crashes"]
    assert (code, crash["class"], crash["message"]) == (1, "crash:RuntimeError", "cannot start")
    assert "midkernel.py" in crash["where"]


@pytest.mark.usefixtures("user_models")
def test_defect8_explore_reports_a_model_crash_like_hunt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "swap.pte"
    program.write_text("parallel {\n  thread { swapon 1 }\n  thread { swapon 2 }\n}\n")
    code, out, _ = ptediff(capsys, "explore", program, "--impl", "midkernel:Buggy")
    assert code == 1
    assert "crash:ZeroDivisionError" in out and "midkernel.py:10 in sys_swapon" in out
    code, out, _ = ptediff(capsys, "explore", program, "--impl", "midkernel:Buggy",
                           "--format", "json")
    document = json.loads(out)
    validate_report(document)
    assert (code, document["crash"]["class"]) == (1, "crash:ZeroDivisionError")


@pytest.mark.usefixtures("user_models")
def test_defect13_a_module_that_exits_on_import_is_a_load_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "swap.pte"
    program.write_text("swapon 1\n")
    code, _, err = ptediff(capsys, "run", program, "--impl", "exiter:K")
    assert code == 2
    assert "exiter" in err and "sys.exit(3)" in err


def test_defect13_a_bad_expect_line_does_not_stop_the_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "a-bad.pte"
    bad.write_text("expect nosuchmod:K agrees\nswapon 1\n")
    good = tmp_path / "b-good.pte"
    good.write_text("expect postfix agrees\nswapon 1\n")
    code, out, err = ptediff(capsys, "run", bad, good)
    assert code == 2
    assert "nosuchmod" in err
    assert "b-good.pte" in out and "ok" in out


def test_defect13_a_file_that_is_not_utf8_names_the_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.pte"
    path.write_bytes(b"swapon 1 # caf\xe9\n")
    code, _, err = ptediff(capsys, "check", path)
    assert code == 2
    assert err.strip() == (
        f"ptediff: error: {path}: not a text file (it is not valid UTF-8: byte 14)"
    )


# ---- defect 3: the scheduler's step budget ----------------------------------------------------

def migrations(count: int) -> str:
    """r01 in small: one thread of `count` migrations in a block."""
    return (
        "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x5\nparallel {\n  thread {\n"
        + "".join(f"    migrate p0 0x1000 {i % 2}\n" for i in range(count))
        + "  }\n  thread { swapon 1 }\n}\n"
    )


LONG_BLOCK = migrations(60)


def test_defect3_the_step_budget_is_budget_exceeded_never_a_deadlock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sched, "MAX_STEPS", 200)  # r01 needs 2,300 migrates for 20,000
    with pytest.raises(BudgetExceeded) as error:
        impls.run("postfix", parse(LONG_BLOCK), check_invariants=False)
    assert (error.value.what, error.value.limit) == ("scheduler steps", 200)
    assert "split it" in error.value.hint
    outcome = impls.run("postfix", parse(migrations(3)), check_invariants=False)
    assert outcome.deadlock is None


def test_defect3_run_says_budget_exceeded_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched, "MAX_STEPS", 200)
    path = tmp_path / "long.pte"
    path.write_text("expect postfix agrees\n" + LONG_BLOCK)
    code, out, _ = ptediff(capsys, "run", path, "--no-invariants")
    assert code == 2
    assert "NO VERDICT: budget exceeded: 200 scheduler steps" in out
    assert "deadlock" not in out and "FAIL" not in out
    code, out, _ = ptediff(capsys, "run", path, "--format", "json")
    document = json.loads(out)
    validate_report(document)
    assert document["files"][0]["budget_exceeded"].startswith("budget exceeded: 200")
    code, out, _ = ptediff(capsys, "explore", path)
    assert code == 2 and "NO VERDICT: budget exceeded: 200 scheduler steps" in out
    code, out, _ = ptediff(capsys, "explore", path, "--format", "json")
    document = json.loads(out)
    validate_report(document)
    assert (code, document["passed"]) == (2, False)
    assert document["budget_exceeded"].startswith("budget exceeded: 200 scheduler steps")


def test_model_crash_carries_the_steps_taken() -> None:
    class Crashy(impls.Kernel):
        def sys_swapon(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            yield from ()
            raise KeyError("boom")

    with pytest.raises(ModelCrash) as error:
        impls.run(Crashy, parse("map p0 0x1000 1 rw\nswapon 1\n"))
    assert error.value.cls == "crash:KeyError"
    assert error.value.trace == []  # top-level ops leave no block trace
    assert "in sys_swapon" in error.value.where


# ---- defect 9: run's invariant switch ---------------------------------------------------------


def test_defect9_run_has_invariants_and_no_invariants(capsys: pytest.CaptureFixture[str]) -> None:
    fix3 = Path(__file__).resolve().parents[2] / "tests" / "regressions" / "fix3.pte"

    def signatures(*flags: str) -> list[str]:
        code, out, _ = ptediff(capsys, "run", fix3, "--impl", "prefix-cow-fork-write",
                               "--format", "json", *flags)
        assert code == 0  # it diverges as its expect line says, either way
        verdict = json.loads(out)["files"][0]["verdicts"][0]
        return [signature["class"] for signature in verdict["divergence"]["signatures"]]

    # fix 3 reverted leaves two writable ptes on one page: invariant I4, seen only when checked
    assert "invariant:I4" in signatures()
    assert "invariant:I4" in signatures("--invariants")
    without = signatures("--no-invariants")
    assert "shared-writable" in without
    assert not any(name.startswith("invariant:") for name in without)
