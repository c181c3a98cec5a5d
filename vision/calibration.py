"""Face-distance calibration on real footage (``rxaudit calibrate-faces``).

The library's default tolerance (0.6) is meant for photo-sized faces; CCTV faces are small and
turned. rxaudit decides identity per visit (mean of several encodings), so this measures distances
between *visit* identities: each clip is cut into short runs of frames (one run ~ one visit), at the
clip's own size and scaled down to CCTV size, and distances are reported within and between people.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from reconcile.visits import visit_identity

CLIPS = {"male": "head-pose-face-detection-male.gif", "female": "head-pose-face-detection-female.gif"}


def gif_frames(path: Path) -> list[np.ndarray]:
    gif = Image.open(path)
    frames = []
    for index in range(gif.n_frames):
        gif.seek(index)
        frames.append(np.array(gif.convert("RGB")))
    return frames


def encodings_per_frame(frames: list[np.ndarray], scale: float) -> list[np.ndarray]:
    from rxaudit.domain import Box
    from vision.faces import DlibFaceEncoder

    encoder = DlibFaceEncoder()
    out = []
    for frame in frames:
        if scale != 1.0:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = frame.shape[:2]
        faces = encoder.faces(frame, [Box(0, 0, w - 1, h / 0.6 - 1)])
        if faces:
            out.append(faces[0].encoding)
    return out


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    arr = np.array(values)
    return {"n": len(values), "min": round(float(arr.min()), 3),
            "median": round(float(np.median(arr)), 3), "max": round(float(arr.max()), 3)}


def calibrate_faces(footage: Path, *, run_length: int = 4, scales: tuple[float, ...] = (1.0, 0.6)) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for scale in scales:
        per_person = {name: encodings_per_frame(gif_frames(footage / clip), scale)
                      for name, clip in CLIPS.items()}
        visits = {}
        for name, encs in per_person.items():
            runs = [encs[i : i + run_length] for i in range(0, len(encs) - run_length + 1, run_length)]
            visits[name] = [v for r in runs if (v := visit_identity(r, min_faces=2, max_spread=0.7)) is not None]
        frame_same = [float(np.linalg.norm(a - b)) for encs in per_person.values()
                      for a, b in combinations(encs, 2)]
        frame_diff = [float(np.linalg.norm(a - b)) for a in per_person["male"] for b in per_person["female"]]
        visit_same = [float(np.linalg.norm(a - b)) for vs in visits.values() for a, b in combinations(vs, 2)]
        visit_diff = [float(np.linalg.norm(a - b)) for a in visits["male"] for b in visits["female"]]
        entry = {
            "faces_encoded": {k: len(v) for k, v in per_person.items()},
            "visits": {k: len(v) for k, v in visits.items()},
            "frame_same_person": _stats(frame_same), "frame_different_people": _stats(frame_diff),
            "visit_same_person": _stats(visit_same), "visit_different_people": _stats(visit_diff),
        }
        if visit_same and visit_diff:
            entry["visit_margin"] = round(min(visit_diff) - max(visit_same), 3)
        result[f"scale_{scale:g}"] = entry
    return result
