"""Faces: dlib's HOG detector and 128-d encoder through ``face_recognition`` (models from the
``face_recognition_models`` PyPI package). Only run inside person boxes, a few frames per visit."""

from __future__ import annotations

import numpy as np

from rxaudit.domain import Box, Face
from rxaudit.errors import ModelError


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


class DlibFaceEncoder:
    """Finds faces in the upper part of person boxes and encodes them."""

    def __init__(self, *, upsample: int = 1, min_crop: int = 80) -> None:
        self.fr = _import_face_recognition()
        self.upsample = upsample
        self.min_crop = min_crop

    def faces(self, frame: np.ndarray, regions: list[Box]) -> list[Face]:
        height, width = frame.shape[:2]
        found: list[Face] = []
        for region in regions:
            # the head is in the top half of a person box; pad a little for tilted heads
            pad = 0.1 * (region.x2 - region.x1)
            x1, y1 = max(0, int(region.x1 - pad)), max(0, int(region.y1 - pad))
            x2 = min(width, int(region.x2 + pad))
            y2 = min(height, int(region.y1 + 0.6 * (region.y2 - region.y1)))
            if x2 - x1 < 20 or y2 - y1 < 20:
                continue
            crop = np.ascontiguousarray(frame[y1:y2, x1:x2])
            scale = 1.0
            if min(crop.shape[:2]) < self.min_crop:  # small crops: enlarge instead of dlib upsampling
                scale = self.min_crop / min(crop.shape[:2])
                import cv2

                crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            locations = self.fr.face_locations(crop, number_of_times_to_upsample=self.upsample)
            if not locations:
                continue
            encodings = self.fr.face_encodings(crop, known_face_locations=locations)
            for (top, right, bottom, left), encoding in zip(locations, encodings, strict=True):
                box = Box(x1 + left / scale, y1 + top / scale, x1 + right / scale, y1 + bottom / scale)
                found.append(Face(box=box, encoding=np.asarray(encoding, dtype=np.float32)))
        return found
