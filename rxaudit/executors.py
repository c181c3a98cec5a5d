"""Where batch tasks run: this process, local worker processes, or a Ray cluster. Each yields
(task index, result) as tasks finish, so the coordinator can commit each one at once."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol

from rxaudit.batch_tasks import run_task


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


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")


class LocalProcesses:
    """Worker processes (spawned: no database connection or model state is inherited)."""

    def __init__(self, workers: int) -> None:
        self.name = f"{workers} local processes"
        self.pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                        mp_context=multiprocessing.get_context("spawn"))
        self.window = 2 * workers

    def run(self, payloads):
        pending = list(payloads)
        running = {}
        while pending or running:
            while pending and len(running) < self.window:  # bounded: memory stays flat
                index, payload = pending.pop(0)
                running[self.pool.submit(run_task, payload)] = index
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield running.pop(future), future.result()

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
        pending = list(payloads)
        running: dict[Any, int] = {}
        while pending or running:
            while pending and len(running) < self.window:
                index, payload = pending.pop(0)
                running[self.remote.remote(payload)] = index
            ready, _ = self.ray.wait(list(running), num_returns=1)
            for ref in ready:
                yield running.pop(ref), self.ray.get(ref)

    def close(self) -> None:
        pass


def make_executor(workers: int, ray_address: str | None) -> Executor:
    if ray_address:
        return RayCluster(ray_address, max(1, workers))
    if workers <= 1:
        return InProcess()
    return LocalProcesses(workers)
