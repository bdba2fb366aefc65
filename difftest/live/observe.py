"""Per-page state of the simulated processes, read without disturbing it.

* /proc/PID/maps: the vmas (keys and prot) inside the program's address window;
* /proc/PID/pagemap: present (bit 63) with its frame, or swapped (bit 62) with type and offset;
* /proc/kpageflags: the zero page (KPF_ZERO_PAGE);
* the pte itself (write bit) from the BPF reader run in the process's own context;
* last, the data: 8 bytes per page read through /proc/PID/mem. That read is a GUP access (it
  swaps a swapped page in), so it comes after every other observation of every process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ptediff.core.outcome import Key, PteState
from ptediff.live.process import BASE, SimProcess, spawn_root

PAGE = 4096
WINDOW = 1 << 40  # DSL addresses live in [BASE, BASE + WINDOW)
PRESENT, SWAPPED = 1 << 63, 1 << 62
PFN_MASK = (1 << 55) - 1
KPF_ZERO_PAGE = 24
PTE_PRESENT, PTE_RW = 0x1, 0x2
PROBE_ADDR = 0x200000000000  # outside the DSL window
_PROTS = {"rw": "rw", "r-": "r", "--": "none", "-w": "rw"}


def vmas(pid: int) -> list[tuple[int, int, str]]:
    """(start, end, prot) of the vmas inside the DSL window, addresses relative to BASE."""
    found = []
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            span, perms = line.split()[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            if start >= BASE and end <= BASE + WINDOW:
                found.append((start - BASE, end - BASE, _PROTS.get(perms[:2], "none")))
    return found


def pagemap_entry(fd: int, vaddr: int) -> int:
    return int.from_bytes(os.pread(fd, 8, (vaddr // PAGE) * 8), "little")


def kpage(path: str, pfn: int) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        return int.from_bytes(os.pread(fd, 8, pfn * 8), "little")
    finally:
        os.close(fd)


def mapcount(pid: int, addr: int) -> int:
    """How many ptes map the page at `addr` (DSL address) of `pid`; 0 when none is present."""
    fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY)
    try:
        entry = pagemap_entry(fd, BASE + addr)
    finally:
        os.close(fd)
    if not entry & PRESENT:
        return 0
    return kpage("/proc/kpagecount", entry & PFN_MASK)


def pte_kind(process: SimProcess, addr: int) -> tuple[str, bool]:
    """(kind, writable) of the pte at DSL address `addr` right now, for a state check."""
    fd = os.open(f"/proc/{process.pid}/pagemap", os.O_RDONLY)
    try:
        entry = pagemap_entry(fd, BASE + addr)
    finally:
        os.close(fd)
    if entry & PRESENT:
        return "present", bool(write_bit(process, BASE + addr))
    if entry & SWAPPED:
        return "swap", False
    return "none", False


def write_bit(process: SimProcess, vaddr: int) -> bool | None:
    """The pte's write bit from the BPF reader, None when it cannot be read."""
    reply = int(process.request(f"pte {vaddr:x}"))
    if reply < 0 or reply >= 0xFFFFFFFE:
        return None
    return bool(reply & PTE_PRESENT and reply & PTE_RW)


def observe(
    procs: Mapping[str, SimProcess], swap_device: object
) -> tuple[dict[Key, PteState], dict[Key, str], bool]:
    """(state, vma prot per key, whether every write bit could be read) of the live processes.

    `swap_device(type)` maps a swap type to the spec's device number.
    """
    state: dict[Key, PteState] = {}
    prots: dict[Key, str] = {}
    reads: list[tuple[Key, int, int]] = []  # (key, pid, vaddr) whose data is read at the end
    bits_ok = True
    flags_fd = os.open("/proc/kpageflags", os.O_RDONLY)
    try:
        for name in sorted(procs):
            process = procs[name]
            if not process.alive:
                continue
            pagemap = os.open(f"/proc/{process.pid}/pagemap", os.O_RDONLY)
            try:
                for start, end, prot in vmas(process.pid):
                    for addr in range(start, end, PAGE):
                        key = (name, addr)
                        prots[key] = prot
                        entry = pagemap_entry(pagemap, BASE + addr)
                        if entry & PRESENT:
                            pfn = entry & PFN_MASK
                            flags = int.from_bytes(os.pread(flags_fd, 8, pfn * 8), "little")
                            writable = write_bit(process, BASE + addr)
                            bits_ok &= writable is not None
                            zero = bool(flags >> KPF_ZERO_PAGE & 1)
                            state[key] = PteState("present", bool(writable), pfn, 0,
                                                  0 if zero else None)
                            if not zero:
                                reads.append((key, process.pid, BASE + addr))
                        elif entry & SWAPPED:
                            swap_type, offset = entry & 0x1F, (entry >> 5) & ((1 << 50) - 1)
                            state[key] = PteState("swap", False, (swap_type << 50) | offset,
                                                  None, None, swap_device(swap_type))  # type: ignore[operator]
                            reads.append((key, process.pid, BASE + addr))
                        else:
                            state[key] = PteState("none")
            finally:
                os.close(pagemap)
    finally:
        os.close(flags_fd)
    for key, pid, vaddr in reads:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
        try:
            data = int.from_bytes(os.pread(fd, 8, vaddr), "little")
        except OSError:
            data = None
        finally:
            os.close(fd)
        pte = state[key]
        state[key] = PteState(pte.kind, pte.writable, pte.frame, pte.node, data, pte.swap)
    return state, prots, bits_ok


def probe_write_bit(helper: Path, offsets: tuple[int, int, int]) -> bool:
    """Whether the BPF reader, with these offsets, reads a freshly written page's pte right:
    present, writable and with the frame pagemap reports."""
    process, popen = spawn_root(helper, "probe", offsets)
    try:
        if process.request(f"map {PROBE_ADDR:x} 1 rw") != "0":
            return False
        if not process.request(f"write {PROBE_ADDR:x} 1").startswith("ok"):
            return False
        reply = int(process.request(f"pte {PROBE_ADDR:x}"))
        fd = os.open(f"/proc/{process.pid}/pagemap", os.O_RDONLY)
        try:
            pfn = pagemap_entry(fd, PROBE_ADDR) & PFN_MASK
        finally:
            os.close(fd)
        if reply < 0 or reply >= 0xFFFFFFFE:
            return False
        return bool(reply & PTE_PRESENT and reply & PTE_RW) and (reply >> 12) == pfn & 0xFFFFF
    finally:
        process.kill()
        popen.wait()
