"""The models one audit runs, loaded together from the settings: the pose (person) detector, the
face encoder and the counter-objects detector. Shared by the audit job, ``rxaudit detect`` and the
benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

from rxaudit.settings import Settings
from vision.detectors import FaceEncoder, ObjectDetector, PersonDetector


@dataclass
class Models:
    persons: PersonDetector
    faces: FaceEncoder | None
    objects: ObjectDetector | None = None


def load_models(settings: Settings) -> Models:
    """Load every model now, so a missing or corrupt file fails at start with a clear error."""
    from vision.faces import face_encoder_from_settings
    from vision.goods_head import counter_detector
    from vision.person import OnnxPoseDetector

    persons = OnnxPoseDetector(settings.pose_model, input_size=settings.pose_input_size,
                               min_score=settings.person_min_score, threads=settings.onnx_threads,
                               runtime=settings.pose_runtime)
    objects = counter_detector(settings) if settings.detect_objects else None
    return Models(persons=persons, faces=face_encoder_from_settings(settings), objects=objects)
