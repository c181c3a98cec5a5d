"""One supervised reader per camera: open with timeouts, copy packets into segments cut at
keyframes, and on a drop, a stall or a store failure close what was recorded, open a gap and reopen
with capped exponential backoff. A reader never waits on another camera (its own thread; PyAV
releases the GIL while it reads), and every wait has a bound, so the watchdog always hears it."""

from __future__ import annotations

import errno
import logging
import queue
import shutil
import struct
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import av

from recorder.health import CameraState, CameraStatus, ClockReading, Gap, Snapshot
from recorder.looks import Looks
from recorder.segments import SegmentWriter
from recorder.sources import Camera
from recorder.tamper import TamperOptions
from recorder.upload import Uploader

log = logging.getLogger("rxaudit.recorder")
FULL_BYTES = 1 << 20  # less free space than this under the store: a write failure is a full disk
JUMP_BACK_S = 1.0  # a timestamp this far behind the last one starts a new segment


@dataclass(frozen=True)
class RecorderOptions:
    segment_s: float = 10.0
    stall_s: float = 10.0  # no frame for this long: the stream is reopened
    open_s: float = 10.0  # connecting and the first answer
    backoff_min_s: float = 1.0
    backoff_max_s: float = 10.0  # a camera back is recording again within this plus a connection
    health_every_s: float = 2.0
    retention_days: int = 90  # 0: keep everything
    retention_every_s: float = 3600.0
    tamper: TamperOptions | None = TamperOptions()  # None: no tamper checks
    snapshot_dir: Path | None = None  # the wall's latest picture per counter (None: none written)
    snapshot_s: float = 2.0
    evidence_dir: Path | None = None  # tamper spans' keyframes go here (None: not kept)
    clock_every_s: float = 600.0  # the camera's clock is stored at most this often per counter,
    clock_move_s: float = 0.5  # or sooner when it moves by more than this, and at each connection

    @property
    def watchdog_s(self) -> float:
        """A reader silent this long (no packet, no wait step) is stuck: the supervisor replaces it."""
        return 2 * max(self.open_s, self.stall_s) + 5


class NoAnswer(Exception):
    """The camera took the whole open timeout (FFmpeg reports it as whatever it was waiting for)."""


class StoreFailure(Exception):
    """A segment could not be written or moved into the store (its reason, scrubbed)."""


def _now(camera: Camera) -> datetime:
    return datetime.now(camera.timezone)


class CameraReader(threading.Thread):
    def __init__(self, camera: Camera, root: Path, options: RecorderOptions, events: queue.Queue,
                 stop: threading.Event, gap: Gap | None = None, uploader: Uploader | None = None) -> None:
        super().__init__(name=f"recorder {camera.key}", daemon=True)
        self.camera, self.root, self.options, self.events, self.stop = camera, root, options, events, stop
        self.uploader = uploader  # segments moved into ``root`` are uploaded from there
        self.status = CameraStatus(Snapshot(camera.key, camera.shown, CameraState.STARTING, _now(camera)))
        self.gap = gap  # open while nothing is recorded
        self.abandoned = False  # set by the watchdog: this thread must not touch the store again
        self.sessions = 0
        self.looks = Looks(camera, events, self.status, tamper=options.tamper, snapshot_dir=options.snapshot_dir,
                           snapshot_s=options.snapshot_s, evidence_dir=options.evidence_dir)
        self._clock: tuple[float, float] | None = None  # the last reading stored: (offset, monotonic)

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> None:
        backoff = self.options.backoff_min_s
        while not self._done():
            self.status.beat()
            self.sessions += 1
            try:
                got_frames, state, reason = self._session()
            except StoreFailure as exc:  # backoff grows: a full disk is not cured by reconnecting
                got_frames, state, reason = False, CameraState.STORE_FAILING, str(exc)
            except Exception as exc:  # noqa: BLE001 - whatever a camera does, the reader goes on
                got_frames, state, reason = False, CameraState.OFFLINE, self._reason(exc)
            if self._done():
                break
            self.looks.end_tamper(self.status.read().last_frame_at or _now(self.camera))
            self._open_gap(reason)
            self.status.reset_rates()
            self.status.set(state=state, detail=reason[:255])
            log.warning("%s: %s; reopening in %.0f s", self.camera.key, reason, backoff)
            self._wait(backoff)
            backoff = self.options.backoff_min_s if got_frames else min(backoff * 2, self.options.backoff_max_s)

    def _done(self) -> bool:
        return self.stop.is_set() or self.abandoned

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._done() and (left := end - time.monotonic()) > 0:
            self.stop.wait(min(left, 0.5))
            self.status.beat()

    def _reason(self, exc: Exception) -> str:
        if isinstance(exc, (NoAnswer, av.error.ExitError, TimeoutError)):
            return f"no answer within {self.options.open_s:g} s"
        text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return self.camera.scrub(f"cannot read the stream: {text}")

    # -- one connection ---------------------------------------------------------------------------
    def _open(self) -> av.container.InputContainer:
        url, opts = self.camera.url, self.options
        # FFmpeg's socket timeout (µs) serves opening and reading alike: the longer of the two, so
        # PyAV's own (open_s, stall_s) interrupt decides which one it was
        options = {"timeout": str(int(max(opts.open_s, opts.stall_s) * 1_000_000))}
        if url.lower().startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = "tcp"
        return av.open(url, options=options, timeout=(opts.open_s, opts.stall_s))

    def _session(self) -> tuple[bool, CameraState, str]:
        """Record until the stream ends or stalls: (frames seen?, state after, reason)."""
        started = time.monotonic()
        try:
            container = self._open()
        except Exception as exc:
            if time.monotonic() - started >= 0.9 * self.options.open_s:
                raise NoAnswer() from exc
            raise
        writer: SegmentWriter | None = None
        got_frames = False
        self.looks.reset()
        self._clock = None
        try:
            if not container.streams.video:
                return False, CameraState.OFFLINE, "the stream has no video"
            stream = container.streams.video[0]
            try:
                for packet in container.demux(stream):
                    self.status.beat()
                    if self._done():
                        break
                    if packet.pts is None or packet.dts is None:
                        continue  # the flush packet at the end, or frames before timing is known
                    if writer is None and not packet.is_keyframe:
                        continue
                    t = float(packet.pts * stream.time_base)  # before the writer rebases the packet
                    keyframe, size = packet.is_keyframe, packet.size
                    camera_s = camera_time(packet) if keyframe else None
                    writer = self._write(writer, stream, packet)
                    if writer is None:
                        continue
                    if not got_frames:
                        got_frames = True
                        self._close_gap()
                    codec = stream.codec_context
                    at = _now(self.camera)
                    self.status.frame(at, t, size, codec.width, codec.height)
                    if keyframe:
                        if camera_s is not None and writer.camera_offset_s is None:
                            writer.camera_offset_s = camera_s - t
                        self.looks.keyframe(stream, packet, t, at, float((packet.duration or 0) * stream.time_base))
            except StoreFailure:
                writer = None  # aborted where it failed
                raise
            except (av.error.ExitError, TimeoutError):
                if got_frames:
                    return True, CameraState.STALLED, f"no frame for {self.options.stall_s:g} s"
                return False, CameraState.STALLED, f"connected, but no frame within {self.options.stall_s:g} s"
            return got_frames, CameraState.OFFLINE, "the stream ended"
        finally:
            if writer is not None:
                self._finish(writer)
            container.close()

    def _write(self, writer: SegmentWriter | None, stream, packet: av.Packet) -> SegmentWriter | None:
        try:
            if writer is not None and writer.last_dts is not None and \
                    float((writer.last_dts - packet.dts) * stream.time_base) > JUMP_BACK_S:
                # the stream's clock went back (a camera restarting its encoder): the segment so far
                # is complete; the next one starts at a keyframe
                self._finish(writer)
                writer = None
                if not packet.is_keyframe:
                    return None
            if writer is not None and packet.is_keyframe:
                frame_s = float((packet.duration or 0) * stream.time_base)
                if writer.elapsed_s(packet.pts) >= self.options.segment_s - frame_s / 2:
                    self._finish(writer)
                    writer = None
            if writer is None:
                if self.uploader is not None and (why := self.uploader.full(self.camera.key)):
                    raise StoreFailure(self.camera.scrub(why))
                writer = SegmentWriter(self.root, self.camera, stream)
            writer.write(packet, time.time())
        except StoreFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - FFmpeg reports a full disk as ENOSPC or EINVAL
            log.debug("%s: segment write failed", self.camera.key, exc_info=True)
            if writer is not None:
                writer.abort()
            raise StoreFailure(self._store_reason(exc)) from exc
        return writer

    def _finish(self, writer: SegmentWriter) -> None:
        if self.abandoned:
            writer.abort()
            return
        try:
            path = writer.finish()
        except Exception as exc:  # noqa: BLE001 - as in _write
            writer.abort()
            raise StoreFailure(self._store_reason(exc)) from exc
        if path is None:
            return
        self.status.set(segments=self.status.read().segments + 1)
        if self.uploader is not None:
            self.uploader.offer(path, self.camera.key)
        if writer.camera_offset_s is not None and writer.offset_s is not None:
            self._clock_reading(writer.started_at(), writer.camera_offset_s - writer.offset_s)

    def _clock_reading(self, at: datetime, offset: float) -> None:
        """The camera's clock minus the recorder's at a segment's first frame, stored at each connection,
        when it moves, and every ``clock_every_s`` (not every segment)."""
        now = time.monotonic()
        last = self._clock
        if last is not None and abs(offset - last[0]) <= self.options.clock_move_s \
                and now - last[1] < self.options.clock_every_s:
            return
        self._clock = (offset, now)
        self.events.put(ClockReading(self.camera.key, at, round(offset, 3)))

    def _store_reason(self, exc: Exception) -> str:
        try:
            full = shutil.disk_usage(self.root).free < FULL_BYTES
        except OSError:
            full = False
        if getattr(exc, "errno", None) == errno.ENOSPC or full:
            return "cannot write the store: no space left on the store's disk"
        text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return self.camera.scrub(f"cannot write the store: {text}")

    # -- gaps -------------------------------------------------------------------------------------
    def _open_gap(self, reason: str) -> None:
        if self.gap is None:
            start = self.status.read().last_frame_at or _now(self.camera)
            self.gap = Gap(self.camera.key, start, reason[:255])
            self.events.put(self.gap)

    def _close_gap(self) -> None:
        if self.gap is not None:
            self.events.put(Gap(self.gap.key, self.gap.start, self.gap.reason, end=_now(self.camera)))
            self.gap = None


def camera_time(packet: av.Packet) -> float | None:
    """The camera's own clock at this packet (epoch seconds), from the RTCP sender reports: FFmpeg's
    RTSP demuxer puts it on each packet once a report has come (side data "prft", wallclock in
    microseconds); None before that, and for sources without them."""
    if not packet.has_sidedata("prft"):
        return None
    data = bytes(packet.get_sidedata("prft"))
    if len(data) < 8:
        return None
    wallclock_us = struct.unpack_from("<q", data)[0]
    return wallclock_us / 1e6 if wallclock_us > 0 else None
