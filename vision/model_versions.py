"""Which models and thresholds the settings make an audit run: each model file (the ones
:func:`vision.model_set.load_models` loads) by name with its size and sha256, and the thresholds that
decide a detection and a flag. For case files: what a recipient needs to reproduce a finding.

A file's sha256 is computed once per (path, size, mtime) in a process: a case export does not re-read
~100 MB of models each time."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from rxaudit.hashing import sha256_file
from rxaudit.settings import Settings

THRESHOLDS = ("person_min_score", "presence_tolerance_s", "min_coverage", "face_min_score",
              "face_distance_threshold", "object_min_score", "goods_min_score", "goods_min_frames",
              "goods_window_s", "goods_excess_margin", "goods_head_drug_score", "goods_head_strict",
              "pooling_min_cards", "burst_min_cards", "burst_window_s", "duplicate_window_s", "travel_speed_kmh",
              "card_conflict_min_gap_s")


@dataclass(frozen=True)
class ModelFile:
    role: str  # person, face_detector, face_encoder, counter_objects, calibration
    name: str  # the file name only (no path of this server)
    size: int | None  # None: the file is not there
    sha256: str | None


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def model_file(role: str, path: Path) -> ModelFile:
    try:
        info = Path(path).stat()
    except OSError:
        return ModelFile(role, Path(path).name, None, None)
    return ModelFile(role, Path(path).name, info.st_size, _digest(str(path), info.st_size, info.st_mtime_ns))


def model_files(settings: Settings) -> list[ModelFile]:
    """The model files an audit under ``settings`` loads, in the order of the pipeline."""
    files = [model_file(f"person ({settings.pose_runtime})", settings.pose_model)]
    if settings.face_detector == "yunet":
        files.append(model_file("face_detector", settings.face_detector_model))
    files.append(model_file(f"face_encoder ({settings.face_encoder})", settings.face_encoder_model)
                 if settings.face_encoder == "sface" else ModelFile("face_encoder (dlib)", "dlib", None, None))
    if settings.detect_objects:
        files.append(model_file("counter_objects", settings.object_model))
        calibration = Path(settings.object_model).with_suffix(".calibration.json")
        if calibration.exists():
            files.append(model_file("counter_objects_calibration", calibration))
        if settings.goods_head:
            files.append(model_file("goods_head_features", settings.goods_head_features))
            files.append(model_file("goods_head", settings.goods_head_model))
    return files


GOODS_HEAD_THRESHOLDS = ("goods_head_drug_score", "goods_head_strict")  # reported where the head ran


def thresholds(settings: Settings) -> dict[str, float | int]:
    """The thresholds an audit under ``settings`` decides with (the goods head's only where it runs)."""
    skip = () if settings.detect_objects and settings.goods_head else GOODS_HEAD_THRESHOLDS
    return {name: getattr(settings, name) for name in THRESHOLDS if name not in skip}
