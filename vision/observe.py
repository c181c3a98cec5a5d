"""The vision stage: sampled frames of one counter -> Observations (persons with track ids, which
of them stand in the customer zone, and face encodings for customers, a few per track), streamed:
each frame is observed as it is decoded and dropped unless the caller keeps it.

Motion gating: when a frame's small grey thumbnail differs from the last frame the detector saw by
less than ``motion_threshold`` (mean absolute difference, 0-255), the detections of that frame are
reused, for at most ``motion_max_reuse_s``; nothing moved, so nobody came or went.

Far from every swipe (beyond ``exact_window_s``, the clock tolerance plus half a base step) only the
continuity of tracks matters: the detector runs at most every ``far_detect_every_s`` while a
customer stands in the zone, every ``far_idle_every_s`` while nobody does (an arrival is all that
can happen, and one near a swipe is seen there), and the detections are reused in between. Those
frames are observed when the detector runs again: where it then sees other customers, the frames
past the midpoint take the new detections, so arrivals and departures are not all placed late.

Dense frames (the extra frames the sampler decodes near a swipe, between two base-grid frames) are
held until the next base-grid frame is detected. When the customers at the two base-grid frames are
the same (same count, each box overlapping one of the other frame's), nobody came or went in
between and the held frames are dropped unobserved; otherwise those within ``exact_window_s`` of a
swipe are observed in order, so a customer's arrival or departure at the swipe is placed to the
dense rate, not the base rate (farther out a frame cannot decide a swipe; the base rate serves)."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import cv2
import numpy as np

from rxaudit.domain import Box, Observation, Person
from vision.appearance import describe
from vision.detectors import FaceEncoder, ObjectDetector, PersonDetector
from vision.sampler import PixelDemand, SampledFrame
from vision.tracking import IouTracker
from vision.zone import in_zone

THUMB = (64, 36)
MAX_HELD = 32  # dense frames held waiting for the next base-grid frame (bounded memory)


@dataclass(frozen=True)
class ObserveOptions:
    faces_per_track: int = 6
    face_every_n: int = 2  # try faces on every n-th detected frame of a customer track
    face_max_attempts: int = 8  # per track: a back turned to the camera is not tried forever
    track_min_iou: float = 0.2
    track_max_gap_s: float = 2.0
    motion_threshold: float = 0.0
    motion_max_reuse_s: float = 3.0
    goods_window_s: float = 1.5  # the counter detector runs on base frames this close to a swipe
    exact_window_s: float = 3.0  # base frames this close to a swipe always run the person detector
    far_detect_every_s: float = 6.0  # farther from every swipe, the detector runs at most this often
    far_idle_every_s: float = 12.0  # ... and this often while nobody stood in the customer zone


def thumbnail(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.int16)


class MotionGate:
    """Nothing moved: the thumbnail's mean absolute difference from the last detected frame is under
    ``threshold`` over the whole frame AND under ``CELL_FACTOR`` x ``threshold`` in every cell of a
    coarse grid over the customer zone. The per-cell test keeps a small person (an overhead camera, a
    far door) from being averaged away by a large still frame; the zone keeps staff and a burned-in
    clock from waking the detector."""

    CELLS = (8, 6)  # cells of the 64 x 36 thumbnail: 8 x 6 pixels each
    CELL_FACTOR = 4.0

    def __init__(self, threshold: float, max_reuse_s: float,
                 zone: Sequence[tuple[float, float]] | None = None) -> None:
        self.threshold, self.max_reuse_s = threshold, max_reuse_s
        self._thumb: np.ndarray | None = None
        self._at: datetime | None = None
        cols, rows = self.CELLS
        xs = [x for x, _ in zone] if zone else [0.0, 1.0]
        ys = [y for _, y in zone] if zone else [0.0, 1.0]
        cx = (np.arange(cols) + 0.5) / cols
        cy = (np.arange(rows) + 0.5) / rows
        self._cells = ((cy[:, None] >= min(ys)) & (cy[:, None] <= max(ys))
                       & (cx[None, :] >= min(xs)) & (cx[None, :] <= max(xs)))
        if not self._cells.any():
            self._cells[:] = True

    def _moved(self, thumb: np.ndarray, ref: np.ndarray) -> bool:
        diff = np.abs(thumb - ref).astype(np.float32)
        if float(diff.mean()) >= self.threshold:
            return True
        cells = cv2.resize(diff, self.CELLS, interpolation=cv2.INTER_AREA)
        return bool((cells[self._cells] >= self.CELL_FACTOR * self.threshold).any())

    def still(self, image: np.ndarray, t: datetime) -> bool:
        """True when nothing moved since the last detected frame (and it is recent enough)."""
        if self.threshold <= 0:
            return False
        thumb = thumbnail(image)
        if (self._thumb is not None and self._at is not None
                and (t - self._at).total_seconds() <= self.max_reuse_s
                and not self._moved(thumb, self._thumb)):
            return True
        self._thumb, self._at = thumb, t
        return False


def same_customers(a: Sequence[Box], b: Sequence[Box], min_iou: float) -> bool:
    """The same number of customer boxes, each of ``b`` overlapping a different one of ``a``."""
    if len(a) != len(b):
        return False
    free = list(a)
    for box in b:
        best = max(free, key=box.iou, default=None)
        if best is None or box.iou(best) < min_iou:
            return False
        free.remove(best)
    return True


class _Observer:
    """The per-counter state of the stage: tracker, motion gate, face quotas, statistics."""

    def __init__(self, *, pharmacy_id: str, counter_id: str, zone: Sequence[tuple[float, float]],
                 persons: PersonDetector, faces: FaceEncoder | None, options: ObserveOptions,
                 tracker: IouTracker, stats: Counter, objects: ObjectDetector | None,
                 swipes: Sequence[datetime]) -> None:
        self.pharmacy_id, self.counter_id, self.zone = pharmacy_id, counter_id, zone
        self.persons, self.faces, self.objects, self.options = persons, faces, objects, options
        self.tracker, self.stats = tracker, stats
        self.swipes = sorted(t.timestamp() for t in swipes)
        self.gate = MotionGate(options.motion_threshold, options.motion_max_reuse_s, zone)
        self.face_counts: Counter[int] = Counter()
        self.tries: Counter[int] = Counter()
        self.face_attempts: Counter[int] = Counter()
        self.last: list[Person] = []
        self.observed = 0
        self.customer_seen = False  # a customer stood in the zone at the last observed frame
        self.detected_at: datetime | None = None

    def _timed(self, key: str, start: float) -> None:
        self.stats[key] += time.process_time() - start

    def image(self, frame: SampledFrame) -> np.ndarray:
        """The frame's RGB image; converting it (the first time) counts as decoding."""
        if frame.converted:
            return frame.image
        c0 = time.process_time()
        image = frame.image
        self._timed("cpu_decode_s", c0)
        return image

    def _far(self, t: datetime) -> bool:
        return bool(self.observed) and self.swipe_distance(t) > self.options.exact_window_s

    def _recent(self, t: datetime) -> bool:
        """Far from the swipes the detector ran less than ``far_detect_every_s`` ago (while a
        customer stood in the zone; else ``far_idle_every_s``)."""
        every = self.options.far_detect_every_s  # 0: every frame, whoever stands there
        if every > 0 and not self.customer_seen:
            every = max(every, self.options.far_idle_every_s)
        return (every > 0 and self.detected_at is not None
                and (t - self.detected_at).total_seconds() < every - 1e-6)

    def needs_pixels(self, t: datetime) -> bool:
        """Whether a base frame at ``t`` will be looked at (the sampler's ``PixelDemand``): not when
        its detections will be reused unseen (far from the swipes, soon after the last detection)
        and no counter-detector run is due on it."""
        if self.objects is not None and self._near_swipe(t):
            return True
        return not (self._far(t) and self._recent(t))

    def detect(self, frame: SampledFrame, *, gated: bool = True) -> tuple[list[Person], bool]:
        """(persons with appearance, reused): the detector's, or the last ones when nothing moved
        (never near a swipe: presence there is what the audit decides)."""
        if gated and self._far(frame.t):
            # far from the swipes only the continuity of tracks matters: a low detection rate, and
            # none while nothing moves
            if self._recent(frame.t) or self.gate.still(self.image(frame), frame.t):
                return self.last, True
        self.detected_at = frame.t
        image = self.image(frame)
        c0 = time.process_time()
        found = self.persons.detect([image])[0]
        described = [replace(p, appearance=describe(image, p.box)) for p in found]
        self._timed("cpu_person_s", c0)
        self.stats["detector_runs"] += 1
        return described, False

    def customer_boxes(self, frame: SampledFrame, found: Sequence[Person]) -> list[Box]:
        return [p.box for p in found if in_zone(p, self.zone, frame.size)]

    def swipe_distance(self, t: datetime) -> float:
        """Seconds to the nearest swipe (infinite when there is none)."""
        x = t.timestamp()
        i = bisect_left(self.swipes, x)
        return min((abs(x - self.swipes[j]) for j in (i - 1, i) if 0 <= j < len(self.swipes)),
                   default=float("inf"))

    def _near_swipe(self, t: datetime) -> bool:
        return self.swipe_distance(t) <= self.options.goods_window_s

    def observe(self, frame: SampledFrame, found: list[Person], reused: bool) -> Observation:
        width, height = frame.size  # a frame whose detections are reused is never converted
        tracked = self.tracker.update(frame.t, found)
        self.last = tracked
        self.observed += 1
        customers = tuple(i for i, p in enumerate(tracked) if in_zone(p, self.zone, (width, height)))
        self.customer_seen = bool(customers)
        seen_faces = []
        if self.faces is not None and not reused:
            c0 = time.process_time()
            for i in customers:
                tid = tracked[i].track_id
                assert tid is not None
                self.tries[tid] += 1
                if (self.face_counts[tid] >= self.options.faces_per_track
                        or (self.tries[tid] - 1) % self.options.face_every_n
                        or self.face_attempts[tid] >= self.options.face_max_attempts):
                    continue
                self.face_attempts[tid] += 1
                self.stats["face_attempts"] += 1
                for face in self.faces.faces(self.image(frame), [tracked[i]])[:1]:
                    seen_faces.append(replace(face, track_id=tid))
                    self.face_counts[tid] += 1
                    self.stats["face_encodings"] += 1
            self._timed("cpu_faces_s", c0)
        found_objects: tuple = ()
        checked = False
        if self.objects is not None and not frame.dense and self._near_swipe(frame.t):
            image = self.image(frame)
            c0 = time.process_time()
            found_objects = tuple(self.objects.detect([image])[0])
            self._timed("cpu_objects_s", c0)
            checked = True
            self.stats["object_runs"] += 1
        return Observation(
            pharmacy_id=self.pharmacy_id, counter_id=self.counter_id, t=frame.t,
            # the colour histogram only serves the tracker: not kept for the rest of the audit
            persons=tuple(replace(p, appearance=None) for p in tracked),
            faces=tuple(seen_faces), objects=found_objects, objects_checked=checked,
            frame_size=(width, height), customers=customers,
        )


def observe_stream(frames: Iterable[SampledFrame], *, pharmacy_id: str, counter_id: str,
                   zone: Sequence[tuple[float, float]], persons: PersonDetector,
                   faces: FaceEncoder | None, options: ObserveOptions,
                   tracker: IouTracker | None = None, stats: Counter | None = None,
                   objects: ObjectDetector | None = None, swipes: Sequence[datetime] = (),
                   demand: PixelDemand | None = None) -> Iterator[tuple[SampledFrame, Observation]]:
    """(frame, observation) for each frame observed, in time order, as the frames arrive (they must
    be in time order). A tracker passed in keeps ids across calls (one counter). ``objects``
    (cards, phones, goods) runs only on base-grid frames within ``goods_window_s`` of a swipe.
    ``demand``: the ``FrameStream``'s, told which base frames this stage will look at (the others
    need not be decoded; they are observed with the reused detections)."""
    tracker = tracker or IouTracker(min_iou=options.track_min_iou, max_gap_s=options.track_max_gap_s)
    stats = stats if stats is not None else Counter()
    me = _Observer(pharmacy_id=pharmacy_id, counter_id=counter_id, zone=zone, persons=persons,
                   faces=faces, options=options, tracker=tracker, stats=stats, objects=objects,
                   swipes=swipes)
    if demand is not None:
        demand.ask = me.needs_pixels
    held: list[SampledFrame] = []
    before: list[Box] | None = None  # customer boxes at the last base-grid frame
    # far base frames whose detections were reused, observed once the detector runs again
    pending: list[tuple[SampledFrame, list[Person]]] = []

    def settle(middle: datetime | None = None, found_then: list[Person] | None = None
               ) -> Iterator[tuple[SampledFrame, Observation]]:
        """Observe the frames that reused the last detections; those from ``middle`` on take
        ``found_then``, the detections of the run after them."""
        for waiting, reused_found in pending:
            late = middle is not None and found_then is not None and waiting.t >= middle
            yield waiting, me.observe(waiting, found_then if late else reused_found, True)
        pending.clear()

    def flush() -> Iterator[tuple[SampledFrame, Observation]]:
        yield from settle()
        for dense in held:
            if me.swipe_distance(dense.t) > options.exact_window_s:
                continue  # beyond the clock tolerance it cannot decide a swipe: the base rate will do
            found, _ = me.detect(dense, gated=False)
            stats["dense_observed"] += 1
            yield dense, me.observe(dense, found, False)
        held.clear()

    for frame in frames:
        if frame.dense:
            held.append(frame)
            stats["dense_frames"] += 1
            if len(held) >= MAX_HELD:
                yield from flush()
                before = None
            continue
        previous_run = me.detected_at
        found, reused = me.detect(frame)
        boxes = me.customer_boxes(frame, found)
        if pending and not reused and previous_run is not None and before is not None \
                and not same_customers(before, boxes, options.track_min_iou):
            # someone came or went between the two runs around the reused frames: place it at their
            # midpoint, not at the later run (which would shift every visit late by half the far
            # detection interval, and the clock-offset estimate with it)
            yield from settle(previous_run + (frame.t - previous_run) / 2, found)
        if held:
            if before is not None and same_customers(before, boxes, options.track_min_iou):
                held.clear()  # nobody came or went between the two base frames
            else:
                yield from flush()
        before = boxes
        if reused and len(pending) < MAX_HELD:
            pending.append((frame, found))
            continue
        yield from settle()
        yield frame, me.observe(frame, found, reused)
    yield from flush()


def observe_counter(frames: Iterable[SampledFrame], **kwargs) -> list[Observation]:
    """Every observation of ``observe_stream`` in a list (tests, short windows)."""
    return [obs for _, obs in observe_stream(frames, **kwargs)]
