"""The vision stage: sampled frames of one counter -> Observations (persons with track ids, which
of them stand in the customer zone, and face encodings for customers, a few per track)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rxaudit.domain import Observation
from vision.appearance import describe
from vision.detectors import FaceEncoder, PersonDetector
from vision.sampler import SampledFrame, iter_batches
from vision.tracking import IouTracker
from vision.zone import in_zone


@dataclass(frozen=True)
class ObserveOptions:
    batch_size: int = 8
    faces_per_track: int = 6
    face_every_n: int = 2  # try faces on every n-th frame of a customer track
    track_min_iou: float = 0.2
    track_max_gap_s: float = 2.0


def observe_counter(frames: Sequence[SampledFrame], *, pharmacy_id: str, counter_id: str,
                    zone: Sequence[tuple[float, float]], persons: PersonDetector,
                    faces: FaceEncoder | None, options: ObserveOptions,
                    tracker: IouTracker | None = None) -> list[Observation]:
    """Frames must be in time order. A tracker passed in keeps ids across calls (one counter)."""
    tracker = tracker or IouTracker(min_iou=options.track_min_iou, max_gap_s=options.track_max_gap_s)
    face_counts: Counter[int] = Counter()
    tries: Counter[int] = Counter()
    observations: list[Observation] = []
    for batch in iter_batches(list(frames), options.batch_size):
        detected = persons.detect([f.image for f in batch])
        for frame, found in zip(batch, detected, strict=True):
            height, width = frame.image.shape[:2]
            described = [replace(p, appearance=describe(frame.image, p.box)) for p in found]
            tracked = tracker.update(frame.t, described)
            customers = tuple(i for i, p in enumerate(tracked) if in_zone(p, zone, (width, height)))
            seen_faces = []
            if faces is not None:
                for i in customers:
                    tid = tracked[i].track_id
                    assert tid is not None
                    tries[tid] += 1
                    if face_counts[tid] >= options.faces_per_track or (tries[tid] - 1) % options.face_every_n:
                        continue
                    for face in faces.faces(frame.image, [tracked[i].box])[:1]:
                        seen_faces.append(replace(face, track_id=tid))
                        face_counts[tid] += 1
            observations.append(Observation(
                pharmacy_id=pharmacy_id, counter_id=counter_id, t=frame.t, persons=tuple(tracked),
                faces=tuple(seen_faces), frame_size=(width, height), customers=customers,
            ))
    return observations
