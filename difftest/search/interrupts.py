"""Signals that end a hunt with the report so far (Ctrl-C, SIGTERM), and why they must stick.

A signal handler's exception can be swallowed: raised while the interpreter runs a garbage
collection callback or a destructor, Python prints "Exception ignored" and goes on, and the hunt
would then run to its budget as if nothing had happened. So the handler also records the signal,
and the search asks `raise_if_interrupted()` before each program and each chunk: the first
check after a swallowed signal raises it again.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


class Interrupted(KeyboardInterrupt):
    """A signal that ends a hunt like Ctrl-C does."""

    def __init__(self, signal: str) -> None:
        super().__init__(signal)
        self.signal = signal


_pending: str | None = None  # the signal received and not yet acted on


def interrupt(name: str) -> None:
    """Record `name` (SIGINT, SIGTERM) and raise it as `Interrupted`."""
    global _pending
    _pending = name
    raise Interrupted(name)


def raise_if_interrupted() -> None:
    """Raise the recorded signal again if one arrived (its first raise may have been lost)."""
    if _pending is not None:
        raise Interrupted(_pending)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM (what CI and `timeout` send) raise `Interrupted`
    and stay recorded; the old handlers come back afterwards and the record is cleared."""
    global _pending

    def handler(signum: int, frame: Any) -> None:
        interrupt(signal.Signals(signum).name)

    previous: dict[int, Any] = {}
    try:
        for signum in (signal.SIGINT.value, signal.SIGTERM.value):
            if signum == signal.SIGINT.value and signal.getsignal(signum) == signal.SIG_IGN:
                continue  # started with Ctrl-C ignored (a background job): leave it so
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread: leave signals alone
        previous.clear()
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        _pending = None
