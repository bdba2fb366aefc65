"""The live backend, `--impl linux`: programs run in real processes on the running kernel.

The running kernel is a second oracle beside the spec (docs/live-kernel.md). Each simulated
process is a real process (the C helper `helper.c`, built at first use and cached) driven over a
socket; the controller observes every page through /proc/PID/pagemap, /proc/kpagecount,
/proc/kpageflags and a BPF page-table reader, and compares with the spec at the contract level,
applying the declared differences of a modern kernel (`ptediff.live.declared`).

Modules: `build` (compile and cache the helper), `btf` (struct offsets for the BPF reader),
`guard` (availability, the crash guard, cleanup on signals), `swap` (swap files, the global
lock), `process` (simulated processes and their channels), `observe` (per-page state),
`runner` (a program's operations, parallel blocks with real threads), `declared` (the declared
differences), `compare` (judging a live run), `conform` (the conformance campaign).
"""

from __future__ import annotations

LINUX = "linux"  # the `--impl` name of the running kernel

__all__ = ["LINUX"]
