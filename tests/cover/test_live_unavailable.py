"""Without root (or off Linux) the live backend says so clearly, as a usage-level error."""

from __future__ import annotations

import pytest
from ptediff.cli.main import main
from ptediff.live import guard


def test_not_root_is_a_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(guard.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(guard.sys, "platform", "linux")
    assert guard.unavailable_reason() == (
        "the live backend needs root (pagemap frames, kpageflags, swapon, BPF)")
    path = tmp_path / "one.pte"
    path.write_text("map p0 0x1000 1 rw\n")
    for argv in (["run", str(path), "--impl", "linux"], ["conform", "--max-examples", "1"],
                 ["explore", str(path), "--impl", "linux"]):
        code = main(argv)
        out, err = capsys.readouterr()
        assert (code, out) == (2, ""), argv
        assert err == "ptediff: error: the live backend needs root (pagemap frames, kpageflags, " \
                      "swapon, BPF)\n"


def test_not_linux_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard.sys, "platform", "darwin")
    assert guard.unavailable_reason() == "the live backend needs Linux (this is darwin)"


def test_runs_is_for_the_live_kernel(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.pte"
    path.write_text("map p0 0x1000 1 rw\n")
    code = main(["explore", str(path), "--impl", "postfix", "--runs", "5"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert "--runs is for --impl linux" in err
