"""Whether the live backend can run, and the session that keeps it from leaving anything behind.

A `LiveSession` owns the built helper, the BPF reader's parameters, a private directory for
swap files and the crash guard: a helper process (`helper guard DIR`) in its own session that
waits for its stdin to close — the controller exiting normally or dying by any signal — and then
swaps off every area under DIR and removes it. Programs clean up after themselves as they end
(`ptediff.live.runner`); the guard covers a controller killed before it could. SIGTERM and
SIGHUP are turned into `SystemExit` so that `finally` blocks run, as they do for Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

from ptediff.live.btf import pte_reader_offsets
from ptediff.live.build import LiveUnavailable, compiler, helper_path

KPAGECOUNT = Path("/proc/kpagecount")
# x86-64 direct-map bases: 4-level paging, then 5-level (KASLR would need a search: not here)
PAGE_OFFSET_CANDIDATES = (0xFFFF888000000000, 0xFF11000000000000)
SWAP_DIR_PARENT = "/var/tmp"  # swap files need a real filesystem (not tmpfs)


def unavailable_reason() -> str | None:
    """Why the live backend cannot run here, or None when it can."""
    if not sys.platform.startswith("linux"):
        return f"the live backend needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "the live backend needs root (pagemap frames, kpageflags, swapon, BPF)"
    if not KPAGECOUNT.exists():
        return "the live backend needs /proc/kpagecount (CONFIG_PROC_PAGE_MONITOR)"
    try:
        compiler()
    except LiveUnavailable as error:
        return str(error)
    return None


def require_live() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise LiveUnavailable(reason)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def install_signal_cleanup() -> None:
    """SIGTERM/SIGHUP run the same cleanup as Ctrl-C (main thread only)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _exit_on_signal)


class LiveSession:
    """One controller's use of the running kernel; a context manager."""

    def __init__(self) -> None:
        require_live()
        self.helper = helper_path()
        self.directory = Path(tempfile.mkdtemp(prefix="ptediff-live-", dir=SWAP_DIR_PARENT))
        self.guard = subprocess.Popen(
            [str(self.helper), "guard", str(self.directory)],
            stdin=subprocess.PIPE, start_new_session=True, close_fds=True,
        )
        off_mm, off_pgd = pte_reader_offsets()
        self.offsets = (off_mm, off_pgd, 0)
        self.write_bits = False
        if off_mm and off_pgd:
            self._find_page_offset_base(off_mm, off_pgd)

    def _find_page_offset_base(self, off_mm: int, off_pgd: int) -> None:
        """The direct-map base the reader needs, checked against a page whose frame is known."""
        from ptediff.live.observe import probe_write_bit

        for base in PAGE_OFFSET_CANDIDATES:
            if probe_write_bit(self.helper, (off_mm, off_pgd, base)):
                self.offsets = (off_mm, off_pgd, base)
                self.write_bits = True
                return

    def close(self) -> None:
        if self.guard.stdin is not None and not self.guard.stdin.closed:
            self.guard.stdin.close()  # the guard swaps off and removes whatever is left
            self.guard.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
