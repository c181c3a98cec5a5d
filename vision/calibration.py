"""Face tracks and distance statistics on real footage: the clips' frames (:func:`gif_frames`), faces
found by YuNet linked into tracks by position, and the error rates, AUC and threshold of two sets
of distances. The calibration per visit (``rxaudit calibrate-faces``) is ``training.face_calibration``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image


CLIPS = {"male": "head-pose-face-detection-male.gif", "female": "head-pose-face-detection-female.gif",
         "classroom": "classroom.gif", "store_aisle": "store-aisle-detection.gif"}


def gif_frames(path: Path) -> list[np.ndarray]:
    gif = Image.open(path)
    frames = []
    for index in range(gif.n_frames):
        gif.seek(index)
        frames.append(np.array(gif.convert("RGB")))
    return frames


def _scaled(frame: np.ndarray, scale: float) -> np.ndarray:
    return frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def encodings_per_frame(frames: list[np.ndarray], scale: float, encoder=None) -> list[np.ndarray]:
    """The first face's encoding in each frame where one is found (``encoder``: a
    ``vision.faces.FaceFinder``; default: the configured one)."""
    from rxaudit.domain import Box

    if encoder is None:
        from rxaudit.settings import Settings
        from vision.faces import face_encoder_from_settings

        encoder = face_encoder_from_settings(Settings())
    out = []
    for frame in frames:
        frame = _scaled(frame, scale)
        h, w = frame.shape[:2]
        faces = encoder.faces(frame, [Box(0, 0, w - 1, h / 0.6 - 1)])
        if faces:
            out.append(faces[0].encoding)
    return out


@dataclass
class Track:
    clip: str
    frames: list[int] = field(default_factory=list)
    boxes: list[Any] = field(default_factory=list)
    detections: list[Any] = field(default_factory=list)


def face_tracks(clip: str, frames: list[np.ndarray], locator, *, max_gap: int = 3) -> list[Track]:
    """Link detections frame to frame: a face continues the nearest track whose last face is
    within one face width and at most ``max_gap`` frames back."""
    tracks: list[Track] = []
    for index, frame in enumerate(frames):
        taken: set[int] = set()
        for det in locator.locate(frame):
            cx, cy = det.box.center
            width = det.box.x2 - det.box.x1
            best, best_d = None, width
            for t_i, track in enumerate(tracks):
                last = track.boxes[-1]
                lx, ly = last.center
                d = float(np.hypot(cx - lx, cy - ly))
                if t_i not in taken and index - track.frames[-1] <= max_gap and d < best_d:
                    best, best_d = t_i, d
            if best is None:
                tracks.append(Track(clip))
                best = len(tracks) - 1
            taken.add(best)
            track = tracks[best]
            track.frames.append(index)
            track.boxes.append(det.box)
            track.detections.append(det)
    return tracks


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    arr = np.array(values)
    return {"n": len(values), "min": round(float(arr.min()), 3), "p05": round(float(np.percentile(arr, 5)), 3),
            "median": round(float(np.median(arr)), 3), "p95": round(float(np.percentile(arr, 95)), 3),
            "max": round(float(arr.max()), 3)}


def error_rates(same: list[float], diff: list[float], threshold: float) -> dict[str, float]:
    """False match: two different people at or under the threshold; false non-match: one person over it."""
    return {"threshold": round(threshold, 3),
            "false_match_rate": round(float(np.mean(np.array(diff) <= threshold)), 4) if diff else 0.0,
            "false_non_match_rate": round(float(np.mean(np.array(same) > threshold)), 4) if same else 0.0}


def auc(same: list[float], diff: list[float]) -> float:
    """Probability that a different-people pair is farther apart than a same-person pair."""
    a, b = np.array(same)[:, None], np.array(diff)[None, :]
    return round(float((a < b).mean() + 0.5 * (a == b).mean()), 4)


SIZE_BINS = ((0, 20, "faces_under_20px"), (20, 40, "faces_20_40px"), (40, 10_000, "faces_over_40px"))


def pick_threshold(same: list[float], diff: list[float]) -> float:
    """No false match on the calibration pairs; halfway into the gap when the sets separate."""
    lowest_diff = min(diff)
    below = [d for d in same if d < lowest_diff]
    if len(below) == len(same):
        return (max(same) + lowest_diff) / 2
    return float(np.nextafter(lowest_diff, 0))
