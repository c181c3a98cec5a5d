"""What a reader does with the pictures, apart from copying them: at a keyframe now and then (never
every frame) it decodes that keyframe alone, once, for whoever needs it:

- the wall's snapshot of the counter, every ``snapshot_s`` (a keyframe at least that long after the
  last one: with a GOP longer than ``snapshot_s`` a snapshot per keyframe), a JPEG at most
  :data:`~recorder.snapshots.SNAPSHOT_MAX_WIDTH` wide, replaced atomically;
- the tamper check, every ``tamper.every_s`` (on the next snapshot's keyframe when snapshots are more
  frequent, so that both share the decode); when a span starts, the last good picture and the
  first tampered one go into the evidence directory, and the first good one again when it ends."""

from __future__ import annotations

import logging
import queue
from dataclasses import replace
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from recorder.health import CameraState, CameraStatus, TamperSpan
from recorder.snapshots import JPEG_QSCALE, SNAPSHOT_MAX_WIDTH, save_tamper_keyframe, write_snapshot
from recorder.sources import Camera
from recorder.tamper import THUMB, TamperOptions, TamperWatch

log = logging.getLogger("rxaudit.recorder")


def decode_keyframe(stream, packet: av.Packet) -> av.VideoFrame | None:
    """The keyframe decoded alone (a decoder of its own, flushed)."""
    try:
        decoder = av.CodecContext.create(stream.codec_context.name, "r")
        decoder.thread_count = 1  # one frame: no decoding threads to start and stop
        if stream.codec_context.extradata:
            decoder.extradata = stream.codec_context.extradata
        frames = list(decoder.decode(av.Packet(bytes(packet)))) + list(decoder.decode(None))
    except av.FFmpegError:
        return None
    return frames[0] if frames else None


def thumbnail(frame: av.VideoFrame) -> np.ndarray:
    """The small grey picture the tamper checks judge."""
    return frame.reformat(width=THUMB[0], height=THUMB[1], format="gray").to_ndarray()


def jpeg(frame: av.VideoFrame, max_width: int = SNAPSHOT_MAX_WIDTH) -> bytes:
    """A JPEG at most ``max_width`` wide, by FFmpeg's own encoder from the decoded YUV (no RGB step:
    about half the cost of going through Pillow)."""
    width, height = frame.width, frame.height
    if width > max_width:
        width, height = max_width, max(2, round(height * max_width / width / 2) * 2)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.thread_count = 1
    encoder.options = {"qscale": str(JPEG_QSCALE)}
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    return b"".join(bytes(packet) for packet in encoder.encode(picture)) + \
        b"".join(bytes(packet) for packet in encoder.encode(None))


class Looks:
    def __init__(self, camera: Camera, events: queue.Queue, status: CameraStatus, *,
                 tamper: TamperOptions | None, snapshot_dir: Path | None, snapshot_s: float,
                 evidence_dir: Path | None) -> None:
        self.camera, self.events, self.status = camera, events, status
        self.watch = TamperWatch(tamper) if tamper is not None else None
        self.snapshot_dir, self.snapshot_s, self.evidence_dir = snapshot_dir, snapshot_s, evidence_dir
        self._last_look: float | None = None
        self._last_snapshot: float | None = None
        self._good_jpeg: bytes | None = None  # the last look at a normal picture
        self._bad_jpeg: bytes | None = None  # the first look of the condition now under way
        self.decoded = self.snapshots = 0

    def reset(self) -> None:
        """A new connection: stream times start over."""
        self._last_look = self._last_snapshot = None
        if self.watch is not None:
            self.watch.reset()

    def keyframe(self, stream, packet: av.Packet, t: float, at: datetime, frame_s: float) -> None:
        """``t``: the keyframe's stream time; ``at``: the recorder's clock when it came in."""
        snap = self.snapshot_dir is not None and (
            self._last_snapshot is None or t - self._last_snapshot >= self.snapshot_s - frame_s / 2)
        look = self.watch is not None and (
            self._last_look is None or t - self._last_look >= self.watch.options.every_s - frame_s / 2)
        if look and not snap and self.snapshot_dir is not None and self.snapshot_s <= self.watch.options.every_s:
            look = False  # the next snapshot's keyframe serves both: one decode, one JPEG
        if not (snap or look):
            return
        frame = decode_keyframe(stream, packet)
        if frame is None:
            return
        self.decoded += 1
        picture = jpeg(frame) if snap or self.evidence_dir is not None else None
        if snap:
            self._last_snapshot = t
            try:
                write_snapshot(self.snapshot_dir, self.camera.pharmacy_id, self.camera.counter_id, picture, at)
                self.snapshots += 1
            except OSError as exc:  # a snapshot failing never stops recording
                log.error("%s: cannot write the snapshot: %s", self.camera.key, exc.strerror or type(exc).__name__)
        if look:
            self._last_look = t
            self._look(thumbnail(frame), at, picture)

    def _look(self, thumb: np.ndarray, at: datetime, picture: bytes | None) -> None:
        watch = self.watch
        last_good, was = watch.last_good, watch.current
        change = watch.look(thumb, at)
        if watch.current is None:
            self._good_jpeg, self._bad_jpeg = picture, None
        elif watch.current != was:
            self._bad_jpeg = picture
        if change is None:
            return
        edge, what, when = change
        if edge == "start":
            span = TamperSpan(self.camera.key, str(what), when, last_good)
            span = replace(span, keyframe_before=self._save(when, "before", self._good_jpeg),
                           keyframe_after=self._save(when, "after", self._bad_jpeg))
            self.events.put(span)
            self.status.set(state=CameraState.TAMPERED, since=when, detail=what.reason)
            log.warning("%s: tampered: %s since %s", self.camera.key, what.reason, when.isoformat())
        else:
            start = watch.span_start or when
            self.events.put(TamperSpan(self.camera.key, str(what), start, end=when,
                                       keyframe_back=self._save(start, "back", picture)))
            self.status.set(state=CameraState.RECORDING, since=when, detail=None)

    def _save(self, span_start: datetime, label: str, picture: bytes | None) -> str | None:
        if self.evidence_dir is None or picture is None:
            return None
        try:
            return save_tamper_keyframe(self.evidence_dir, self.camera.pharmacy_id, self.camera.counter_id,
                                        span_start, label, picture)
        except OSError as exc:
            log.error("%s: cannot save a tamper keyframe: %s", self.camera.key, exc.strerror or type(exc).__name__)
            return None

    def end_tamper(self, end: datetime) -> None:
        """The stream went down: a tampered span ends with the last frame (the gap takes over)."""
        if self.watch is not None and self.watch.active is not None:
            self.events.put(TamperSpan(self.camera.key, str(self.watch.active), self.watch.span_start or end,
                                       end=end))
            self.watch.active = None
