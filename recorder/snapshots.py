"""Pictures the recorder leaves beside the store: each counter's latest picture for the monitoring
wall (``<snapshot_dir>/<pharmacy>/<counter>.jpg``, replaced atomically, its modification time the
recorder's clock at that frame), and the keyframes before and after a tamper span in the evidence
directory (``tamper/<pharmacy>/<counter>/<start>-before.jpg`` ...), which the span's row names.

Only file handling here (no decoding): the API finds a counter's latest picture with
:func:`latest_snapshot` without importing PyAV."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.video_store import check_id

SNAPSHOT_MAX_WIDTH = 640  # pixels: a wall tile, whatever the camera's size
JPEG_QSCALE = 5  # FFmpeg's mjpeg quantiser scale (2 best .. 31): about Pillow's quality 75
TAMPER_FOLDER = "tamper"


@dataclass(frozen=True)
class LatestSnapshot:
    path: Path
    at: datetime  # the recorder's clock at the frame (UTC)


def snapshot_path(root: Path, pharmacy_id: str, counter_id: str) -> Path:
    return Path(root) / check_id("pharmacy_id", pharmacy_id) / f"{check_id('counter_id', counter_id)}.jpg"


def _write_atomically(path: Path, data: bytes, at: datetime | None = None) -> None:
    """A reader sees the old file or the new one, never a part (written aside, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(aside, "wb") as handle:
            handle.write(data)
        if at is not None:
            stamp = at.timestamp()
            os.utime(aside, (stamp, stamp))
        os.replace(aside, path)
    except BaseException:
        aside.unlink(missing_ok=True)
        raise


def write_snapshot(root: Path, pharmacy_id: str, counter_id: str, jpeg: bytes, at: datetime) -> Path:
    path = snapshot_path(root, pharmacy_id, counter_id)
    _write_atomically(path, jpeg, at)
    return path


def latest_snapshot(root: Path | str, pharmacy_id: str, counter_id: str) -> LatestSnapshot | None:
    """The counter's latest picture and when it was taken, or None (no recorder has written one).
    Ids are checked as store ids (no path tricks); the time is the file's, set by the recorder."""
    path = snapshot_path(Path(root), pharmacy_id, counter_id)
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return LatestSnapshot(path, datetime.fromtimestamp(stat.st_mtime, UTC))


def save_tamper_keyframe(evidence_dir: Path, pharmacy_id: str, counter_id: str, span_start: datetime,
                         label: str, jpeg: bytes) -> str:
    """A keyframe of a tamper span into the evidence directory; returns its evidence-relative path."""
    rel = (f"{TAMPER_FOLDER}/{check_id('pharmacy_id', pharmacy_id)}/{check_id('counter_id', counter_id)}/"
           f"{span_start.astimezone(UTC):%Y%m%dT%H%M%SZ}-{label}.jpg")
    _write_atomically(Path(evidence_dir) / rel, jpeg)
    return rel
