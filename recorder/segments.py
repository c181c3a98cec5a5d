"""One segment being recorded: packets copied (no re-encoding) into an MP4 written aside, under
``<store>/.recording/``, and moved into ``<store>/<pharmacy>/<counter>/<YYYYMMDDTHHMMSS±HHMM>.mp4``
only once complete (closed, flushed to disk). The store never shows a half-written file; what a
killed recorder left aside is removed at the next start."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av

from ingest.video_store import segment_name
from recorder.sources import Camera

ASIDE = ".recording"  # not a safe-looking pharmacy folder the audit would list: it holds no counters
PART = ".part"


class SegmentWriter:
    """Packets of one video stream, from a keyframe on, rebased to start at 0."""

    def __init__(self, root: Path, camera: Camera, template: av.video.stream.VideoStream) -> None:
        self.root, self.camera = root, camera
        aside = root / ASIDE / camera.pharmacy_id / camera.counter_id
        aside.mkdir(parents=True, exist_ok=True)
        self.path = aside / f"{uuid.uuid4().hex}.mp4{PART}"
        self.container = av.open(str(self.path), "w", format="mp4")
        try:
            self.stream = self.container.add_stream_from_template(template)
        except Exception:
            self.abort()
            raise
        self.time_base: Fraction = template.time_base
        self.first_dts: int | None = None
        self.first_pts: int | None = None
        self.last_dts: int | None = None  # in the camera's time base
        self.end_pts: int | None = None
        self.packets = self.bytes = 0
        self.offset_s: float | None = None  # min over packets of (arrival on the recorder clock - pts)
        self.camera_offset_s: float | None = None  # the camera's own clock (RTCP) - pts, where known
        self.width, self.height = template.codec_context.width, template.codec_context.height

    def write(self, packet: av.Packet, arrived: float) -> None:
        """``arrived``: the recorder's clock (epoch seconds) when the packet came in."""
        if self.first_dts is None:
            self.first_dts, self.first_pts = packet.dts, packet.pts
        if self.last_dts is not None and packet.dts <= self.last_dts:
            # a stream joined mid-way guesses its first timestamps; the muxer needs them increasing
            # (as ffmpeg does: the next tick, and the frame shown no earlier than it is decoded)
            packet.dts = self.last_dts + 1
            packet.pts = max(packet.pts, packet.dts)
        self.last_dts = packet.dts
        pts_s = float(packet.pts * self.time_base)
        offset = arrived - pts_s
        self.offset_s = offset if self.offset_s is None else min(self.offset_s, offset)
        end = packet.pts + (packet.duration or 0)
        self.end_pts = end if self.end_pts is None else max(self.end_pts, end)
        self.packets += 1
        self.bytes += packet.size
        packet.pts -= self.first_dts
        packet.dts -= self.first_dts
        packet.stream = self.stream
        self.container.mux(packet)

    def elapsed_s(self, pts: int) -> float:
        """Stream seconds from this segment's first frame to ``pts``."""
        return float((pts - self.first_pts) * self.time_base) if self.first_pts is not None else 0.0

    @property
    def duration_s(self) -> float:
        return self.elapsed_s(self.end_pts) if self.end_pts is not None else 0.0

    def started_at(self) -> datetime:
        """The recorder's clock at the first frame: the earliest arrival seen, less stream time
        since (packets come in bursts after a connection is opened, never early)."""
        epoch = self.offset_s + float(self.first_pts * self.time_base)
        return datetime.fromtimestamp(epoch, self.camera.timezone)

    def finish(self) -> Path | None:
        """Close, flush and move into the store; None (and nothing in the store) when empty."""
        try:
            self.container.close()
        except Exception:
            self.abort()
            raise
        if self.packets == 0:
            self.path.unlink(missing_ok=True)
            return None
        with open(self.path, "rb+") as handle:
            os.fsync(handle.fileno())
        folder = self.root / self.camera.pharmacy_id / self.camera.counter_id
        folder.mkdir(parents=True, exist_ok=True)
        start = self.started_at().replace(microsecond=0)
        for _ in range(10):  # a name already taken (a reconnect within the second): the next second
            target = folder / segment_name(start)
            try:
                os.link(self.path, target)  # never replaces: fails when the name exists
            except FileExistsError:
                start += timedelta(seconds=1)
                continue
            self.path.unlink()
            _fsync_dir(folder)
            return target
        self.path.unlink(missing_ok=True)
        raise FileExistsError(f"{self.camera.key}: no free segment name near {start.isoformat()}")

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - an aborted segment is dropped whatever its state
            pass
        self.path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_aside(root: Path, cameras: list[Camera]) -> int:
    """Remove what a killed recorder left half-written for these cameras (not another shard's);
    returns how many files."""
    removed = 0
    for camera in cameras:
        aside = root / ASIDE / camera.pharmacy_id / camera.counter_id
        if aside.is_dir():
            for path in aside.glob(f"*{PART}"):
                path.unlink(missing_ok=True)
                removed += 1
    return removed
