"""Frame sampling with PyAV, streamed: frames are yielded as they are decoded, so memory does not
grow with the length of a window.

Two grids of sample times (N per second, aligned to the epoch so overlapping windows agree): the
base grid (``fps``) over the whole window, decoded from keyframes only where they are dense enough,
and a dense grid (``dense_fps``) inside the ``dense`` intervals (the seconds around each swipe),
decoded in full from the keyframe before each interval. Each grid time takes the decoded frame
nearest it.

Outside the dense intervals only keyframe packets are read, and a keyframe is decoded only when the
grid takes it and the consumer (``PixelDemand``) will look at it: a frame whose detections the
consumer will reuse without looking (far from every swipe, soon after the last detection) is
yielded with its time and size but no pixels, and costs no decoding."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

import av
import numpy as np

from ingest.video_store import VideoStore, candidates
from rxaudit.domain import Segment
from rxaudit.errors import FootageError


class SampledFrame:
    """One sampled frame: camera-clock time (the grid time it samples), RGB image (H x W x 3),
    where it came from, and whether it is an extra frame of the dense grid near a swipe rather than
    a base-grid sample. Given a decoded ``frame`` instead of an ``image``, the RGB conversion waits
    until the image is first asked for (dense frames are often dropped unseen, and base frames far
    from a swipe often reuse the last detections without being looked at). Given only a ``size``,
    the frame has no pixels: its consumer said it would not look at it (``PixelDemand``)."""

    __slots__ = ("t", "segment_uri", "offset_s", "dense", "_image", "_frame", "_size")

    def __init__(self, t: datetime, image: np.ndarray | None, segment_uri: str, offset_s: float,
                 dense: bool = False, *, frame: av.VideoFrame | None = None,
                 size: tuple[int, int] | None = None) -> None:
        if image is None and frame is None and size is None:
            raise ValueError("a sampled frame needs an image, a decoded frame or a size")
        self.t, self.segment_uri, self.offset_s, self.dense = t, segment_uri, offset_s, dense
        self._image, self._frame, self._size = image, frame, size

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, without converting a decoded frame."""
        if self._image is not None:
            return self._image.shape[1], self._image.shape[0]
        if self._frame is not None:
            return self._frame.width, self._frame.height
        assert self._size is not None
        return self._size

    @property
    def has_pixels(self) -> bool:
        """False for a frame left undecoded because its consumer said it would not look at it."""
        return self._image is not None or self._frame is not None

    @property
    def converted(self) -> bool:
        """The RGB image exists already (asking for it costs nothing)."""
        return self._image is not None

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            if self._frame is None:
                raise LookupError(f"frame at {self.t} was not decoded: its consumer said it would "
                                  "not look at it")
            self._image, self._frame = self._frame.to_ndarray(format="rgb24"), None
        return self._image


class PixelDemand:
    """Whether the consumer of a ``FrameStream`` will look at a base-grid frame at a time: asked
    (with the consumer's state after every earlier frame) before a keyframe outside the dense
    intervals is decoded. Until the consumer sets ``ask``, every frame is decoded."""

    def __init__(self) -> None:
        self.ask: Callable[[datetime], bool] | None = None

    def __call__(self, t: datetime) -> bool:
        return self.ask is None or self.ask(t)


@dataclass
class WindowSample:
    frames: list[SampledFrame] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    decoded_s: float = 0.0  # seconds of video decoded, for the benchmark


@dataclass(frozen=True)
class SamplingPlan:
    """What to decode of a window: ``fps`` everywhere, ``dense_fps`` inside ``dense`` (epoch-second
    intervals, sorted and disjoint); ``keyframes_only`` decodes only keyframes outside ``dense``
    wherever they are dense enough for ``fps`` (else that segment is decoded in full)."""

    fps: float
    keyframes_only: bool = False
    dense: tuple[tuple[float, float], ...] = ()
    dense_fps: float = 4.0

    def pieces(self, start: float, end: float) -> list[tuple[float, float, bool]]:
        """``[start, end]`` cut into consecutive (from, to, dense) pieces."""
        out: list[tuple[float, float, bool]] = []
        pos = start
        for a, b in self.dense:
            if b < pos or a > end:
                continue
            if a > pos:
                out.append((pos, a, False))
            out.append((max(a, pos), min(b, end), True))
            pos = min(b, end)
        if pos < end or not out:
            out.append((pos, end, False))
        return out


def dense_intervals(swipes: Iterable[datetime], half_width_s: float) -> tuple[tuple[float, float], ...]:
    """``swipe +- half_width_s`` for every swipe, merged where they overlap (epoch seconds)."""
    merged: list[tuple[float, float]] = []
    for t in sorted(s.timestamp() for s in swipes):
        a, b = t - half_width_s, t + half_width_s
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)


def _grid_at(epoch: float, fps: float) -> float:
    step = 1.0 / fps
    return math.ceil(epoch / step - 1e-9) * step


class _Grid:
    """Sample times k/fps from ``start`` on; each takes the first decoded frame within half a source
    frame before it, or else the first one after it (within half a step)."""

    def __init__(self, fps: float, start: float) -> None:
        self.step = 1.0 / fps
        self.target = _grid_at(start, fps)

    def skips(self, epoch: float) -> bool:
        """A frame at ``epoch`` would leave the next grid time without any frame near it."""
        return self.target + self.step / 2 < epoch

    def take(self, epoch: float, half_frame: float, end: float) -> float | None:
        while self.target + self.step / 2 < epoch:  # no frame near this grid time: move on
            self.target += self.step
        if epoch >= self.target - half_frame and self.target <= end + 1e-6:
            t, self.target = self.target, self.target + self.step
            return t
        return None


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
    ``from_epoch`` on (a seek, not a decode from the start)."""
    with store.open(segment.uri) as fh, av.open(fh, mode="r") as container:
        decoder = _Decoder(container, segment)
        decoder.seek(from_epoch, full=not keyframes_only)

        def frames() -> Iterator[tuple[float, float, av.VideoFrame]]:
            while (item := decoder.next()) is not None:
                abs_t, rel, source = item
                frame = source if isinstance(source, av.VideoFrame) else decoder.decode_key(source)
                if frame is None:
                    return
                yield abs_t, rel, frame

        yield SegmentReader(decoder.rate, decoder.declared, frames())


class _Decoder:
    """One open segment: seek (to the keyframe at or before a time) and read, one at a time with a
    one-frame push-back, either every decoded frame or (keyframes only) the keyframe packets, each
    decoded on its own only when asked (``decode_key``)."""

    def __init__(self, container, segment: Segment) -> None:
        if not container.streams.video:
            raise FootageError(f"{segment.uri}: no video stream")
        self.container, self.seg_epoch = container, segment.start.timestamp()
        self.stream = stream = container.streams.video[0]
        stream.thread_count = 1  # single-threaded: less CPU per frame than frame threads, which every
        # seek flushes (the audit parallelises across counters instead)
        self.base = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        self.rate = float(stream.average_rate or stream.guessed_rate or 25)
        self.declared = _declared_duration(container, stream)
        self.full = True
        self.started = False
        self._frames: Iterator[av.VideoFrame | av.Packet] | None = None
        self._pending: tuple[float, float, av.VideoFrame | av.Packet] | None = None
        self.runs: list[list[float]] = []  # [first, last] seconds into the segment of each decode run

    def seek(self, epoch: float, *, full: bool) -> None:
        self.stream.codec_context.skip_frame = "DEFAULT" if full else "NONKEY"
        offset = epoch - self.seg_epoch
        if offset > 1.0 or self.started:
            self.container.seek(int((max(offset, 0.0) + self.base) / self.stream.time_base),
                                stream=self.stream, backward=True)
        self.full, self.started = full, True
        self._frames = self.container.decode(self.stream) if full else self._keyframe_packets()
        self._pending = None
        self.runs.append([])

    def _keyframe_packets(self) -> Iterator[av.Packet]:
        for packet in self.container.demux(self.stream):
            if packet.is_keyframe:
                yield packet

    def decode_key(self, packet: av.Packet) -> av.VideoFrame | None:
        """The frame of one keyframe packet (a keyframe needs no other frame); None when it cannot
        be decoded, which ends this segment's frames as a decoding error does."""
        codec = self.stream.codec_context
        try:
            frames = codec.decode(packet) + codec.decode(None)  # drain: the decoder may hold it back
        except av.error.InvalidDataError:
            frames = []
        codec.flush_buffers()  # ready for the next packet after the drain
        if not frames:
            self._frames = iter(())
            return None
        return frames[-1]

    @property
    def size(self) -> tuple[int, int]:
        return self.stream.codec_context.width, self.stream.codec_context.height

    def push_back(self, item: tuple[float, float, av.VideoFrame | av.Packet]) -> None:
        self._pending = item

    def next(self) -> tuple[float, float, av.VideoFrame | av.Packet] | None:
        """(epoch seconds, seconds into the segment, a decoded frame or, keyframes only, a keyframe
        packet not decoded yet)."""
        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        assert self._frames is not None
        try:
            for frame in self._frames:
                if frame.pts is None:
                    continue
                rel = float(frame.pts * self.stream.time_base) - self.base
                run = self.runs[-1]
                if run:
                    run[1] = rel
                else:
                    run.extend((rel, rel))
                return self.seg_epoch + rel, rel, frame
        except av.error.InvalidDataError:  # a cut or damaged file: its frames end here (the caller
            self._frames = iter(())       # reports the segment as truncated or corrupt)
        return None

    @property
    def decoded_s(self) -> float:
        return sum(run[1] - run[0] for run in self.runs if len(run) == 2)


class FrameStream:
    """Sampled frames of ``[start, end]`` (camera clock) of a counter, in time order, decoded as they
    are consumed. Unreadable segments are reported in ``problems`` and skipped (after any frames they
    gave); the caller decides from the frames it got whether each settlement is covered."""

    def __init__(self, store: VideoStore, segments: list[Segment], start: datetime, end: datetime,
                 plan: SamplingPlan, demand: PixelDemand | None = None) -> None:
        self.store, self.segments, self.start, self.end, self.plan = store, segments, start, end, plan
        self.demand = demand or PixelDemand()
        self.problems: list[str] = []
        self.decoded_s = 0.0

    def __iter__(self) -> Iterator[SampledFrame]:
        last: datetime | None = None
        for segment in candidates(self.segments, self.start, self.end):
            try:
                for frame in self._segment(segment):
                    # overlapping segments: keep the first frame per grid time
                    if last is None or frame.t - last > timedelta(microseconds=1000):
                        last = frame.t
                        yield frame
            except Exception as exc:  # noqa: BLE001 - any failure reading a segment makes it
                # unreadable, whatever layer raised it (FFmpeg, the store, the network)
                self.problems.append(f"{segment.uri}: unreadable ({exc})")
            release_freed_memory()

    def _segment(self, segment: Segment) -> Iterator[SampledFrame]:
        plan, tz = self.plan, self.start.tzinfo
        lo = max(self.start, segment.start).timestamp()
        end = self.end.timestamp()
        base, fine = _Grid(plan.fps, lo), _Grid(plan.dense_fps, lo)
        stop = end + max(base.step, fine.step) / 2
        pieces = plan.pieces(lo, end)
        with self.store.open(segment.uri) as fh, av.open(fh, mode="r") as container:
            dec = _Decoder(container, segment)
            half_frame = 0.5 / dec.rate + 1e-6
            cursor = -math.inf  # the last frame time handled: no frame is handled twice
            last_rel: float | None = None
            every_frame = not plan.keyframes_only  # decode every frame of the sparse parts too
            reached_end = False
            try:
                for k, (a, b, dense) in enumerate(pieces):
                    want_full = dense or every_frame
                    if not dec.started or want_full != dec.full:
                        dec.seek(max(a, cursor), full=want_full)
                    final = k == len(pieces) - 1
                    more = False
                    while (item := dec.next()) is not None:
                        abs_t, rel, frame = item
                        if abs_t <= cursor + 1e-6:
                            continue
                        if abs_t > stop:
                            reached_end = True
                            break
                        if not final and abs_t > b:
                            dec.push_back(item)
                            more = True
                            break
                        if not dec.full and base.skips(abs_t) and base.target <= end:
                            # keyframes too sparse for the grid: every frame of this segment
                            every_frame = True
                            dec.seek(max(a, cursor), full=True)
                            continue
                        cursor = abs_t
                        t = base.take(abs_t, half_frame, end)
                        extra = (fine.take(abs_t, half_frame, end)
                                 if dense and abs_t >= a - half_frame else None)
                        if t is None and extra is None:
                            last_rel = rel
                            continue
                        at = datetime.fromtimestamp(t if t is not None else extra, tz=tz)
                        if isinstance(frame, av.Packet):  # a keyframe outside the dense parts
                            if not self.demand(at):
                                last_rel = rel
                                yield SampledFrame(at, None, segment.uri, rel, size=dec.size)
                                continue
                            if (frame := dec.decode_key(frame)) is None:
                                break
                        last_rel = rel
                        yield SampledFrame(at, None, segment.uri, rel, dense=t is None, frame=frame)
                    if not more:  # the end of the window, or of the segment's frames
                        break
            finally:
                self.decoded_s += dec.decoded_s
            if not reached_end and dec.declared:
                wanted_until = min(end - segment.start.timestamp(), dec.declared)
                got = last_rel if last_rel is not None else 0.0
                if got < wanted_until - 1.0:
                    self.problems.append(f"{segment.uri}: truncated or corrupt (frames end at "
                                         f"{got:.1f} s of {dec.declared:.1f} s)")


@cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_freed_memory() -> None:
    """Give the pages of freed frames back to the OS (glibc). Decoded frames are large and freed
    between long-lived small observations, which leaves the heap fragmented: without this, peak RSS
    of a 12-hour span grows by ~13 MB per hour (measured by ``rxaudit bench-memory``)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def sample_window(store: VideoStore, segments: list[Segment], start: datetime, end: datetime,
                  fps: float, *, keyframes_only: bool = False,
                  dense: tuple[tuple[float, float], ...] = (), dense_fps: float = 4.0) -> WindowSample:
    """Every sampled frame of ``[start, end]`` in a list (a short window: ``FrameStream`` streams)."""
    stream = FrameStream(store, segments, start, end,
                         SamplingPlan(fps, keyframes_only=keyframes_only, dense=dense, dense_fps=dense_fps))
    frames = list(stream)
    return WindowSample(frames, stream.problems, stream.decoded_s)
