"""Local batch workers die with their parent, even when it is killed with SIGKILL: no worker
(idle or busy) and no multiprocessing resource tracker lives on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")

# The coordinator as `rxaudit batch` runs it: three workers, one busy with a long task, two idle.
COORDINATOR = """
import time
from concurrent.futures import wait
from audit.executors import LocalProcesses

executor = LocalProcesses(3)
wait([executor.pool.submit(time.sleep, 0.3) for _ in range(3)])
executor.pool.submit(time.sleep, 600)
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
"""


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid), or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None and stat[1] == pid:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def test_workers_and_the_resource_tracker_die_with_a_killed_coordinator(tmp_path):
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", COORDINATOR], cwd=root, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(root)})
    try:
        assert proc.stdout.readline().strip() == b"ready"
        children = _children(proc.pid)
        assert len(children) >= 3  # the workers (and the resource tracker)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 6
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [pid for pid in children if _alive(pid)]
        for pid in survivors:  # don't leave them behind even when the test fails
            os.kill(pid, signal.SIGKILL)
        assert survivors == []
    finally:
        if proc.poll() is None:
            proc.kill()
