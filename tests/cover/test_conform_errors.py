"""A conformance campaign that something stops early says so; it never ends as "no difference".

No live kernel is needed: the live run is replaced by one that crashes.
"""

from __future__ import annotations

import json

from ptediff.live import conform as campaign
from test_report_schema import validate_report


class BackendCrash(RuntimeError):
    pass


def _crashing_run(session, program):
    raise BackendCrash("helper process closed its pipe")


def test_a_backend_crash_stops_the_campaign_with_the_error(monkeypatch) -> None:
    monkeypatch.setattr(campaign, "run_live", _crashing_run)
    report = campaign.conform(None, max_examples=50, seed=1, parallel=False)
    assert report.error == "BackendCrash: helper process closed its pipe"
    assert report.findings == [] and report.programs == 0


def test_the_reports_say_the_campaign_stopped(monkeypatch) -> None:
    from ptediff.report.blocks import render
    from ptediff.report.live import conform_blocks, conform_json

    monkeypatch.setattr(campaign, "run_live", _crashing_run)
    report = campaign.conform(None, max_examples=50, seed=1, parallel=False)
    document = json.loads(json.dumps(conform_json(report)))
    validate_report(document)
    assert document["error"] == "BackendCrash: helper process closed its pipe"
    assert document["passed"] is False
    text = render(conform_blocks(report))
    assert "Stopped early by an error: BackendCrash" in text
    assert "No undeclared difference" not in text


def test_the_cli_exits_2_on_an_early_stop(monkeypatch, capsys) -> None:
    from ptediff.cli import conform as command
    from ptediff.cli.main import main

    class FakeSession:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(campaign, "run_live", _crashing_run)
    monkeypatch.setattr("ptediff.live.guard.LiveSession", FakeSession)
    monkeypatch.setattr("ptediff.live.guard.install_signal_cleanup", lambda: None)
    assert command.EXIT_ERROR == 2
    code = main(["conform", "--max-examples", "20", "--seed", "1", "--sequential"])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "Stopped early by an error" in out
