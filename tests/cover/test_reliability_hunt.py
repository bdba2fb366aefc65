"""Audit 2026-12 (reliability), hunt and corpus defects: --save checked first, save failures
kept, Ctrl-C and SIGTERM with the report, crash findings shrunk, budgets skipped, saves atomic
across processes and their temporaries never collected."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ptediff.cli.main import main
from ptediff.core.program import Config
from ptediff.dsl.parse import parse
from ptediff.impls import Kernel, sched
from ptediff.judge.check import check
from ptediff.search import recording as recording_module
from ptediff.search.findings import HuntReport
from ptediff.search.hunt import hunt
from ptediff.search.interrupts import Interrupted
from ptediff.search.regressions import SaveError, save
from ptediff.search.strategies import programs
from test_report_schema import validate_report

SWAP_ONLY = programs(config=Config(swap_bits=2), ops={"swapon", "map"}, threads=None)
SWAPON_BUG = "kernel-bug:sys_swapon"


def quick_hunt(**options: Any) -> HuntReport:
    arguments: dict[str, Any] = {
        "max_examples": 100, "seed": 3, "profile": "ci", "strategy": SWAP_ONLY, **options,
    }
    return hunt(["postfix", "prefix-swapon-range"], **arguments)


# ---- defect 4: --save ---------------------------------------------------------------------


def test_defect4_an_unwritable_save_directory_stops_the_hunt_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    ran: list[object] = []
    with pytest.raises(SaveError, match="cannot create the save directory"):
        quick_hunt(save_dir=blocker / "corpus", progress=lambda *args: ran.append(args))
    assert ran == []  # nothing was searched
    # the same refusal from the command line (quick_hunt above shows nothing is searched first)
    assert main(["hunt", "--save", str(blocker / "corpus"), "--seconds", "60",
                 "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "cannot create the save directory" in err


def test_defect4_a_save_that_fails_later_keeps_the_finding_in_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object, **kwargs: object) -> None:
        raise SaveError(f"cannot write {str(tmp_path)!r}: [Errno 28] No space left on device")

    monkeypatch.setattr(recording_module, "save", full_disk)
    report = quick_hunt(save_dir=tmp_path)
    finding = report.finding("prefix-swapon-range", SWAPON_BUG)
    assert finding is not None and finding.saved is None
    assert finding.save_error is not None and "No space left" in finding.save_error


def test_defect13_save_needs_a_directory_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", "--save", "", "--max-examples", "1"]) == 2
    assert "needs a directory name" in capsys.readouterr().err


# ---- defect 5: interrupted hunts ----------------------------------------------------------


def test_defect5_sigterm_ends_the_hunt_like_ctrl_c_and_keeps_the_finding_in_flight() -> None:
    def terminate_when_found(examples: int, found: int, left: float | None) -> None:
        if examples == 150:
            raise Interrupted("SIGTERM")

    report = quick_hunt(max_examples=1000, progress=terminate_when_found)
    assert (report.interrupted, report.signal, report.chunks) == (True, "SIGTERM", 1)
    assert report.finding("prefix-swapon-range", SWAPON_BUG) is not None


def test_defect5_an_interrupt_during_the_first_chunk_names_what_it_had_seen() -> None:
    def interrupt_after_a_failure(examples: int, found: int, left: float | None) -> None:
        if examples == 60:
            raise KeyboardInterrupt

    report = quick_hunt(max_examples=1000, progress=interrupt_after_a_failure)
    assert report.interrupted and report.signal == "SIGINT" and report.chunks == 0
    finding = report.finding("prefix-swapon-range", SWAPON_BUG)
    assert finding is not None  # in flight when interrupted: kept, not simplified
    assert not finding.simplified and finding.judgement is not None


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_defect5_a_signalled_hunt_prints_its_report_marked_interrupted(
    signum: int, status: int, tmp_path: Path
) -> None:
    hunting = subprocess.Popen(
        [sys.executable, "-m", "ptediff", "hunt", "--seconds", "60", "--seed", "11",
         "--format", "json", "--no-progress", "--impl", "postfix"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        # as from a terminal: Ctrl-C is not ignored (a test run may have been started with it
        # ignored, and children inherit that)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(4)
    hunting.send_signal(signum)
    out, err = hunting.communicate(timeout=60)
    assert hunting.returncode == status, err
    document = json.loads(out)
    validate_report(document)
    assert document["interrupted"] is True and document["passed"] is False
    assert document["signal"] == signal.Signals(signum).name
    assert "Traceback" not in err and "interrupted" in err


def test_defect5_ctrl_c_while_ptediff_starts_is_quiet() -> None:
    code = (
        # the command's modules interrupted while they load
        "import sys; sys.argv = ['ptediff', 'impls']\n"
        "import ptediff.console as c\n"
        "import builtins\n"
        "real = builtins.__import__\n"
        "def interrupted(name, *a, **k):\n"
        "    if name == 'ptediff.cli.main': raise KeyboardInterrupt\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = interrupted\n"
        "sys.exit(c.main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 130
    assert done.stderr == "ptediff: interrupted\n"


# ---- crash findings and budgets -----------------------------------------------------------


class Buggy(Kernel):
    """A user model with a plain Python bug in one kernel function."""

    NAME = "buggy"

    def sys_swapon(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        yield from ()
        return 1 // 0


def test_a_crash_finding_is_shrunk_like_a_divergence() -> None:
    report = hunt([Buggy], max_examples=40, seed=1, profile="ci")
    finding = report.finding("buggy", "crash:ZeroDivisionError")
    assert finding is not None
    assert [op.KIND for op in finding.program.ops()] == ["swapon"]  # audit: 5-9 ops before
    assert "test_reliability_hunt.py" in finding.detail and "in sys_swapon" in finding.detail


def test_a_program_over_a_budget_is_skipped_and_counted_never_a_finding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sched, "MAX_STEPS", 12)
    # drawn programs (the small-scope phase's are too small to reach the step limit)
    report = hunt(["postfix"], max_examples=60, seed=2, profile="ci", small_scope=False)
    assert report.over_budget > 0
    assert report.findings == []  # neither deadlock nor any other class


# ---- defects 10 and 11: the corpus ----------------------------------------------------------

PROGRAM = "config swap_bits=2\n\nswapon 1\nswapon 1\nswapon 1\nmap p0 {addr:#x} 1 rw\n"


def _judged(index: int) -> tuple[Any, Any]:
    program = parse(PROGRAM.format(addr=0x1000 * (index + 1)))
    return program, check(program, "prefix")


def test_defect10_temporaries_are_never_pte_files_and_leftovers_are_cleaned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".tmp-abcd1234.pte").write_text("swapon 1\n")  # the old name of a temporary
    (tmp_path / ".ptediff-save-abcd.tmp").write_text("swapon 1\n")
    program, judgement = _judged(0)
    path = save(program, judgement, "prefix", tmp_path, postfix_judgement=judgement)
    assert path is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    (tmp_path / ".tmp-ffff0000.pte").write_text("swapon 1\n")  # a kill after this save
    assert main(["check", str(tmp_path)]) == 0  # the hidden leftover is not a test file
    assert ".tmp-" not in capsys.readouterr().out


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _saver(directory: str, lead: str, start: float, out: Any) -> None:
    judged = [_judged(index) for index in range(25)]
    while time.time() < start:
        pass
    out.put(sum(save(p, j, lead, directory, postfix_judgement=j) is not None for p, j in judged))


def test_defect11_two_processes_saving_one_corpus_never_both_write_a_finding(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start = time.time() + 3
    savers = [context.Process(target=_saver, args=(str(tmp_path), lead, start, results))
              for lead in ("prefix", "prefix-swapon-range")]
    for process in savers:
        process.start()
    written = [results.get(timeout=120) for _ in savers]
    for process in savers:
        process.join(timeout=30)
    assert sum(written) == 25  # r05: 273 duplicates for 300 programs before the lock
    assert len(list(tmp_path.glob("*.pte"))) == 25
