"""A client of ``POST /api/v1/settlements`` (the platform's side, for demos, benchmarks and tests): posts
settlement objects as they fall due, in batches of those due together, and retries a batch with
exponential backoff on a connection error, a timeout, 429 or a 5xx answer (the server is idempotent on
``settlement_id``: a batch posted twice stores each settlement once). A 4xx answer other than 408/429 is
not retried: 401/403 stop the push (a wrong key will not get better), other 4xx count the batch as
refused. The key is sent only in the ``Authorization`` header and never printed.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rxaudit.errors import AuthError, InputError

BATCH_MAX = 500  # settlements in one request
RETRYABLE = {408, 429}
TIMEOUT_S = 30.0


@dataclass
class PushStats:
    posted: int = 0  # settlements in batches the server answered 202
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0  # records the server refused (index and field in ``errors``)
    retries: int = 0
    requests: int = 0
    late_s: list[float] = field(default_factory=list)  # post time - due time, per batch
    errors: list[dict[str, Any]] = field(default_factory=list)  # the server's per-record errors (first 100)

    def summary(self) -> str:
        late = sorted(self.late_s)
        worst = f", latest post {late[-1]:.2f} s after due" if late else ""
        return (f"posted {self.posted}: {self.stored} stored, {self.duplicates} already there, "
                f"{self.conflicts} conflicts, {self.rejected} refused; {self.requests} requests, "
                f"{self.retries} retries{worst}")


class Pusher:
    def __init__(self, url: str, key: str, *, gzip_body: bool = False, max_retry_s: float = 600.0,
                 backoff_s: tuple[float, float] = (0.5, 30.0), timeout_s: float = TIMEOUT_S,
                 sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print) -> None:
        if not url.startswith(("http://", "https://")):
            raise InputError("--url must start with http:// or https://")
        self.endpoint = url.rstrip("/") + "/api/v1/settlements"
        self.key, self.gzip_body, self.max_retry_s = key, gzip_body, max_retry_s
        self.backoff_s, self.timeout_s, self.sleep, self.log = backoff_s, timeout_s, sleep, log
        self.stats = PushStats()

    def _request(self, body: bytes) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        if self.gzip_body:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}")
            except ValueError:
                detail = {}
            return exc.code, detail if isinstance(detail, dict) else {}

    def post(self, records: list[dict[str, Any]]) -> None:
        """One batch, retried until the server answers (or ``max_retry_s`` has passed: ConnectionError)."""
        body = json.dumps(records, ensure_ascii=False).encode("utf-8")
        wait, first_try = self.backoff_s[0], time.monotonic()
        while True:
            self.stats.requests += 1
            try:
                status, answer = self._request(body)
                why = f"HTTP {status}"
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                status, answer = None, {}
                why = type(getattr(exc, "reason", exc)).__name__
            if status is not None and status < 500 and status not in RETRYABLE:
                break
            if time.monotonic() - first_try + wait > self.max_retry_s:
                raise ConnectionError(f"{self.endpoint}: no answer after {self.max_retry_s:g} s ({why}); "
                                      f"{len(records)} settlement(s) of this batch not confirmed")
            self.stats.retries += 1
            self.log(f"retrying in {wait:.1f} s: {why}")
            self.sleep(wait)
            wait = min(wait * 2, self.backoff_s[1])
        if status in (401, 403):
            raise AuthError(f"{self.endpoint}: HTTP {status}: {answer.get('detail', '')} (an ingest key is needed: "
                            "rxaudit apikey create --scope ingest)")
        errors = answer.get("errors") or []
        if status in (202, 422) and isinstance(errors, list):
            self.stats.rejected += len(errors)
            self.stats.errors.extend(errors[:max(0, 100 - len(self.stats.errors))])
        if status == 202:
            self.stats.posted += len(records)
            self.stats.stored += int(answer.get("stored", 0))
            self.stats.duplicates += int(answer.get("duplicates", 0))
            self.stats.conflicts += len(answer.get("conflicts") or [])
        elif status != 422:
            self.stats.rejected += len(records)
            self.log(f"batch of {len(records)} refused: HTTP {status}: {answer.get('detail', '')}")

    def push_timed(self, timed: Iterable[tuple[datetime, dict[str, Any]]], *,
                   now: Callable[[], datetime] = lambda: datetime.now(UTC),
                   on_batch: Callable[[list[dict[str, Any]]], None] | None = None) -> PushStats:
        """Each record when its time has come (``timed`` in time order): those due together in one batch."""
        pending = iter(timed)
        nxt = next(pending, None)
        while nxt is not None:
            wait = (nxt[0] - now()).total_seconds()
            if wait > 0:
                self.sleep(min(wait, 60.0))
                continue
            batch, due = [], nxt[0]
            while nxt is not None and nxt[0] <= now() and len(batch) < BATCH_MAX:
                batch.append(nxt[1])
                nxt = next(pending, None)
            self.stats.late_s.append((now() - due).total_seconds())
            self.post(batch)
            if on_batch is not None:
                on_batch(batch)
        return self.stats
