"""Face-distance calibration on real footage (``rxaudit calibrate-faces``): which encoder separates
people better on CCTV-sized faces, and at which distance.

rxaudit decides identity per visit (mean of several encodings), so distances are measured between
*visit* identities. Faces are found by YuNet on whole frames and linked into tracks by position;
every encoder encodes the same detections. Each track is cut into runs of ``run_length`` faces (one
run ~ one visit). Same person: two visits of one track. Different people: visits of two tracks seen
in the same frames of one clip (necessarily two people), or of tracks in different clips (assumed
different people: the clips were filmed with different actors). Each clip is measured at its own size
and scaled down (``scales``), where faces shrink to CCTV size.

The threshold reported is the largest distance that merges no two different people (a false match
pools two customers' cards), stepped halfway into the gap when the two sets separate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from reconcile.visits import visit_identity

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


def _visit_pairs(tracks: list[Track], encodings: dict[int, list[tuple[float, np.ndarray]]], run_length: int):
    """Visit identities (track, median face width, mean encoding) and the labelled pair distances
    as (distance, smaller of the two visits' face widths)."""
    visits: list[tuple[int, float, np.ndarray]] = []
    for t_i, encs in encodings.items():
        for start in range(0, len(encs) - run_length + 1, run_length):
            run = encs[start : start + run_length]
            identity = visit_identity([e for _, e in run], min_faces=2, max_spread=np.inf)
            if identity is not None:
                visits.append((t_i, float(np.median([w for w, _ in run])), identity))
    same, diff = [], []
    for (ta, wa, a), (tb, wb, b) in combinations(visits, 2):
        pair = (float(np.linalg.norm(a - b)), min(wa, wb))
        if ta == tb:
            same.append(pair)
        elif tracks[ta].clip != tracks[tb].clip or set(tracks[ta].frames) & set(tracks[tb].frames):
            diff.append(pair)
    return visits, same, diff


def _entry(same_pairs, diff_pairs, threshold: float | None = None,
           defaults: dict[str, float] | None = None, name: str = "") -> dict[str, Any]:
    same, diff = [d for d, _ in same_pairs], [d for d, _ in diff_pairs]
    entry: dict[str, Any] = {"visit_same_person": _stats(same), "visit_different_people": _stats(diff)}
    if same and diff:
        entry["auc"] = auc(same, diff)
        entry["margin"] = round(min(diff) - max(same), 3)
        if threshold is None:
            threshold = pick_threshold(same, diff)
            entry["best"] = error_rates(same, diff, threshold)
        else:
            entry["at_best"] = error_rates(same, diff, threshold)
        if defaults and name in defaults:
            entry["at_default"] = error_rates(same, diff, defaults[name])
    return entry


def calibrate(footage: Path, locator, encoders: dict[str, Any], *, run_length: int = 4,
              scales: tuple[float, ...] = (1.0, 0.6), min_track: int = 8,
              defaults: dict[str, float] | None = None) -> dict[str, Any]:
    if not any((footage / clip).is_file() for clip in CLIPS.values()):
        from rxaudit.errors import InputError

        raise InputError(f"{footage}: none of the calibration clips ({', '.join(CLIPS.values())})")
    result: dict[str, Any] = {"run_length": run_length, "clips": {}}
    for scale in scales:
        tracks: list[Track] = []
        images: dict[str, list[np.ndarray]] = {}
        for name, clip in CLIPS.items():
            if not (footage / clip).is_file():
                continue
            images[name] = [_scaled(f, scale) for f in gif_frames(footage / clip)]
            tracks += [t for t in face_tracks(name, images[name], locator) if len(t.frames) >= min_track]
        result["clips"][f"scale_{scale:g}"] = {
            name: {"tracks": sum(t.clip == name for t in tracks),
                   "faces": sum(len(t.frames) for t in tracks if t.clip == name),
                   "face_width_median": round(float(np.median([b.x2 - b.x1 for t in tracks if t.clip == name
                                                                for b in t.boxes])), 1)
                   if any(t.clip == name for t in tracks) else None}
            for name in images}
        for enc_name, encoder in encoders.items():
            encodings = {i: [(det.box.x2 - det.box.x1, e) for det, frame in zip(t.detections, t.frames, strict=True)
                             for e in encoder.encode(images[t.clip][frame], [det])]
                         for i, t in enumerate(tracks)}
            visits, same, diff = _visit_pairs(tracks, encodings, run_length)
            entry = {"visits": len(visits), **_entry(same, diff, defaults=defaults, name=enc_name)}
            best = entry.get("best", {}).get("threshold")
            entry["by_face_size"] = {
                label: _entry([p for p in same if lo <= p[1] < hi], [p for p in diff if lo <= p[1] < hi],
                              best, defaults, enc_name)
                for lo, hi, label in SIZE_BINS}
            result.setdefault(enc_name, {})[f"scale_{scale:g}"] = entry
    result["summary"] = summarise({name: result[name] for name in encoders if name in result})
    return result


def summarise(per_encoder: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per encoder, the worst case over scales: the lowest AUC, and the threshold that merges no two
    people at any scale with the share of same-person pairs it then misses; the better encoder is
    the one with the higher worst-case AUC."""
    out: dict[str, Any] = {}
    for name, scales in per_encoder.items():
        measured = [e for e in scales.values() if "best" in e]
        if not measured:
            continue
        out[name] = {"worst_auc": min(e["auc"] for e in measured),
                     "threshold": round(min(e["best"]["threshold"] for e in measured), 3),
                     "worst_false_non_match_rate": max(e["best"]["false_non_match_rate"] for e in measured)}
    if out:
        out["better"] = max(out, key=lambda n: out[n]["worst_auc"])
    return out


def calibrate_faces(footage: Path, *, run_length: int = 4, scales: tuple[float, ...] = (1.0, 0.6),
                    settings=None) -> dict[str, Any]:
    """Both encoders on the same YuNet detections of the real clips in ``footage``."""
    from rxaudit.settings import ENCODER_THRESHOLDS, Settings
    from vision.faces import DlibEmbedder, SFaceEncoder, YuNetLocator

    settings = settings or Settings()
    locator = YuNetLocator(settings.face_detector_model, min_score=settings.face_min_score)
    encoders = {"dlib": DlibEmbedder(), "sface": SFaceEncoder(settings.face_encoder_model)}
    result = calibrate(footage, locator, encoders, run_length=run_length, scales=scales,
                       defaults=ENCODER_THRESHOLDS)
    result["configured"] = {"face_encoder": settings.face_encoder,
                            "face_distance_threshold": settings.face_distance_threshold}
    return result
