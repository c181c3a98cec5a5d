"""Segments into an object store (``rxaudit record --videos s3://bucket/prefix``): each segment is
written aside and moved into a local spool exactly as into a folder store, then uploaded by a few
upload threads (never the readers: a slow or unreachable store stalls no camera) with one PUT, which
S3 makes visible whole or not at all, and only then removed from the spool.

The spool is the queue: what is in it is uploaded, oldest first, also after a restart (a recorder
killed with segments waiting uploads them when it starts again). A bounded in-memory queue feeds the
upload threads; what does not fit waits on disk and the spool scan finds it. Failures are retried with
capped exponential backoff shared by all threads (an unreachable store is not hammered). A camera with
``spool_max_segments`` waiting is refused more (its reader ends the session as for a full disk: a gap
whose reason says why, the state ``store_failing``), so the spool's disk has a bound too."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.video_store import parse_segment_name
from recorder.sources import Camera

log = logging.getLogger("rxaudit.recorder")
UPLOAD_CONNECT_S, UPLOAD_READ_S = 10, 120  # seconds: a 10 s segment at 1080p is a few MB


@dataclass(frozen=True)
class UploadOptions:
    workers: int = 4
    queue_max: int = 64  # segments handed to the upload threads at once; the rest wait on disk
    spool_max_segments: int = 360  # per camera (an hour at 10 s segments) before it is refused more
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    scan_every_s: float = 2.0


class ObjectTarget:
    """Where segments go: an fsspec filesystem (s3fs) and the store's root ``bucket/prefix``. The
    audit's store (:class:`ingest.remote_store.FsspecVideoStore`) reads the same layout."""

    def __init__(self, store) -> None:
        self.store = store  # FsspecVideoStore
        self.fs, self.root = store.fs, store.root

    @classmethod
    def s3(cls, url: str, settings) -> ObjectTarget:
        """``s3://bucket/prefix`` with every request bounded (a store that accepts the connection and
        never answers holds an upload thread ``UPLOAD_READ_S`` at most, twice), as the audit's store
        finds it (``s3_endpoint_url``; credentials from the environment only)."""
        import s3fs

        from ingest.remote_store import FsspecVideoStore

        fs = s3fs.S3FileSystem(endpoint_url=settings.s3_endpoint_url, use_listings_cache=False, config_kwargs={
            "connect_timeout": UPLOAD_CONNECT_S, "read_timeout": UPLOAD_READ_S,
            "retries": {"max_attempts": 2, "mode": "standard"}})
        fs.retries = 1  # botocore retries (bounded); the upload threads back off beyond that
        return cls(FsspecVideoStore(fs, url.removeprefix("s3://").rstrip("/"), block_size=settings.store_block_size,
                                    retries=0))

    def put(self, local: Path, rel: str) -> None:
        self.fs.put_file(str(local), f"{self.root}/{rel}")

    def delete(self, rel: str) -> None:
        self.fs.rm_file(f"{self.root}/{rel}")

    def names(self, pharmacy_id: str, counter_id: str) -> list[str]:
        return [s.uri.rsplit("/", 1)[1] for s in self.store.list_segments(pharmacy_id, counter_id)]


class Uploader:
    def __init__(self, target: ObjectTarget, spool: Path, cameras: list[Camera],
                 options: UploadOptions | None = None, shown: str = "the object store",
                 on_uploaded: Callable[[str], None] | None = None) -> None:
        self.target, self.spool, self.cameras = target, Path(spool), cameras
        self.options = options or UploadOptions()
        self.shown = shown  # the store's URL, for messages (it holds no secret: credentials are env)
        self.on_uploaded = on_uploaded
        self.stop_event = threading.Event()
        self._queue: queue.Queue[Path] = queue.Queue(self.options.queue_max)
        self._lock = threading.Lock()
        self._queued: set[Path] = set()  # in the queue or being uploaded
        self._waiting: dict[str, int] = {c.key: 0 for c in cameras}  # segments in the spool per camera
        self._down_until = 0.0
        self._backoff = self.options.backoff_min_s
        self.error: str | None = None  # the last failure, while the store is failing
        self.uploaded = self.failures = 0
        self._threads: list[threading.Thread] = []

    # -- the readers' side ------------------------------------------------------------------------
    def offer(self, path: Path, key: str) -> None:
        """A complete segment is in the spool: queue it if there is room (never blocks)."""
        with self._lock:
            self._waiting[key] = self._waiting.get(key, 0) + 1
        self._enqueue(path)

    def full(self, key: str) -> str | None:
        """Why this camera may not record more now, or None."""
        with self._lock:
            waiting = self._waiting.get(key, 0)
        if waiting < self.options.spool_max_segments:
            return None
        why = f": {self.error}" if self.error else ""
        return (f"cannot upload to {self.shown}{why}; {waiting} segment(s) wait on the recorder's disk "
                f"(the bound, {self.options.spool_max_segments})")

    def waiting(self, key: str) -> int:
        with self._lock:
            return self._waiting.get(key, 0)

    def backlog(self) -> int:
        """Segments in the spool, all cameras."""
        with self._lock:
            return sum(self._waiting.values())

    # -- the upload threads -----------------------------------------------------------------------
    def start(self) -> None:
        self._scan()
        for i in range(self.options.workers):
            thread = threading.Thread(target=self._work, name=f"recorder upload {i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        scanner = threading.Thread(target=self._scan_loop, name="recorder spool scan", daemon=True)
        scanner.start()
        self._threads.append(scanner)

    def stop(self, timeout: float = 10.0) -> None:
        """Uploads what waits while the store answers, for up to half of ``timeout``; what is left
        stays in the spool for the next start."""
        deadline = time.monotonic() + timeout
        self._scan()
        while time.monotonic() < deadline - timeout / 2 and self.error is None and self.backlog():
            time.sleep(0.1)
        self.stop_event.set()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _enqueue(self, path: Path) -> None:
        with self._lock:
            if path in self._queued:
                return
            try:
                self._queue.put_nowait(path)
            except queue.Full:
                return  # it waits on disk; the scan offers it again
            self._queued.add(path)

    def _scan(self) -> None:
        """Count what waits in the spool per camera and queue the oldest of it."""
        found: dict[str, list[Path]] = {}
        for camera in self.cameras:
            folder = self.spool / camera.pharmacy_id / camera.counter_id
            paths = sorted(p for p in folder.glob("*.mp4") if parse_segment_name(p.name)) if folder.is_dir() else []
            found[camera.key] = paths
        with self._lock:
            for key, paths in found.items():
                self._waiting[key] = len(paths)
        for path in sorted((p for paths in found.values() for p in paths), key=lambda p: p.name):
            if self._queue.full():
                break
            self._enqueue(path)

    def _scan_loop(self) -> None:
        while not self.stop_event.wait(self.options.scan_every_s):
            try:
                self._scan()
            except OSError as exc:
                log.error("cannot scan the upload spool: %s", exc.strerror or type(exc).__name__)

    def _work(self) -> None:
        while not self.stop_event.is_set():
            try:
                path = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._upload(path)
            finally:
                with self._lock:
                    self._queued.discard(path)

    def _upload(self, path: Path) -> None:
        while not self.stop_event.is_set():
            wait = self._down_until - time.monotonic()
            if wait > 0:
                self.stop_event.wait(min(wait, 0.5))
                continue
            rel = path.relative_to(self.spool).as_posix()
            if not path.exists():  # uploaded by an earlier pass, or deleted by hand
                return
            try:
                self.target.put(path, rel)
            except Exception as exc:  # noqa: BLE001 - whatever the store says, the segment stays
                self._failed(rel, exc)
                continue
            path.unlink(missing_ok=True)
            key = rel.rsplit("/", 1)[0]
            with self._lock:
                self._waiting[key] = max(0, self._waiting.get(key, 0) - 1)
                self._backoff = self.options.backoff_min_s
                self.error = None
                self.uploaded += 1
            if self.on_uploaded is not None:
                self.on_uploaded(rel)
            return

    def _failed(self, rel: str, exc: Exception) -> None:
        text = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:200] or type(exc).__name__
        with self._lock:
            self.failures += 1
            self.error = f"{type(exc).__name__}: {text}"
            backoff = self._backoff
            self._backoff = min(self._backoff * 2, self.options.backoff_max_s)
            self._down_until = max(self._down_until, time.monotonic() + backoff)
        log.warning("upload of %s to %s failed (%s); retrying in %.0f s", rel, self.shown, self.error, backoff)
