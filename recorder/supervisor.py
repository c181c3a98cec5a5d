"""The recorder: a reader per camera, a watchdog that replaces a reader gone silent, and the one
thread that writes health and gaps to the database (readers never wait on it)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from database import cameras as camera_db
from database.engine import transaction
from recorder.health import ClockReading, Gap, Snapshot, TamperSpan
from recorder.reader import CameraReader, RecorderOptions
from recorder.retention import sweep
from recorder.segments import clean_aside
from recorder.sources import Camera
from recorder.upload import Uploader

log = logging.getLogger("rxaudit.recorder")
NOT_RUNNING = "the recorder was not running"


class Recorder:
    def __init__(self, cameras: list[Camera], root: Path, options: RecorderOptions | None = None,
                 factory: sessionmaker[Session] | None = None, uploader: Uploader | None = None) -> None:
        """``root``: the store folder, or with an ``uploader`` the local spool it uploads from."""
        self.cameras, self.root = cameras, Path(root)
        self.options = options or RecorderOptions()
        self.factory = factory
        self.uploader = uploader
        self.stop_event = threading.Event()
        self.events: queue.Queue[Gap | TamperSpan | ClockReading] = queue.Queue()
        self.readers: dict[str, CameraReader] = {}
        self.replaced = 0  # readers the watchdog gave up on
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        removed = clean_aside(self.root, self.cameras)
        if removed:
            log.warning("removed %d half-written segment(s) left by an earlier recorder", removed)
        gaps = self._restart_gaps()
        if self.uploader is not None:
            self.uploader.start()
        for camera in self.cameras:
            self._spawn(camera, gaps.get(camera.key))
        self._monitor = threading.Thread(target=self._watch, name="recorder watchdog", daemon=True)
        self._monitor.start()
        self._retention = threading.Thread(target=self._retain, name="recorder retention", daemon=True)
        self._retention.start()

    def _retain(self) -> None:
        """Retention at start and every ``retention_every_s``, beside the readers and the watchdog."""
        while True:
            try:
                swept = sweep(self.root, self.cameras, self.options.retention_days, self.factory,
                              target=None if self.uploader is None else self.uploader.target)
                if swept.deleted or swept.kept_for_evidence:
                    log.info("retention: %d segment(s) deleted, %d kept for flags' evidence",
                             len(swept.deleted), len(swept.kept_for_evidence))
            except Exception as exc:  # noqa: BLE001 - retention failing never stops recording
                log.error("retention failed: %s", type(exc).__name__)
            if self.stop_event.wait(self.options.retention_every_s):
                return

    def _restart_gaps(self) -> dict[str, Gap]:
        """Footage since the last frame an earlier run saw is missing: a gap until the first frame."""
        if self.factory is None:
            return {}
        with transaction(self.factory) as session:
            last = camera_db.last_frames(session, keys=[(c.pharmacy_id, c.counter_id) for c in self.cameras])
        gaps = {f"{p}/{c}": Gap(f"{p}/{c}", at, NOT_RUNNING) for (p, c), at in last.items()}
        for gap in gaps.values():
            self.events.put(gap)
        return gaps

    def _spawn(self, camera: Camera, gap: Gap | None = None) -> None:
        reader = CameraReader(camera, self.root, self.options, self.events, self.stop_event, gap, self.uploader)
        self.readers[camera.key] = reader
        reader.start()

    def _watch(self) -> None:
        next_flush = 0.0
        while not self.stop_event.wait(0.5):
            now = time.monotonic()
            for camera in self.cameras:
                reader = self.readers[camera.key]
                if now - reader.status.heartbeat > self.options.watchdog_s:
                    log.error("%s: reader silent for %.0f s: replaced", camera.key, now - reader.status.heartbeat)
                    reader.abandoned = True
                    self.replaced += 1
                    self._spawn(camera, reader.gap or Gap(camera.key, datetime.now(camera.timezone),
                                                          "the recorder's reader hung"))
            if now >= next_flush:
                self.flush()
                next_flush = now + self.options.health_every_s
        self.flush()

    def snapshots(self) -> list[Snapshot]:
        return [self.readers[c.key].status.read() for c in self.cameras]

    def flush(self) -> None:
        """Health rows and gap events into the database; a database error is logged, never fatal."""
        if self.factory is None:
            while not self.events.empty():
                self.events.get_nowait()
            return
        events = []
        while not self.events.empty():
            events.append(self.events.get_nowait())
        try:
            with transaction(self.factory) as session:
                for event in events:
                    pharmacy_id, counter_id = event.key.split("/", 1)
                    where = dict(pharmacy_id=pharmacy_id, counter_id=counter_id)
                    if isinstance(event, ClockReading):
                        camera_db.save_clock(session, **where, at=event.at, source=event.source,
                                             camera_minus_recorder_s=event.camera_minus_recorder_s)
                    elif isinstance(event, TamperSpan) and event.end is None:
                        camera_db.open_tamper(session, **where, what=event.what, start=event.start,
                                              last_good_at=event.last_good_at, keyframe_before=event.keyframe_before,
                                              keyframe_after=event.keyframe_after)
                    elif isinstance(event, TamperSpan):
                        camera_db.close_tamper(session, **where, end=event.end, keyframe_back=event.keyframe_back)
                    else:  # a gap: opened (kept if one is open), and closed when it has ended
                        camera_db.open_gap(session, **where, start=event.start, reason=event.reason)
                        if event.end is not None:
                            camera_db.close_gap(session, **where, end=event.end)
                for snap in self.snapshots():
                    pharmacy_id, counter_id = snap.key.split("/", 1)
                    camera_db.save_health(
                        session, pharmacy_id=pharmacy_id, counter_id=counter_id, state=str(snap.state),
                        state_since=snap.since, last_frame_at=snap.last_frame_at, fps=snap.fps,
                        bitrate_kbps=snap.bitrate_kbps, width=snap.width, height=snap.height,
                        stream=snap.stream[:255], detail=self._detail(snap))
        except Exception as exc:  # noqa: BLE001 - the database may be down; recording goes on
            log.error("cannot store camera health: %s", type(exc).__name__)
            for event in events:
                self.events.put(event)

    def _detail(self, snap: Snapshot) -> str | None:
        """The reader's words, and while segments wait for the object store, how many and why."""
        waiting = 0 if self.uploader is None else self.uploader.waiting(snap.key)
        if waiting <= 1:  # one is normal: the segment just finished, being uploaded
            return snap.detail
        why = f" ({self.uploader.error})" if self.uploader.error else ""
        text = f"{waiting} segment(s) waiting to upload{why}"
        return (f"{snap.detail}; {text}" if snap.detail else text)[:255]

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for reader in list(self.readers.values()):
            reader.join(max(0.0, deadline - time.monotonic()))
        for thread in (self._monitor, getattr(self, "_retention", None)):
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        if self.uploader is not None:
            self.uploader.stop(max(1.0, deadline - time.monotonic()))

    def run(self, duration_s: float | None = None) -> None:
        """Record until stopped (SIGTERM/SIGINT in the CLI) or for ``duration_s``."""
        self.start()
        try:
            self.stop_event.wait(duration_s)
        finally:
            self.stop()
