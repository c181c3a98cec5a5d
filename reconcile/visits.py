"""Visits (one continuous presence of one track in the customer zone) and identity per visit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from rxaudit.domain import Box, Observation, Visit


def visit_identity(encodings: Sequence[np.ndarray], *, min_faces: int,
                   max_spread: float) -> np.ndarray | None:
    """Mean face encoding of a visit, decided over several frames.

    Encodings far from the visit's median (a face of a passer-by, a bad detection) are dropped;
    fewer than ``min_faces`` consistent encodings give no identity rather than a guess.
    """
    if len(encodings) < min_faces:
        return None
    stack = np.stack(encodings)
    median = np.median(stack, axis=0)
    keep = stack[np.linalg.norm(stack - median, axis=1) <= max_spread]
    if len(keep) < min_faces:
        return None
    return keep.mean(axis=0).astype(np.float32)


def build_visits(observations: Sequence[Observation], *, max_gap_s: float, min_faces: int,
                 max_face_spread: float) -> list[Visit]:
    """Observations of one counter, in time order -> visits, ordered by start."""
    sightings: dict[int, list[tuple[datetime, Box]]] = defaultdict(list)
    faces: dict[int, list[tuple[datetime, np.ndarray]]] = defaultdict(list)
    key = None
    for obs in observations:
        key = (obs.pharmacy_id, obs.counter_id)
        for i in obs.customers:
            person = obs.persons[i]
            if person.track_id is not None:
                sightings[person.track_id].append((obs.t, person.box))
        for face in obs.faces:
            if face.track_id is not None and face.encoding is not None:
                faces[face.track_id].append((obs.t, face.encoding))
    if key is None:
        return []
    visits: list[Visit] = []
    for track_id, seen in sightings.items():
        runs: list[list[tuple[datetime, Box]]] = [[seen[0]]]
        for t, box in seen[1:]:
            if (t - runs[-1][-1][0]).total_seconds() > max_gap_s:
                runs.append([])
            runs[-1].append((t, box))
        for run in runs:
            start, end = run[0][0], run[-1][0]
            encs = [e for t, e in faces[track_id] if start <= t <= end]
            visits.append(Visit(
                pharmacy_id=key[0], counter_id=key[1], track_id=track_id, start=start, end=end,
                sightings=tuple(run),
                identity=visit_identity(encs, min_faces=min_faces, max_spread=max_face_spread),
                face_count=len(encs),
            ))
    return sorted(visits, key=lambda v: (v.start, v.track_id))
