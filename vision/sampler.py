"""Frame sampling with PyAV: seek to the keyframe before a window, decode only that window, keep
frames on a fixed time grid (N per second, aligned to the epoch so overlapping windows agree)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import av
import numpy as np

from ingest.video_store import VideoStore, candidates
from rxaudit.domain import Segment
from rxaudit.errors import FootageError


@dataclass(frozen=True, slots=True, eq=False)
class SampledFrame:
    t: datetime  # camera-clock time
    image: np.ndarray  # RGB, H x W x 3
    segment_uri: str
    offset_s: float  # seconds from the segment's start


@dataclass
class WindowSample:
    frames: list[SampledFrame] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    decoded_s: float = 0.0  # seconds of video decoded, for the benchmark


def _grid_start(start: datetime, fps: float) -> float:
    """First grid time (epoch seconds) at or after ``start``."""
    step = 1.0 / fps
    return math.ceil(start.timestamp() / step - 1e-9) * step


def _declared_duration(container, stream) -> float | None:
    if stream.duration is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


@dataclass
class SegmentReader:
    rate: float  # the stream's frames per second
    declared: float | None  # the duration the container claims, seconds
    frames: Iterator[tuple[float, float, av.VideoFrame]]  # (epoch seconds, seconds into segment, frame)


@contextmanager
def read_segment(store: VideoStore, segment: Segment, from_epoch: float, *,
                 keyframes_only: bool = False) -> Iterator[SegmentReader]:
    """Decoded frames of one segment with their camera-clock times, from the keyframe at or before
    ``from_epoch`` on (a seek, not a decode from the start). The one place PyAV is driven."""
    seg_epoch = segment.start.timestamp()
    with store.open(segment.uri) as fh, av.open(fh, mode="r") as container:
        if not container.streams.video:
            raise FootageError(f"{segment.uri}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        base = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        offset = from_epoch - seg_epoch
        if offset > 1.0:
            container.seek(int((offset + base) / stream.time_base), stream=stream, backward=True)

        def frames() -> Iterator[tuple[float, float, av.VideoFrame]]:
            for frame in container.decode(stream):
                if frame.pts is not None:
                    rel = float(frame.pts * stream.time_base) - base
                    yield seg_epoch + rel, rel, frame

        yield SegmentReader(float(stream.average_rate or stream.guessed_rate or 25),
                            _declared_duration(container, stream), frames())


def _decode_segment(store: VideoStore, segment: Segment, start: datetime, end: datetime,
                    fps: float, out: WindowSample, keyframes_only: bool = False) -> None:
    step = 1.0 / fps
    target = _grid_start(max(start, segment.start), fps)
    end_epoch = end.timestamp()
    with read_segment(store, segment, target, keyframes_only=keyframes_only) as reader:
        half_frame = 0.5 / reader.rate + 1e-6
        first = last = None
        for abs_t, rel, frame in reader.frames:
            if abs_t > end_epoch + step / 2:
                break
            first = rel if first is None else first
            last = rel
            while target + step / 2 < abs_t:  # no frame near this grid time: move on
                target += step
            # the frame nearest the grid time: the first one within half a frame before it, or after
            if abs_t >= target - half_frame and target <= end_epoch + 1e-6:
                out.frames.append(SampledFrame(
                    t=datetime.fromtimestamp(target, tz=start.tzinfo),
                    image=frame.to_ndarray(format="rgb24"),
                    segment_uri=segment.uri,
                    offset_s=rel,
                ))
                target += step
        if first is not None and last is not None:
            out.decoded_s += last - first
        declared = reader.declared
        wanted_until = min(end_epoch - segment.start.timestamp(), declared) if declared else None
        if wanted_until is not None and (last if last is not None else 0.0) < wanted_until - 1.0:
            out.problems.append(
                f"{segment.uri}: truncated or corrupt (frames end at "
                f"{0.0 if last is None else last:.1f} s of {declared:.1f} s)")


def sample_window(store: VideoStore, segments: list[Segment], start: datetime, end: datetime,
                  fps: float, *, keyframes_only: bool = False) -> WindowSample:
    """Sampled frames of ``[start, end]`` (camera clock) from a counter's segments.

    ``keyframes_only`` decodes only keyframes when they are dense enough for ``fps`` (a 1 s GOP
    at 1 fps); where they are sparser the segment is decoded in full. Unreadable segments are
    reported in ``problems`` and skipped; the caller decides from the frames it got whether each
    settlement's window is covered.
    """
    out = WindowSample()
    for segment in candidates(segments, start, end):
        try:
            if keyframes_only:
                trial = WindowSample()
                _decode_segment(store, segment, start, end, fps, trial, keyframes_only=True)
                if _dense_enough(trial, fps):
                    out.frames += trial.frames
                    out.problems += trial.problems
                    out.decoded_s += trial.decoded_s
                    continue
            _decode_segment(store, segment, start, end, fps, out)
        except Exception as exc:  # noqa: BLE001 - any failure reading a segment makes it unreadable,
            # whatever layer raised it (FFmpeg, the store, the network): unverifiable, never clean
            out.problems.append(f"{segment.uri}: unreadable ({exc})")
    out.frames.sort(key=lambda f: f.t)
    deduped: list[SampledFrame] = []
    for frame in out.frames:  # overlapping segments: keep the first frame per grid time
        if not deduped or frame.t - deduped[-1].t > timedelta(microseconds=1000):
            deduped.append(frame)
    out.frames = deduped
    return out


def _dense_enough(sample: WindowSample, fps: float) -> bool:
    """Keyframes gave (nearly) every grid point of the span they cover."""
    if len(sample.frames) < 2:
        return False
    span = (sample.frames[-1].t - sample.frames[0].t).total_seconds()
    return len(sample.frames) >= 0.9 * (span * fps + 1)


def iter_batches(frames: list[SampledFrame], size: int) -> Iterator[list[SampledFrame]]:
    for i in range(0, len(frames), size):
        yield frames[i : i + size]
