"""Swap areas for live programs: small swap files in a private directory, the global lock.

Swap areas are global kernel state: a program that uses swap (swapon or pageout) holds the
machine-wide lock for its whole run, so two controllers never see each other's areas. The lock
is an abstract unix socket name: the kernel releases it when its holder dies, and it leaves no
file behind (a lock *file* would be a leftover). Swap files live in a directory made for the
session; the crash guard (`ptediff.live.guard`) swaps them off and removes them if the
controller dies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import socket
import time
from pathlib import Path

PAGE_SIZE = 4096
SWAP_FLAG_PREFER = 0x8000
SWAP_FLAG_PRIO_MASK = 0x7FFF
LOCK_NAME = b"\0ptediff-live-swap"

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _call(name: str, *args: object) -> int:
    result = getattr(_libc, name)(*args)
    return -ctypes.get_errno() if result < 0 else 0


class GlobalLock:
    """The machine-wide lock for swap state, taken by binding an abstract unix socket."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None

    def acquire(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(LOCK_NAME)
            except OSError as error:
                sock.close()
                if error.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
                continue
            self.sock = sock
            return

    def release(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def write_swap_file(path: Path, nslots: int) -> None:
    """A swap area of `nslots` usable pages plus its header page (mkswap's layout, version 1)."""
    header = bytearray(PAGE_SIZE)
    header[1024:1036] = (1).to_bytes(4, "little") + max(nslots, 0).to_bytes(4, "little") + bytes(4)
    header[PAGE_SIZE - 10:] = b"SWAPSPACE2"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, bytes(header))
        # real blocks, no holes: swapon refuses sparse files
        os.write(fd, bytes(PAGE_SIZE * max(nslots, 0)))
        os.fsync(fd)
    finally:
        os.close(fd)


def active_swaps() -> list[str]:
    """The file names in /proc/swaps."""
    with open("/proc/swaps") as swaps:
        return [line.split()[0] for line in swaps.readlines()[1:] if line.strip()]


class SwapAreas:
    """The swap areas one program has turned on, by swap type."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.counter = 0
        self.by_type: dict[int, tuple[Path, int]] = {}  # swap type -> (file, device number)
        # swap types other areas already hold: the kernel gives a new area the lowest free one
        self.foreign = len([name for name in active_swaps()
                            if not name.startswith(str(directory) + "/")])

    def swapon(self, nslots: int, prio: int | None) -> int:
        self.counter += 1
        path = self.directory / f"swap{self.counter}"
        write_swap_file(path, nslots)
        flags = 0 if prio is None else SWAP_FLAG_PREFER | (prio & SWAP_FLAG_PRIO_MASK)
        result = _call("swapon", str(path).encode(), flags)
        if result < 0:
            path.unlink()
            return result
        used = set(self.by_type) | set(range(self.foreign))
        swap_type = next(t for t in range(64) if t not in used)
        # the spec's device number: the lowest one none of this program's areas holds
        numbers = {number for _path, number in self.by_type.values()}
        self.by_type[swap_type] = (path, next(n for n in range(64) if n not in numbers))
        return 0

    def swapoff(self, device: int) -> int:
        """swapoff(2) of the program's device number `device`; with no such area, of a file
        that is no swap area (the kernel's -EINVAL for it, as the spec's)."""
        swap_type = next((t for t, (_p, n) in self.by_type.items() if n == device), None)
        if swap_type is None:
            self.counter += 1
            path = self.directory / f"swap{self.counter}"
            path.touch()
            try:
                return _call("swapoff", str(path).encode())
            finally:
                path.unlink()
        path, _number = self.by_type[swap_type]
        result = _call("swapoff", str(path).encode())
        if result == 0:
            del self.by_type[swap_type]
            path.unlink(missing_ok=True)
        return result

    def device(self, swap_type: int) -> int | None:
        entry = self.by_type.get(swap_type)
        return None if entry is None else entry[1]

    def swapoff_all(self) -> None:
        for path, _device in self.by_type.values():
            _call("swapoff", str(path).encode())
            path.unlink(missing_ok=True)
        self.by_type.clear()
