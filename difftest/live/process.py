"""Simulated processes: real processes running the helper, each driven over a socket.

Every channel is a SOCK_SEQPACKET socketpair: one request, one reply, file descriptors passed
with SCM_RIGHTS (a forked child's channel, a parallel block's thread channel). The helper exits
when the controller's end closes, so a controller that dies leaves no process behind; on a clean
shutdown the controller also SIGKILLs each process through a pidfd taken while it was alive
(no pid-reuse race) and waits for it to go.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

# The address every DSL address is offset by in a real process: far from the helper's own
# mappings and below the 47-bit user limit.
BASE = 0x100000000000


class ChannelClosed(Exception):
    """The simulated process went away while a request was outstanding."""


@dataclass
class Channel:
    sock: socket.socket
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, text: str, fd: int | None = None) -> str:
        with self.lock:
            try:
                if fd is None:
                    self.sock.send(text.encode())
                else:
                    self.sock.sendmsg([text.encode()],
                                      [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(
                                          memoryview(fd.to_bytes(4, "little"))))])
                reply = self.sock.recv(128)
            except OSError as error:
                raise ChannelClosed(str(error)) from None
            if not reply:
                raise ChannelClosed("no reply")
            return reply.decode()

    def close(self) -> None:
        self.sock.close()


def channel_pair() -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return ours, theirs


def pinned_cpu() -> int:
    """The CPU simulated processes run on outside parallel blocks: the controller's last."""
    return max(os.sched_getaffinity(0))


@dataclass
class SimProcess:
    name: str
    pid: int
    pidfd: int
    main: Channel
    alive: bool = True

    def request(self, text: str) -> str:
        return self.main.request(text)

    def wait_gone(self, timeout: float = 5.0) -> bool:
        """Wait until the process has exited (its mm torn down); True when it has."""
        ready, _, _ = select.select([self.pidfd], [], [], timeout)
        return bool(ready)

    def kill(self) -> None:
        if self.pidfd < 0:
            return
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        self.wait_gone()
        self.main.close()
        os.close(self.pidfd)
        self.pidfd = -1
        self.alive = False


def spawn_root(helper: Path, name: str, offsets: tuple[int, int, int]) -> tuple[SimProcess,
                                                                             subprocess.Popen]:
    """The program's first process: the helper started by the controller."""
    ours, theirs = channel_pair()
    off_mm, off_pgd, page_offset_base = offsets
    popen = subprocess.Popen(
        [str(helper), "serve", str(theirs.fileno()), str(off_mm), str(off_pgd),
         hex(page_offset_base)],
        pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, close_fds=True,
    )
    theirs.close()
    channel = Channel(ours)
    pidfd = os.pidfd_open(popen.pid)
    try:
        reply = ours.recv(128)
    except OSError:
        reply = b""
    if not reply:
        os.close(pidfd)
        popen.kill()
        popen.wait()
        raise ChannelClosed("the live helper did not start")
    # One CPU for the whole process tree (forks inherit it): fast pipe wake-ups, and the
    # per-CPU folio batches of sequential operations all on the CPU that drains them.
    os.sched_setaffinity(popen.pid, {pinned_cpu()})
    return SimProcess(name, int(reply), pidfd, channel), popen


def fork(parent: SimProcess, via: Channel, child_name: str) -> tuple[int, SimProcess | None]:
    """Fork `parent` (the request goes over `via`: its main or a thread channel)."""
    ours, theirs = channel_pair()
    try:
        reply = via.request("fork", fd=theirs.fileno())
    finally:
        theirs.close()
    result = int(reply)
    if result < 0:
        ours.close()
        return result, None
    pid_text = ours.recv(128)
    pid = int(pid_text)
    pidfd = os.pidfd_open(pid)
    return 0, SimProcess(child_name, pid, pidfd, Channel(ours))


def thread_channel(process: SimProcess, cpus: set[int]) -> Channel:
    """A new thread in `process`, served on its own channel, free to run on `cpus` (for a
    parallel block: real concurrency)."""
    ours, theirs = channel_pair()
    mask = sum(1 << cpu for cpu in cpus if cpu < 64)
    try:
        process.main.request(f"thread {mask:x}", fd=theirs.fileno())
    finally:
        theirs.close()
    return Channel(ours)
