"""Faces inside person boxes: a detector (YuNet on onnxruntime, or dlib's HOG) and an encoder (SFace
on onnxruntime, or dlib's 128-d ResNet through ``face_recognition``). Only run in the head part of
customer boxes, a few frames per visit. ``face_encoder_from_settings`` builds the configured pair.

Frames are RGB here; each model's own input format (YuNet's BGR) is made in its adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from rxaudit.domain import Box, Face, Person
from rxaudit.errors import ConfigError, ModelError
from vision.faces_yunet import FaceDetection

if TYPE_CHECKING:
    from rxaudit.settings import Settings


class FaceLocator(Protocol):
    def locate(self, rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in an RGB image, best first."""
        ...


class FaceEmbedder(Protocol):
    def encode(self, rgb: np.ndarray, faces: list[FaceDetection]) -> list[np.ndarray]:
        """One 128-d encoding per face found in ``rgb``."""
        ...


def _import_face_recognition():
    try:
        import face_recognition  # noqa: PLC0415  (heavy: dlib models load on import)
    except (ImportError, SystemExit) as exc:  # face_recognition exits when its models are missing
        raise ModelError(
            "face_recognition or face_recognition_models is not installed "
            "(pip install dlib-bin face_recognition_models 'setuptools<81'; "
            "pip install --no-deps face_recognition==1.3.0)"
        ) from exc
    return face_recognition


def _css(box: Box) -> tuple[int, int, int, int]:
    """dlib's (top, right, bottom, left) integer rectangle."""
    return (int(round(box.y1)), int(round(box.x2)), int(round(box.y2)), int(round(box.x1)))


class HogLocator:
    """dlib's HOG detector: misses faces under ~40 px and turned faces; no landmarks."""

    def __init__(self, *, upsample: int = 1) -> None:
        self.fr = _import_face_recognition()
        self.upsample = upsample

    def locate(self, rgb: np.ndarray) -> list[FaceDetection]:
        found = []
        for top, right, bottom, left in self.fr.face_locations(rgb, number_of_times_to_upsample=self.upsample):
            found.append(FaceDetection(Box(float(left), float(top), float(right), float(bottom)), 1.0, None))
        return found


class YuNetLocator:
    """YuNet (see ``vision/faces_yunet.py``) on an RGB image."""

    def __init__(self, model: Path, *, min_score: float = 0.6, threads: int = 1) -> None:
        from vision.faces_yunet import YuNetDetector

        self.detector = YuNetDetector(model, min_score=min_score, threads=threads)

    def locate(self, rgb: np.ndarray) -> list[FaceDetection]:
        return self.detector.detect(np.ascontiguousarray(rgb[:, :, ::-1]))


class DlibEmbedder:
    """dlib's 128-d encoder; it places its own 5 landmarks inside the given box."""

    def __init__(self) -> None:
        self.fr = _import_face_recognition()

    def encode(self, rgb: np.ndarray, faces: list[FaceDetection]) -> list[np.ndarray]:
        if not faces:
            return []
        encodings = self.fr.face_encodings(rgb, known_face_locations=[_css(f.box) for f in faces])
        return [np.asarray(e, dtype=np.float32) for e in encodings]


class SFaceEncoder:
    """SFace (see ``vision/faces_sface.py``) on crops aligned with the detector's landmarks."""

    def __init__(self, model: Path, *, threads: int = 1) -> None:
        from vision.faces_sface import SFaceEmbedder

        self.embedder = SFaceEmbedder(model, threads=threads)

    def encode(self, rgb: np.ndarray, faces: list[FaceDetection]) -> list[np.ndarray]:
        if any(f.landmarks is None for f in faces):
            raise ConfigError("face_encoder: sface needs a detector with landmarks (face_detector: yunet)")
        crops = [self.embedder.align(rgb, f.landmarks) for f in faces]
        return list(self.embedder.embed_crops(crops)) if crops else []


NOSE, LEFT_EYE, RIGHT_EYE = 0, 1, 2  # COCO keypoints


def faces_camera(person: Person, min_conf: float = 0.5) -> bool:
    """The pose model sees the nose and an eye: the person is not turned away. YuNet scores the back
    of a head as a face (0.57-0.74 on a worker walking away in the Intel worker-zone clip, where
    the pose model gave nose 0.14-0.16); SFace would then encode hair and neck as an identity."""
    k = person.keypoints
    return bool(k[NOSE, 2] >= min_conf and max(k[LEFT_EYE, 2], k[RIGHT_EYE, 2]) >= min_conf)


class FaceFinder:
    """The ``FaceEncoder`` the audit uses: looks in the head part of each region (a person box, or
    a ``Person``, tried only when it faces the camera), enlarging small crops, and encodes the faces
    whose centre lies inside the region."""

    def __init__(self, locator: FaceLocator, embedder: FaceEmbedder, *, min_crop: int = 80,
                 max_crop: int = 640) -> None:
        self.locator, self.embedder = locator, embedder
        self.min_crop, self.max_crop = min_crop, max_crop

    def faces(self, frame: np.ndarray, regions: Sequence[Box | Person]) -> list[Face]:
        height, width = frame.shape[:2]
        found: list[Face] = []
        for item in regions:
            if isinstance(item, Person) and not faces_camera(item):
                continue
            region = item.box if isinstance(item, Person) else item
            # the head is in the top half of a person box; pad a little for tilted heads
            pad = 0.1 * (region.x2 - region.x1)
            x1, y1 = max(0, int(region.x1 - pad)), max(0, int(region.y1 - pad))
            x2 = min(width, int(region.x2 + pad))
            y2 = min(height, int(region.y1 + 0.6 * (region.y2 - region.y1)))
            if x2 - x1 < 20 or y2 - y1 < 20:
                continue
            crop = np.ascontiguousarray(frame[y1:y2, x1:x2])
            scale = 1.0
            if min(crop.shape[:2]) < self.min_crop:  # small crops: enlarge (detectors miss tiny faces)
                scale = self.min_crop / min(crop.shape[:2])
            elif max(crop.shape[:2]) > self.max_crop:
                scale = self.max_crop / max(crop.shape[:2])
            if scale != 1.0:
                crop = cv2.resize(crop, None, fx=scale, fy=scale,
                                  interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
            located = [f for f in self.locator.locate(crop)
                       if region.x1 <= x1 + (f.box.x1 + f.box.x2) / (2 * scale) <= region.x2]
            for det, encoding in zip(located, self.embedder.encode(crop, located), strict=True):
                box = Box(x1 + det.box.x1 / scale, y1 + det.box.y1 / scale,
                          x1 + det.box.x2 / scale, y1 + det.box.y2 / scale)
                found.append(Face(box=box, encoding=encoding))
        return found


def build_face_encoder(detector: str, encoder: str, *, detector_model: Path, encoder_model: Path,
                       min_score: float = 0.6, upsample: int = 1, min_crop: int = 80,
                       threads: int = 1) -> FaceFinder:
    """Load the models now, so a missing or corrupt file fails at start with a ModelError."""
    if encoder == "sface" and detector != "yunet":
        raise ConfigError("face_encoder: sface needs a detector with landmarks (face_detector: yunet)")
    locator: FaceLocator = (YuNetLocator(detector_model, min_score=min_score, threads=threads)
                            if detector == "yunet" else HogLocator(upsample=upsample))
    embedder: FaceEmbedder = (SFaceEncoder(encoder_model, threads=threads) if encoder == "sface"
                              else DlibEmbedder())
    return FaceFinder(locator, embedder, min_crop=min_crop)


def face_encoder_from_settings(settings: Settings) -> FaceFinder:
    return build_face_encoder(settings.face_detector, settings.face_encoder,
                              detector_model=settings.face_detector_model,
                              encoder_model=settings.face_encoder_model,
                              min_score=settings.face_min_score, upsample=settings.face_upsample,
                              threads=settings.onnx_threads)
