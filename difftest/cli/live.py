"""`--impl linux` in the commands that compare: one live session shared by every file.

The session (built helper, BPF reader, swap directory, crash guard) opens at the first live run
and closes when the command ends, also on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

from collections import Counter
from types import TracebackType
from typing import Any

from ptediff.core.program import Program
from ptediff.live import LINUX


class LiveBackend:
    """Lazily opened live session; `judge` runs one program and judges it."""

    def __init__(self) -> None:
        self.session: Any = None  # a ptediff.live.guard.LiveSession once opened
        self.fired: Counter[str] = Counter()  # declared difference -> judgements it fired in
        self.programs = 0

    def judge(self, program: Program, level: str):  # -> ptediff.live.compare.LiveJudgement
        from ptediff.live.compare import judge_live
        from ptediff.live.guard import LiveSession, install_signal_cleanup
        from ptediff.live.runner import run_live

        if self.session is None:
            install_signal_cleanup()
            self.session = LiveSession()
        judgement = judge_live(program, run_live(self.session, program), level=level)
        self.programs += 1
        self.fired.update(judgement.fired.keys())
        return judgement

    def __enter__(self) -> LiveBackend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def is_live(name: str) -> bool:
    return name == LINUX


def check_live_available() -> None:
    from ptediff.live.guard import require_live

    require_live()
