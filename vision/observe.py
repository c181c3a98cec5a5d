"""The vision stage: sampled frames of one counter -> Observations (persons with track ids, which
of them stand in the customer zone, and face encodings for customers, a few per track).

Motion gating: when a frame's small grey thumbnail differs from the last frame the detector saw by
less than ``motion_threshold`` (mean absolute difference, 0-255), the detections of that frame are
reused, for at most ``motion_max_reuse_s``; nothing moved, so nobody came or went."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import cv2
import numpy as np

from rxaudit.domain import Observation, Person
from vision.appearance import describe
from vision.detectors import FaceEncoder, ObjectDetector, PersonDetector
from vision.sampler import SampledFrame
from vision.tracking import IouTracker
from vision.zone import in_zone

THUMB = (64, 36)


@dataclass(frozen=True)
class ObserveOptions:
    faces_per_track: int = 6
    face_every_n: int = 2  # try faces on every n-th detected frame of a customer track
    face_max_attempts: int = 8  # per track: a back turned to the camera is not tried forever
    track_min_iou: float = 0.2
    track_max_gap_s: float = 2.0
    motion_threshold: float = 0.0
    motion_max_reuse_s: float = 3.0
    goods_window_s: float = 2.0  # the counter detector runs on frames this close to a swipe


def thumbnail(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.int16)


class MotionGate:
    def __init__(self, threshold: float, max_reuse_s: float) -> None:
        self.threshold, self.max_reuse_s = threshold, max_reuse_s
        self._thumb: np.ndarray | None = None
        self._at: datetime | None = None

    def still(self, image: np.ndarray, t: datetime) -> bool:
        """True when nothing moved since the last detected frame (and it is recent enough)."""
        if self.threshold <= 0:
            return False
        thumb = thumbnail(image)
        if (self._thumb is not None and self._at is not None
                and (t - self._at).total_seconds() <= self.max_reuse_s
                and float(np.abs(thumb - self._thumb).mean()) < self.threshold):
            return True
        self._thumb, self._at = thumb, t
        return False


def observe_counter(frames: Sequence[SampledFrame], *, pharmacy_id: str, counter_id: str,
                    zone: Sequence[tuple[float, float]], persons: PersonDetector,
                    faces: FaceEncoder | None, options: ObserveOptions,
                    tracker: IouTracker | None = None, stats: Counter | None = None,
                    objects: ObjectDetector | None = None,
                    swipes: Sequence[datetime] = ()) -> list[Observation]:
    """Frames must be in time order. A tracker passed in keeps ids across calls (one counter).
    ``objects`` (cards, phones, goods) runs only on frames within ``goods_window_s`` of a swipe."""
    tracker = tracker or IouTracker(min_iou=options.track_min_iou, max_gap_s=options.track_max_gap_s)
    stats = stats if stats is not None else Counter()
    gate = MotionGate(options.motion_threshold, options.motion_max_reuse_s)
    face_counts: Counter[int] = Counter()
    tries: Counter[int] = Counter()
    face_attempts: Counter[int] = Counter()
    observations: list[Observation] = []
    last: list[Person] = []
    for frame in frames:
        height, width = frame.image.shape[:2]
        reused = bool(observations) and gate.still(frame.image, frame.t)
        if reused:
            tracked = tracker.update(frame.t, last)
        else:
            found = persons.detect([frame.image])[0]
            stats["detector_runs"] += 1
            described = [replace(p, appearance=describe(frame.image, p.box)) for p in found]
            tracked = tracker.update(frame.t, described)
        last = tracked
        customers = tuple(i for i, p in enumerate(tracked) if in_zone(p, zone, (width, height)))
        seen_faces = []
        if faces is not None and not reused:
            for i in customers:
                tid = tracked[i].track_id
                assert tid is not None
                tries[tid] += 1
                if (face_counts[tid] >= options.faces_per_track or (tries[tid] - 1) % options.face_every_n
                        or face_attempts[tid] >= options.face_max_attempts):
                    continue
                face_attempts[tid] += 1
                stats["face_attempts"] += 1
                for face in faces.faces(frame.image, [tracked[i].box])[:1]:
                    seen_faces.append(replace(face, track_id=tid))
                    face_counts[tid] += 1
                    stats["face_encodings"] += 1
        found_objects: tuple = ()
        checked = False
        if objects is not None and any(abs((frame.t - t).total_seconds()) <= options.goods_window_s
                                       for t in swipes):
            found_objects = tuple(objects.detect([frame.image])[0])
            checked = True
            stats["object_runs"] += 1
        observations.append(Observation(
            pharmacy_id=pharmacy_id, counter_id=counter_id, t=frame.t, persons=tuple(tracked),
            faces=tuple(seen_faces), objects=found_objects, objects_checked=checked, frame_size=(width, height),
            customers=customers,
        ))
    return observations
