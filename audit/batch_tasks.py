"""The unit of batch work, run in this process, in local worker processes or on Ray.

A task is plain data: settings (without secrets), the store location, the camera configuration,
one counter's settlements and that counter's segment list (from the cached index, so workers never
list the store). It returns each settlement's ``SettlementFootage`` as JSON, plus counters."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from ingest.cameras import CamerasConfig
from ingest.stores import open_store
from audit.counter_audit import CounterAuditor, Models, load_models
from rxaudit.domain import Segment, settlement_from_json
from rxaudit.settings import Settings

_WORKER: dict[str, Any] = {}  # per process: models and stores, loaded once


class ListedStore:
    """A store whose listing was done by the coordinator; opening goes to the real store."""

    def __init__(self, inner, segments: list[Segment], known: bool) -> None:
        self.inner, self.segments, self.known = inner, segments, known

    def has_counter(self, pharmacy_id: str, counter_id: str) -> bool:
        return self.known

    def list_segments(self, pharmacy_id: str, counter_id: str) -> list[Segment]:
        return list(self.segments)

    def open(self, uri: str) -> BinaryIO:
        return self.inner.open(uri)


def _models(settings: Settings, key: str) -> Models:
    if _WORKER.get("models_key") != key:
        _WORKER["models"] = load_models(settings)
        _WORKER["models_key"] = key
    return _WORKER["models"]


def run_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Pure in, plain data out; safe to run anywhere the store and the evidence folder are reachable."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    settings = Settings(**payload["settings"])
    models = _models(settings, payload["models_key"])
    stores = _WORKER.setdefault("stores", {})
    if payload["videos"] not in stores:
        stores[payload["videos"]] = open_store(payload["videos"], settings)
    inner = stores[payload["videos"]]
    segments = [Segment(payload["pharmacy_id"], payload["counter_id"],
                        datetime.fromisoformat(start), uri) for start, uri in payload["segments"]]
    store = ListedStore(inner, segments, payload["known"])
    cameras = CamerasConfig.model_validate(payload["cameras"])
    auditor = CounterAuditor(settings, cameras, store, models, Path(settings.evidence_dir))
    settlements = [settlement_from_json(s) for s in payload["settlements"]]
    summaries = auditor.summaries((payload["pharmacy_id"], payload["counter_id"]), settlements)
    return {"summaries": [s.to_json() for s in summaries],
            "stats": {**{k: float(v) for k, v in auditor.stats.items()},
                      "cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0}}
