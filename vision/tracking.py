"""A small tracker for sparse sampling (2-4 fps) of people at a counter.

Kept libraries (supervision's ByteTrack) assume video-rate frames, where motion alone links
detections, and pull the GUI build of OpenCV. At counter sampling rates the queued customer who
steps forward lands where the leaving one stood, so IoU alone swaps them: matching here needs
both overlap and a similar appearance (upper-body colour histogram, ``vision.appearance``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from rxaudit.domain import Box, Person
from vision.appearance import similarity


@dataclass
class _Track:
    track_id: int
    box: Box
    last_seen: datetime
    appearance: np.ndarray | None


class IouTracker:
    def __init__(self, *, min_iou: float = 0.2, max_gap_s: float = 2.0,
                 min_similarity: float = 0.6, momentum: float = 0.7) -> None:
        self.min_iou = min_iou
        self.max_gap_s = max_gap_s
        self.min_similarity = min_similarity
        self.momentum = momentum
        self._tracks: list[_Track] = []
        self._next_id = 1

    def _score(self, track: _Track, person: Person) -> float | None:
        iou = track.box.iou(person.box)
        if iou < self.min_iou:
            return None
        sim = similarity(track.appearance, person.appearance)
        if sim is None:
            return iou
        if sim < self.min_similarity:
            return None
        return iou + sim

    def update(self, t: datetime, persons: list[Person]) -> list[Person]:
        """The same persons with ``track_id`` set; call with frames in time order."""
        live = [tr for tr in self._tracks if (t - tr.last_seen).total_seconds() <= self.max_gap_s]
        pairs = []
        for ti, track in enumerate(live):
            for pi, person in enumerate(persons):
                score = self._score(track, person)
                if score is not None:
                    pairs.append((score, ti, pi))
        assigned: dict[int, int] = {}
        used: set[int] = set()
        for _, ti, pi in sorted(pairs, reverse=True):
            if ti in used or pi in assigned:
                continue
            track, person = live[ti], persons[pi]
            assigned[pi] = track.track_id
            used.add(ti)
            track.box, track.last_seen = person.box, t
            if track.appearance is not None and person.appearance is not None:
                track.appearance = (self.momentum * track.appearance
                                    + (1 - self.momentum) * person.appearance)
            elif person.appearance is not None:
                track.appearance = person.appearance
        out = []
        for pi, person in enumerate(persons):
            if pi not in assigned:
                assigned[pi] = self._next_id
                live.append(_Track(self._next_id, person.box, t, person.appearance))
                self._next_id += 1
            out.append(replace(person, track_id=assigned[pi]))
        self._tracks = live
        return out
