"""``rxaudit batch``: a day's settlements against a (cloud) video store, resumable and exactly-once.

1. Plan: settlements grouped by counter and split at gaps wider than a decode window, so one decode
   serves every settlement whose window falls in it. Tasks are stored with the batch (keyed by the
   log's content, the store and the day): running the same batch again resumes it.
2. Index: each counter's segment listing comes from the database cache (listed once per day).
3. Run: tasks go to this process, local worker processes or Ray; each finished task's summaries
   are committed together with its done-mark, so a kill at any point loses nothing and repeats
   nothing that was committed.
4. Reconcile: the rules over the whole day, written idempotently (one flag per settlement + kind).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ingest.cameras import load_cameras
from database.segment_index import IndexedVideoStore
from ingest.records import read_records
from ingest.settlements import IngestOptions, read_settlements
from ingest.stores import open_store, store_location
from reconcile.context import SettlementFootage
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import Batch, BatchTask, utcnow
from rxaudit.domain import Settlement, settlement_to_json
from audit.executors import Executor, make_executor
from audit.pipeline import (AuditReport, group_by_counter, reconcile_and_save, screen_conflicts,
                              vision_stats, write_flags_json)
from audit.progress import Progress
from rxaudit.settings import Settings


def plan_tasks(settlements: list[Settlement], settings: Settings,
               max_per_task: int = 64) -> list[list[Settlement]]:
    """Per counter, in time order; a new task starts at a gap wider than a decode window (never
    inside one: a visit must not be cut in two) once the current task is full enough."""
    gap = timedelta(seconds=settings.window_before_s + settings.window_after_s + settings.bridge_gap_s)
    tasks: list[list[Settlement]] = []
    for group in group_by_counter(settlements).values():
        group.sort(key=lambda s: s.settled_at)
        current: list[Settlement] = []
        for s in group:
            if current and len(current) >= max_per_task and s.settled_at - current[-1].settled_at > gap:
                tasks.append(current)
                current = []
            current.append(s)
        tasks.append(current)
    return tasks


def batch_key(settlements_file: Path, location: str, day: date | None) -> str:
    digest = hashlib.sha256(Path(settlements_file).read_bytes())
    digest.update(f"|{location}|{day}".encode())
    return digest.hexdigest()


def _on_day(settlements, day: date | None, tz: ZoneInfo) -> list[Settlement]:
    if day is None:
        return list(settlements)
    return [s for s in settlements if s.settled_at.astimezone(tz).date() == day]


def run_batch(settings: Settings, *, settlements_file: Path, videos: str, cameras_file: Path | None = None,
              day: date | None = None, workers: int = 1, ray_address: str | None = None,
              out: Path | None = None, show_progress: bool = True,
              executor: Executor | None = None) -> AuditReport:
    started, cpu0 = time.perf_counter(), time.process_time()
    card_key = settings.require_card_key()
    cameras = load_cameras(cameras_file, settings.input_encoding)
    options = IngestOptions.from_settings(settings)
    log = read_settlements(Path(settlements_file), card_key, settings.item_catalogue, options=options)
    engine = make_engine(settings.db_url)
    migrate(engine)
    factory = session_factory(engine)
    settlements, conflicts = screen_conflicts(  # before planning: no task decodes a conflicting row
        factory, _on_day(log.settlements, day, ZoneInfo(settings.display_timezone)),
        source=Path(settlements_file).name)
    by_id = {s.settlement_id: s for s in settlements}
    location = store_location(str(videos))
    index = IndexedVideoStore(open_store(str(videos), settings), factory, location)

    with transaction(factory) as session:
        key = batch_key(settlements_file, location, day)
        batch = session.scalar(select(Batch).where(Batch.key == key))
        if batch is None:
            batch = Batch(key=key, settlements_file=str(settlements_file), videos=location,
                          day=None if day is None else day.isoformat())
            session.add(batch)
            session.flush()
            for seq, task in enumerate(plan_tasks(settlements, settings)):
                session.add(BatchTask(batch_id=batch.id, seq=seq, pharmacy_id=task[0].pharmacy_id,
                                      counter_id=task[0].counter_id,
                                      settlement_ids={"ids": [s.settlement_id for s in task]}))
        batch_id = batch.id
        pending = [(t.id, t.pharmacy_id, t.counter_id, t.settlement_ids["ids"]) for t in session.scalars(
            select(BatchTask).where(BatchTask.batch_id == batch_id, BatchTask.status != "done")
            .order_by(BatchTask.seq))]

    base = settings.model_dump(mode="json", exclude={"card_hash_key"})
    models_key = hashlib.sha256(json.dumps(base, sort_keys=True).encode()).hexdigest()
    payloads = []
    for task_id, pharmacy_id, counter_id, ids in pending:
        members = [by_id[i] for i in ids if i in by_id]  # resumed: a row may conflict since it was planned
        if not members:
            continue
        needed = max(cameras.camera_time(pharmacy_id, counter_id, s.settled_at) for s in members)
        index.refresh(pharmacy_id, counter_id, needed + timedelta(seconds=settings.window_after_s))
        known = index.has_counter(pharmacy_id, counter_id)
        segments = index.list_segments(pharmacy_id, counter_id) if known else []
        payloads.append((task_id, {
            "settings": base, "models_key": models_key, "videos": location,
            "cameras": cameras.model_dump(mode="json"), "pharmacy_id": pharmacy_id,
            "counter_id": counter_id, "known": known,
            "segments": [(seg.start.isoformat(), seg.uri) for seg in segments],
            "settlements": [settlement_to_json(s) for s in members]}))

    stats: Counter[str] = Counter()
    progress = Progress(sum(len(p["settlements"]) for _, p in payloads), enabled=show_progress)
    executor = executor or make_executor(workers, ray_address)
    try:
        for task_id, result in executor.run(payloads):
            with transaction(factory) as session:  # the results and the done-mark, together
                task = session.get_one(BatchTask, task_id)
                task.result, task.status, task.finished_at = result, "done", utcnow()
            for k, v in result["stats"].items():
                stats[k] += v
            progress.advance(len(result["summaries"]))
    finally:
        executor.close()
        progress.close()

    footage: dict[str, SettlementFootage] = {}
    with factory() as session:
        for task in session.scalars(select(BatchTask).where(BatchTask.batch_id == batch_id)):
            for item in (task.result or {}).get("summaries", []):
                footage[item["settlement_id"]] = SettlementFootage.from_json(item)
    records, bad_records = read_records(Path(settlements_file), options=options)  # beside the log
    rejected = [*log.rejected, *bad_records]  # rows the database refuses are added to it
    run_id, results, summary = reconcile_and_save(
        settings, factory, settlements=settlements, footage=footage, cameras=cameras,
        rejected=rejected, rows_read=log.rows_read, settlements_file=str(settlements_file),
        videos=location, records=records, conflicts=conflicts)
    with transaction(factory) as session:
        batch = session.get_one(Batch, batch_id)
        batch.finished_at, batch.run_id = utcnow(), run_id
    engine.dispose()
    summary = {**summary, "tasks_run_now": len(payloads), "store_listings": index.listings,
               "executor": executor.name}
    report_stats: dict[str, Any] = {
        "wall_s": time.perf_counter() - started,
        # worker CPU counts too when tasks ran in other processes
        "cpu_s": time.process_time() - cpu0 + (0.0 if executor.name == "in-process" else stats["cpu_s"]),
        "worker_cpu_s": stats["cpu_s"], **vision_stats(stats)}
    report = AuditReport(run_id, results, rejected, summary, report_stats)
    if out is not None:
        write_flags_json(report, Path(out))
    return report
