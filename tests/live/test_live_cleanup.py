"""The live backend leaves nothing behind: no process, swap area, temporary file or directory,
whether the controller ends normally, is interrupted (Ctrl-C, SIGTERM) or is killed outright."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_support import needs_live, program
from ptediff.live.guard import LiveSession
from ptediff.live.runner import run_live
from ptediff.live.swap import active_swaps

pytestmark = needs_live

# A controller that stops in the middle of a program: processes forked, a swap area on, a page
# paged out, then it sleeps until the test signals it.
CONTROLLER = """
import json, sys, time
from ptediff.dsl.parse import parse
from ptediff.live.guard import LiveSession, install_signal_cleanup
from ptediff.live.runner import _Run

install_signal_cleanup()
prog = parse("swapon 2\\nmap p0 0x1000 1 rw\\nfault p0 0x1000 write 1\\nfork p0 p1\\n"
             "fault p1 0x1000 write 2\\npageout p1 0x1000\\n", "<controller>")
with LiveSession() as session:
    run = _Run(session, prog)
    try:
        run.run()
        print(json.dumps({
            "pids": [p.pid for p in run.procs.values()],
            "dir": str(session.directory),
            "guard": session.guard.pid,
            "swaps": [str(path) for path, _ in run.areas.by_type.values()],
        }), flush=True)
        time.sleep(120)
    finally:
        run.cleanup()
"""


def _gone(pid: int) -> bool:
    """No such process, or a zombie its new parent has yet to reap (it holds no memory)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_clean(state: dict, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        clean = (all(_gone(pid) for pid in [*state["pids"], state["guard"]])
                 and not set(state["swaps"]) & set(active_swaps())
                 and not Path(state["dir"]).exists())
        if clean:
            return
        time.sleep(0.05)
    left = {
        "processes": [pid for pid in [*state["pids"], state["guard"]] if not _gone(pid)],
        "swaps": sorted(set(state["swaps"]) & set(active_swaps())),
        "dir": Path(state["dir"]).exists(),
    }
    pytest.fail(f"left behind: {left}")


def _start_controller() -> tuple[subprocess.Popen, dict]:
    controller = subprocess.Popen([sys.executable, "-c", CONTROLLER], stdout=subprocess.PIPE,
                                  text=True, start_new_session=True)
    line = controller.stdout.readline()  # type: ignore[union-attr]
    assert line, "the controller did not get to the middle of its program"
    state = json.loads(line)
    # really in the middle: processes alive, the swap area on, its file there
    assert state["pids"] and not any(_gone(pid) for pid in state["pids"])
    assert set(state["swaps"]) <= set(active_swaps()) and state["swaps"]
    assert Path(state["dir"]).is_dir()
    return controller, state


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "Ctrl-C"])
def test_an_interrupted_controller_leaves_nothing(how: str) -> None:
    controller, state = _start_controller()
    try:
        if how == "Ctrl-C":  # the terminal's SIGINT goes to the whole foreground group
            os.killpg(controller.pid, signal.SIGINT)
        else:
            controller.send_signal(getattr(signal, how))
        controller.wait(timeout=30)
        _wait_clean(state)
    finally:
        if controller.poll() is None:
            controller.kill()
            controller.wait()


def _helpers(helper: Path) -> set[int]:
    """Processes running the live helper binary now (zombies excluded)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "exe") == str(helper) and not _gone(int(entry.name)):
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def test_a_normal_run_leaves_nothing() -> None:
    with LiveSession() as session:
        directory, guard = session.directory, session.guard.pid
        run = run_live(session, program("swapon 2\nmap p0 0x1000 1 rw\nfault p0 0x1000 write 1\n"
                                        "fork p0 p1\npageout p1 0x1000\nswapon 1\n"))
        assert run.outcome.results[5] == 0
        # the program's processes, swap areas and swap files went as it ended
        assert len(run.pids) == 2 and all(_gone(pid) for pid in run.pids)
        assert not set(run.pids) & _helpers(session.helper)
        assert not [name for name in active_swaps() if name.startswith(str(directory))]
        assert not list(directory.iterdir())
    _wait_clean({"pids": [], "guard": guard, "swaps": [], "dir": str(directory)})
