"""The hunt's progress line: a redrawn bar on a terminal, sparse plain lines in logs."""

from __future__ import annotations

import io

from ptediff.cli.hunt import ProgressLine


def test_terminal_progress_redraws_one_line_with_a_bar() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream, max_examples=None, seconds=60.0, tty=True)
    progress(10, 0, 45.0)
    progress(20, 1, 30.0)
    progress.close()
    assert stream.getvalue() == (
        "\rhunt [######..................] 10 examples, 0 divergences, 45 s left\033[K"
        "\rhunt [############............] 20 examples, 1 divergence, 30 s left\033[K"
        "\n"
    )


def test_log_progress_writes_a_line_per_tenth_of_the_budget_or_new_divergence() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream, max_examples=100, seconds=None, tty=False)
    for examples in range(0, 101, 5):
        progress(examples, 1 if examples >= 52 else 0, None)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[:3] == [
        "hunt: 0 examples, 0 divergences",
        "hunt: 10 examples, 0 divergences",
        "hunt: 20 examples, 0 divergences",
    ]
    assert "hunt: 55 examples, 1 divergence" in lines  # the divergence shows at once
    assert lines[-1] == "hunt: 100 examples, 1 divergence"
    assert len(lines) == 12  # eleven tenths (0..10) and the divergence


def test_nothing_is_written_at_close_when_nothing_was_drawn() -> None:
    stream = io.StringIO()
    ProgressLine(stream, max_examples=5, seconds=None, tty=True).close()
    assert stream.getvalue() == ""


def test_finish_shows_the_final_counts_and_ends_the_line() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream, max_examples=10, seconds=None, tty=True)
    progress(10, 0, None)
    progress.finish(14, 1)
    assert stream.getvalue().endswith(
        "\rhunt [########################] 14 examples, 1 divergence\033[K\n"
    )
    log = io.StringIO()
    ProgressLine(log, max_examples=10, seconds=None, tty=False).finish(14, 1)
    assert log.getvalue() == "hunt: 14 examples, 1 divergence\n"
