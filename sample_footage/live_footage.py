"""A demo camera's footage: one MP4 per counter that, played from its start, shows at each moment the
sample bundle's footage for the bundle time :class:`~sample_footage.replay.Replay` maps that moment to,
so a swipe pushed at wall time T (its bundle time shifted to T) meets the customer of its cluster.

The file starts at stream time 0 = the replay's ``start - lead_s`` and lasts ``seconds``. Frame k
shows bundle (true) time ``replay.bundle(start - lead + k / fps)`` plus the counter's camera offset (the
bundle's segments are named on the camera clock): its frame from the bundle's segment holding that
time, or, where the bundle recorded nothing at that counter, the counter's empty scene (the cashier,
the on-screen clock). Every frame gets a slow drift of light (as a real camera's gain and noise), so
that the recorder's tamper watch does not take a quiet counter for a frozen picture (the bundle's own
renders of an empty counter are the same picture for minutes). Encoded as the bundle's cameras encode (``generator.write_segment``'s
codec and options, a keyframe every second). Deterministic: the same bundle and replay give the same file.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np

from ingest.video_store import parse_segment_name
from sample_footage.generator import CAMERAS, DEFAULT_CAMERA
from sample_footage.replay import Replay
from sample_footage.scene import HEIGHT, WIDTH, Appearance, Backdrop, render

LIGHT_PERIOD_S = 23.0  # the picture's light drifts over this period...
FOOTAGE_VERSION = 2  # in the demo files' cache key: files made by an older version are made again
LIGHT_DEPTH = 0.06  # ...by this share of its brightness


@dataclass(frozen=True)
class CounterCamera:
    pharmacy_id: str
    counter_id: str
    codec: str  # libx264 | libx265 (the bundle's camera for this counter)
    fps: int
    offset_s: float  # the camera clock minus true time (the bundle's footage is named on the camera clock)

    @property
    def mount(self) -> str:
        return f"{self.pharmacy_id}_{self.counter_id}"

    @property
    def file_name(self) -> str:
        return f"{self.mount}.h265.mp4" if self.codec == "libx265" else f"{self.mount}.mp4"


def bundle_cameras(bundle: Path, expected: dict) -> list[CounterCamera]:
    """Every counter of the bundle with footage, with its camera's codec, rate and true clock offset."""
    pharmacies = sorted({p.name for p in (bundle / "videos").iterdir() if p.is_dir()})
    order = _pharmacy_order(bundle)
    out = []
    for pharmacy in pharmacies:
        for folder in sorted(p for p in (bundle / "videos" / pharmacy).iterdir() if p.is_dir()):
            if not any(folder.glob("*.mp4")):
                continue
            codec, fps, _ = CAMERAS.get((order.get(pharmacy, -1), folder.name), DEFAULT_CAMERA)
            offset = expected.get("clock_offsets", {}).get(f"{pharmacy}/{folder.name}", {}).get("true_s", 0.0)
            out.append(CounterCamera(pharmacy, folder.name, codec, fps, float(offset)))
    return out


def _pharmacy_order(bundle: Path) -> dict[str, int]:
    import csv

    with (bundle / "pharmacies.csv").open(newline="", encoding="utf-8") as fh:
        return {row["pharmacy_id"]: k for k, row in enumerate(csv.DictReader(fh))}


class _Source:
    """The bundle's frames of one counter, read forward: ``frame(at)`` is the frame shown at camera time
    ``at`` or None where no segment holds it."""

    def __init__(self, folder: Path) -> None:
        self.segments = sorted((start, path) for path in folder.glob("*.mp4")
                               if (start := parse_segment_name(path.name)) is not None)
        self._open: tuple[Path, Iterator[tuple[float, np.ndarray]]] | None = None
        self._current: tuple[float, np.ndarray] | None = None  # (epoch, image) last decoded
        self._next: tuple[float, np.ndarray] | None = None

    def _frames(self, start: datetime, path: Path) -> Iterator[tuple[float, np.ndarray]]:
        """The segment's frames; a damaged one (a bundle plants corrupt and truncated clips) ends where
        it stops decoding: the camera then shows what it shows where the bundle has no footage."""
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    yield start.timestamp() + float(frame.pts * stream.time_base), frame.to_ndarray(format="rgb24")
        except (av.error.FFmpegError, IndexError):
            return

    def frame(self, at: datetime, fps: int) -> np.ndarray | None:
        t = at.timestamp()
        k = max(0, np.searchsorted([s.timestamp() for s, _ in self.segments], t, side="right") - 1)
        if not self.segments or t < self.segments[k][0].timestamp():
            return None
        start, path = self.segments[k]
        if self._open is None or self._open[0] != path:
            self._open, self._current, self._next = (path, self._frames(start, path)), None, None
        half = 0.5 / fps
        while True:
            if self._next is None:
                self._next = next(self._open[1], None)
                if self._next is None:  # past the segment's end
                    return self._current[1] if self._current and t - self._current[0] < 0.999 / fps else None
            if self._next[0] > t + half:
                return self._current[1] if self._current is not None else None
            self._current, self._next = self._next, None


def light(at: datetime) -> float:
    """The picture's brightness factor at camera time ``at`` (a slow drift, as a real camera's gain)."""
    return 1.0 + LIGHT_DEPTH * math.sin(2 * math.pi * at.timestamp() / LIGHT_PERIOD_S)


def lit(image: np.ndarray, at: datetime) -> np.ndarray:
    return np.clip(image.astype(np.float32) * light(at), 0, 255).astype(np.uint8)


def empty_scene(backdrop: Backdrop, at: datetime, fps: int) -> np.ndarray:
    cashier = Appearance("cashier", -1e5, 1e5, 565, depth=0.3)
    return render(backdrop, [cashier], at.timestamp(), fps, at, ())


def write_demo_footage(bundle: Path, camera: CounterCamera, replay: Replay, stream_start: datetime,
                       seconds: float, out: Path, seed: int) -> dict[str, int]:
    """The counter's demo MP4 (``out``): stream time 0 is wall time ``stream_start``. Returns the count of
    frames taken from the bundle and of empty-scene frames."""
    source = _Source(bundle / "videos" / camera.pharmacy_id / camera.counter_id)
    backdrop = Backdrop(random.Random(f"{seed}-{(camera.pharmacy_id, camera.counter_id)}"))
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = {"bundle": 0, "empty": 0}
    aside = out.with_name(out.name + ".part")
    with av.open(str(aside), "w", format="mp4", container_options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(camera.codec, rate=camera.fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        if camera.codec == "libx264":
            stream.options = {"g": str(camera.fps), "sc_threshold": "0", "preset": "ultrafast", "crf": "27"}
        else:
            stream.options = {"preset": "ultrafast", "crf": "30", "x265-params":
                              f"keyint={camera.fps}:min-keyint={camera.fps}:scenecut=0:log-level=error"}
        tz = stream_start.tzinfo
        for k in range(int(round(seconds * camera.fps))):
            wall = stream_start + timedelta(seconds=k / camera.fps)
            at = replay.bundle(wall) + timedelta(seconds=camera.offset_s)
            image = source.frame(at, camera.fps)
            if image is None:
                image = empty_scene(backdrop, at.astimezone(tz), camera.fps)
                counts["empty"] += 1
            else:
                counts["bundle"] += 1
            image = lit(image, at)  # never the same picture for a minute: the recorder's frozen check
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    aside.replace(out)
    return counts
