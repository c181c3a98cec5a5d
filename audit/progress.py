"""A one-line progress bar on stderr: done / total, rate, ETA."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, unit: str = "settlements", enabled: bool = True) -> None:
        self.total, self.unit, self.enabled = total, unit, enabled and total > 0
        self.done = 0
        self.started = time.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        elapsed = max(1e-6, time.perf_counter() - self.started)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        width = 30
        filled = int(width * self.done / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                         f"{self.unit}  {rate:.1f}/s  ETA {eta:.0f}s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
