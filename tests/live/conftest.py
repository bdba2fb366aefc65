"""Live-backend tests: real processes on the running kernel. They need root and
/proc/kpagecount (CI here has both) and skip with the reason everywhere else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from live_support import REASON
from ptediff.live.guard import LiveSession


@pytest.fixture(scope="session")
def session() -> Iterator[LiveSession]:
    if REASON is not None:
        pytest.skip(REASON)
    with LiveSession() as live:
        yield live
