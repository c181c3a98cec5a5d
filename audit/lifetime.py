"""Worker processes die with their parent: a batch killed with SIGKILL leaves no workers (nor,
once they are gone, multiprocessing's resource tracker, which lives while any of them holds its
pipe) behind."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def _parent_death_signal(sig: int) -> bool:
    """Linux: the kernel sends ``sig`` to this process when the thread that created it exits."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int, every_s: float) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)  # no cleanup: the coordinator that would collect the results is gone
        time.sleep(every_s)


def die_with_parent(parent_pid: int, *, every_s: float = 1.0) -> None:
    """Call first thing in a worker. The parent-death signal where the OS has one (immediate; Linux
    sends it when the *thread* that spawned the worker ends: for a process pool, the thread that
    submits, which outlives the pool), plus a thread that exits the process once its parent pid
    changes (checked every ``every_s`` seconds; covers systems without the signal)."""
    _parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid, every_s), name="parent-watchdog", daemon=True).start()
