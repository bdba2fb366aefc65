"""HypoFuzz on `ptediff.fuzz` finds a seeded bug, and `ptediff hunt --db` replays and saves it.

Opt-in (`-m slow`: up to a few minutes of fuzzing) and only where HypoFuzz is installed with a
hypothesis it works with (HypoFuzz 25.11.1 needs hypothesis < 6.157.1; it passed in 23 s there).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis.internal.conjecture.data import ConjectureResult
from ptediff.search.database import campaign_keys, open_database, stored_programs
from ptediff.search.hunt import hunt

pytest.importorskip("hypofuzz", reason="HypoFuzz is the optional extra ptediff[fuzz]")
if not hasattr(ConjectureResult, "slice_comments") and "slice_comments" not in getattr(
    ConjectureResult, "__annotations__", {}
):
    pytest.skip("HypoFuzz 25.11.1 stops at its first failure with this hypothesis (>= 6.157.1 "
                "dropped a shrinker field it reads); README, Campaigns", allow_module_level=True)

TARGET = "prefix-swapon-range"
CLASS = "kernel-bug:sys_swapon"
FUZZ_SECONDS = 300


@pytest.mark.slow
def test_hypofuzz_finds_fix4_and_the_hunt_replays_it(tmp_path: Path) -> None:
    hypothesis_cli = shutil.which("hypothesis", path=str(Path(sys.executable).parent))
    assert hypothesis_cli is not None, "the fuzz extra installs the hypothesis command"
    fuzzer = subprocess.Popen(
        [hypothesis_cli, "fuzz", "-n", "1", "--no-dashboard", "--", "--pyargs", "ptediff.fuzz",
         "-k", TARGET, "-p", "no:cacheprovider"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # so that the interrupt below reaches its workers only
    )
    database = open_database(tmp_path / ".hypothesis" / "examples")
    deadline = time.monotonic() + FUZZ_SECONDS
    try:
        while time.monotonic() < deadline and fuzzer.poll() is None:
            time.sleep(5)
            if len(campaign_keys(database)) > 1 and stored_programs(
                database, campaign_keys(database)[1:]
            ):
                break
    finally:
        if fuzzer.poll() is None:
            os.killpg(fuzzer.pid, signal.SIGINT)
        output, _ = fuzzer.communicate(timeout=60)
    # (HypoFuzz's workers print KeyboardInterrupt tracebacks when stopped; a crash while
    # fuzzing, such as a hypothesis it does not support, shows as an AttributeError)
    assert "using 1 process to fuzz 1 test" in output and "AttributeError" not in output, output
    saved = tmp_path / "saved"
    replayed = hunt([TARGET], max_examples=1, seed=1, database=database, save_dir=saved)
    finding = replayed.finding(TARGET, CLASS)
    assert finding is not None and finding.from_database, output
    assert finding.saved is not None and finding.saved.exists()
