"""Where batch tasks run: this process, local worker processes, or a Ray cluster. Each yields
(task index, result) as tasks finish, so the coordinator can commit each one at once."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol

from audit.batch_tasks import run_task
from audit.lifetime import die_with_parent


class Executor(Protocol):
    name: str

    def run(self, payloads: list[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]: ...

    def close(self) -> None: ...


class InProcess:
    name = "in-process"

    def run(self, payloads):
        for index, payload in payloads:
            yield index, run_task(payload)

    def close(self) -> None:
        pass


def bounded(payloads, window: int, submit, wait_any) -> Iterator[tuple[int, dict[str, Any]]]:
    """At most ``window`` tasks in flight (memory stays flat); results yielded as they finish.
    ``submit(payload) -> handle``; ``wait_any(handles) -> [(handle, result), ...]`` (at least one)."""
    pending = list(payloads)
    running: dict[Any, int] = {}
    while pending or running:
        while pending and len(running) < window:
            index, payload = pending.pop(0)
            running[submit(payload)] = index
        for handle, result in wait_any(list(running)):
            yield running.pop(handle), result


def _init_worker(parent_pid: int) -> None:
    die_with_parent(parent_pid)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


class LocalProcesses:
    """Worker processes (spawned: no database connection or model state is inherited). They die
    with this process, however it ends (``audit.lifetime``)."""

    def __init__(self, workers: int) -> None:
        self.name = f"{workers} local processes"
        self.pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                        initargs=(os.getpid(),), mp_context=multiprocessing.get_context("spawn"))
        self.window = 2 * workers

    def run(self, payloads):
        def wait_any(futures):
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            return [(f, f.result()) for f in done]

        return bounded(payloads, self.window, lambda p: self.pool.submit(run_task, p), wait_any)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class RayCluster:
    """The same task on Ray: ``address`` 'local' starts a local instance, else it joins one."""

    def __init__(self, address: str, workers: int) -> None:
        import ray

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not ray.is_initialized():
            if address == "local":
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        self.ray = ray
        self.remote = ray.remote(num_cpus=1)(run_task)
        self.name = f"ray ({address})"
        self.window = 2 * max(1, workers)

    def run(self, payloads):
        def wait_any(refs):
            ready, _ = self.ray.wait(refs, num_returns=1)
            return [(r, self.ray.get(r)) for r in ready]

        return bounded(payloads, self.window, self.remote.remote, wait_any)

    def close(self) -> None:
        pass


def make_executor(workers: int, ray_address: str | None) -> Executor:
    if ray_address:
        return RayCluster(ray_address, max(1, workers))
    if workers <= 1:
        return InProcess()
    return LocalProcesses(workers)
