"""`--observe FILE`: one JSON line per generated program, in hypothesis's observation schema.

Hypothesis builds the observations (its observability callbacks: status, representation,
arguments, timing, metadata); the differential property adds ptediff's features to each
(`ptediff.search.features`); this module writes the test-case ones to FILE, so Tyche, jq and
`ptediff stats` read them. Each line is written with one `write` on a file opened for appending,
so the worker processes of `--jobs` share one file without tearing lines.

Two additions ride in `metadata`, which the schema leaves open: `ptediff_time` (unix time the
line was written, for "divergences over time") and `ptediff_worker` (the worker's index).

Hypothesis's own line coverage (`coverage` in the schema) is switched off while writing: on
Python 3.11 it traces every line and slows a hunt several times; the kernel-function features
say what a kernel developer wants to know. Set `PTEDIFF_OBSERVE_LINE_COVERAGE=1` to keep it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis.internal import observability
from hypothesis.internal.observability import (
    add_observability_callback,
    remove_observability_callback,
)

LINE_COVERAGE_ENVIRONMENT = "PTEDIFF_OBSERVE_LINE_COVERAGE"


def start_file(path: str | os.PathLike[str]) -> None:
    """Create (or empty) the observation file before a campaign's workers append to it."""
    Path(path).write_bytes(b"")


@contextmanager
def observing(path: str | os.PathLike[str], *, worker: int = 0) -> Iterator[None]:
    """Append an observation line to `path` for every hypothesis test case run meanwhile."""
    from hypothesis.strategies._internal.utils import to_jsonable

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(observation: Any) -> None:
        if observation.type != "test_case":
            return
        line: Any = to_jsonable(observation, avoid_realization=False)
        line["metadata"]["ptediff_time"] = time.time()
        line["metadata"]["ptediff_worker"] = worker
        os.write(fd, (json.dumps(line, default=str) + "\n").encode())

    collect = observability.OBSERVABILITY_COLLECT_COVERAGE
    if not os.environ.get(LINE_COVERAGE_ENVIRONMENT):
        observability.OBSERVABILITY_COLLECT_COVERAGE = False
    add_observability_callback(write)
    try:
        yield
    finally:
        remove_observability_callback(write)
        observability.OBSERVABILITY_COLLECT_COVERAGE = collect
        os.close(fd)
