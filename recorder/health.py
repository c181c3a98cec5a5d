"""What a camera reader reports: its state, last frame, fps and bitrate, and the gaps it opens and
closes. Written by the reader thread, read by the supervisor (under a lock)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

RATE_WINDOW_S = 5.0  # fps and bitrate over the last seconds


class CameraState(StrEnum):
    RECORDING = "recording"
    STALLED = "stalled"  # connected, but no frame for stall_s
    OFFLINE = "offline"  # cannot connect, or the stream ended / dropped
    STORE_FAILING = "store_failing"  # frames come in but segments cannot be written (a full disk)
    TAMPERED = "tampered"  # black, uniform, frozen or turned away while the stream is up
    STARTING = "starting"


@dataclass(frozen=True)
class Gap:
    """Opened when recording stops; ``end`` set when the first frame is recorded again."""

    key: str
    start: datetime
    reason: str
    end: datetime | None = None


@dataclass(frozen=True)
class TamperSpan:
    """Opened when a tamper condition has lasted its hold time; ``end`` set when the picture is back."""

    key: str
    what: str
    start: datetime
    last_good_at: datetime | None = None
    end: datetime | None = None
    keyframe_before: str | None = None  # evidence-relative JPEGs (recorder.snapshots)
    keyframe_after: str | None = None
    keyframe_back: str | None = None


@dataclass(frozen=True)
class ClockReading:
    """The camera's own clock (RTCP sender reports) minus the recorder's, at a segment's first frame."""

    key: str
    at: datetime
    camera_minus_recorder_s: float
    source: str = "rtcp"


@dataclass(frozen=True)
class Snapshot:
    key: str
    stream: str  # redacted
    state: CameraState
    since: datetime
    last_frame_at: datetime | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None
    width: int | None = None
    height: int | None = None
    detail: str | None = None
    segments: int = 0


@dataclass
class CameraStatus:
    snapshot: Snapshot
    heartbeat: float = field(default_factory=time.monotonic)
    _rates: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def set(self, **changes) -> None:
        with self._lock:
            if "state" in changes and changes["state"] != self.snapshot.state:
                changes.setdefault("since", datetime.now().astimezone())
            self.snapshot = replace(self.snapshot, **changes)

    def frame(self, at: datetime, stream_s: float, size: int, width: int | None, height: int | None) -> None:
        """A frame recorded; ``stream_s`` its time in the stream (rates on stream time: frames come
        in bursts after a connection opens)."""
        self.heartbeat = time.monotonic()
        with self._lock:
            rates = self._rates
            rates.append((stream_s, size))
            while rates and rates[0][0] < stream_s - RATE_WINDOW_S:
                rates.popleft()
            span = stream_s - rates[0][0]
            fps, kbps = self.snapshot.fps, self.snapshot.bitrate_kbps
            if span >= 1.0:
                fps = (len(rates) - 1) / span
                kbps = sum(size for _, size in rates) * 8 / 1000 / (span * len(rates) / max(1, len(rates) - 1))
            changes = dict(last_frame_at=at, fps=fps, bitrate_kbps=kbps, width=width, height=height)
            if self.snapshot.state not in (CameraState.RECORDING, CameraState.TAMPERED):
                changes.update(state=CameraState.RECORDING, since=at, detail=None)
            self.snapshot = replace(self.snapshot, **changes)

    def reset_rates(self) -> None:
        with self._lock:
            self._rates.clear()
            self.snapshot = replace(self.snapshot, fps=None, bitrate_kbps=None)

    def read(self) -> Snapshot:
        with self._lock:
            return self.snapshot
