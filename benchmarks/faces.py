"""The face part of ``rxaudit bench-models``: YuNet against dlib's HOG on the same real frames (faces
found, CPU ms per frame) and SFace against dlib's encoder (CPU ms per face).

``detectors``: on whole frames, as found in real footage (no person boxes), so the counts show what
each can see; a face found by both counts once in ``both`` (box centres within half a face width).
``audit_path``: as the audit runs them, on the head part of each person the pose model finds (the
configured pair, YuNet + SFace, trying only people who face the camera, against dlib's HOG +
encoder on the same person boxes): faces encoded and CPU ms per frame for the whole face step.
"""

from __future__ import annotations

import time
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from rxaudit.settings import Settings

CLIP_SUFFIXES = (".gif",)


def _clip_frames(path: Path, limit: int) -> list[np.ndarray]:
    from vision.calibration import gif_frames

    frames = gif_frames(path)
    step = max(1, len(frames) // limit) if limit else 1
    return list(islice(frames[::step], limit or None))


def _timed(run, item) -> tuple[Any, float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = run(item)
    return out, (time.process_time() - c0) * 1000, (time.perf_counter() - w0) * 1000


def _same_face(a, b) -> bool:
    (ax, ay), (bx, by) = a.box.center, b.box.center
    return float(np.hypot(ax - bx, ay - by)) < 0.5 * max(a.box.x2 - a.box.x1, b.box.x2 - b.box.x1)


def bench_faces(settings: Settings, footage: Path, *, frames_per_clip: int = 30,
                persons=None) -> dict[str, Any]:
    from vision.faces import (DlibEmbedder, FaceFinder, HogLocator, SFaceEncoder, YuNetLocator,
                              face_encoder_from_settings)

    yunet = YuNetLocator(settings.face_detector_model, min_score=settings.face_min_score,
                         threads=settings.onnx_threads)
    hog = HogLocator(upsample=settings.face_upsample)
    encoders = {"sface": SFaceEncoder(settings.face_encoder_model, threads=settings.onnx_threads),
                "dlib": DlibEmbedder()}
    clips = sorted(p for p in Path(footage).iterdir() if p.suffix in CLIP_SUFFIXES)
    result: dict[str, Any] = {"footage": str(footage), "yunet_min_score": settings.face_min_score,
                              "hog_upsample": settings.face_upsample, "clips": {}}
    totals = {"frames": 0, "yunet": 0, "hog": 0, "both": 0}
    cpu: dict[str, list[float]] = {"yunet": [], "hog": [], "sface": [], "dlib": []}
    yunet.locate(np.zeros((64, 64, 3), np.uint8))  # warm-up
    for clip in clips:
        images = _clip_frames(clip, frames_per_clip)
        row = {"frames": len(images), "frame_size": list(images[0].shape[1::-1]), "yunet": 0, "hog": 0,
               "both": 0, "frames_with_face": {"yunet": 0, "hog": 0}, "face_width_px": []}
        for image in images:
            found_y, c_y, _ = _timed(yunet.locate, image)
            found_h, c_h, _ = _timed(hog.locate, image)
            cpu["yunet"].append(c_y)
            cpu["hog"].append(c_h)
            row["yunet"] += len(found_y)
            row["hog"] += len(found_h)
            row["both"] += sum(any(_same_face(y, h) for h in found_h) for y in found_y)
            row["frames_with_face"]["yunet"] += bool(found_y)
            row["frames_with_face"]["hog"] += bool(found_h)
            row["face_width_px"] += [round(f.box.x2 - f.box.x1) for f in found_y]
            for face in found_y[:1]:
                for name, encoder in encoders.items():
                    _, c_e, _ = _timed(lambda img, enc=encoder, f=face: enc.encode(img, [f]), image)
                    cpu[name].append(c_e)
        widths = row.pop("face_width_px")
        row["yunet_face_width_px"] = ([int(min(widths)), int(np.median(widths)), int(max(widths))]
                                      if widths else None)
        result["clips"][clip.name] = row
        for key in totals:
            totals[key] += row[key]
    result["total"] = totals
    if persons is not None:
        result["audit_path"] = _audit_path(clips, frames_per_clip, persons, {
            f"{settings.face_detector}+{settings.face_encoder}": face_encoder_from_settings(settings),
            "hog+dlib": FaceFinder(hog, encoders["dlib"])})
    result["cpu_ms_median"] = {
        "yunet_per_frame": _median(cpu["yunet"]), "hog_per_frame": _median(cpu["hog"]),
        "sface_per_face": _median(cpu["sface"]), "dlib_per_face": _median(cpu["dlib"]),
        "faces_encoded": len(cpu["sface"])}
    return result


def _audit_path(clips: list[Path], limit: int, persons, finders: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cpu: dict[str, list[float]] = {name: [] for name in finders}
    for clip in clips:
        row: dict[str, Any] = {name: 0 for name in finders}
        for image in _clip_frames(clip, limit):
            people = persons.detect([image])[0]
            for name, finder in finders.items():
                regions = people if name.startswith("yunet") else [p.box for p in people]
                found, c, _ = _timed(lambda img, f=finder, r=regions: f.faces(img, r), image)
                row[name] += len(found)
                cpu[name].append(c)
        out[clip.name] = row
    out["cpu_ms_median_per_frame"] = {name: _median(values) for name, values in cpu.items()}
    out["cpu_ms_mean_per_frame"] = {name: round(float(np.mean(v)), 2) if v else None for name, v in cpu.items()}
    faces = {name: sum(row[name] for key, row in out.items() if key.endswith(CLIP_SUFFIXES)) for name in finders}
    out["cpu_ms_per_face_found"] = {name: round(float(np.sum(cpu[name])) / faces[name], 2) if faces[name] else None
                                    for name in finders}
    return out


def _median(values: list[float]) -> float | None:
    return round(float(np.median(values)), 2) if values else None
