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

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from reconcile.visits import visit_identity
from vision.calibration import (CLIPS, SIZE_BINS, Track, _scaled, _stats, auc, error_rates, face_tracks, gif_frames,
                                pick_threshold)


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
