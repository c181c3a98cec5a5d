"""Sign-in rate limiting: failures counted per account name and per client address in a sliding
window; past the limit, sign-in is refused (429) before any password is checked."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from rxaudit.errors import RateLimited


class LoginLimiter:
    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures, self.window_s = max_failures, window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            if any(len(self._recent(k, now)) >= self.max_failures for k in keys):
                raise RateLimited("too many failed sign-ins; try again in a few minutes")

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._failures.pop(name_key, None)
