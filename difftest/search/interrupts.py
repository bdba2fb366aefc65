"""Signals that end a hunt with the report so far (Ctrl-C, SIGTERM), and why they must stick.

A signal handler's exception can be swallowed: raised while the interpreter runs a garbage
collection callback or a destructor, Python prints "Exception ignored" and goes on, and the hunt
would then run to its budget as if nothing had happened (and print that traceback). So the
handler records the signal, raises it only where it can get out, and the search asks
`raise_if_interrupted()` before each program and each chunk: the first check after a signal
that could not be raised raises it.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
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


# Where an exception cannot get out (Python prints "Exception ignored in ..." with a traceback and
# goes on): hypothesis's gc callback, destructors. A signal landing there is only recorded.
_UNRAISABLE = frozenset({"gc_callback", "__del__"})


def on_signal(signum: int, frame: FrameType | None) -> None:
    """A handler for SIGINT and SIGTERM: record the signal, and raise it unless the interrupted
    code could not let the exception out (then the next `raise_if_interrupted` raises it)."""
    global _pending
    name = signal.Signals(signum).name
    while frame is not None:
        if frame.f_code.co_name in _UNRAISABLE:
            _pending = name
            return
        frame = frame.f_back
    interrupt(name)


def raise_if_interrupted() -> None:
    """Raise the recorded signal again if one arrived (its first raise may have been lost)."""
    if _pending is not None:
        raise Interrupted(_pending)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM (what CI and `timeout` send) raise `Interrupted`
    and stay recorded; the old handlers come back afterwards and the record is cleared."""
    global _pending

    previous: dict[int, Any] = {}
    try:
        for signum in (signal.SIGINT.value, signal.SIGTERM.value):
            if signum == signal.SIGINT.value and signal.getsignal(signum) == signal.SIG_IGN:
                continue  # started with Ctrl-C ignored (a background job): leave it so
            previous[signum] = signal.signal(signum, on_signal)
    except ValueError:  # not the main thread: leave signals alone
        previous.clear()
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        _pending = None
