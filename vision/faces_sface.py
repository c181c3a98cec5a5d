"""SFace face embedder (OpenCV Zoo, 2021dec, Apache-2.0) on onnxruntime: 128-d, L2-normalised, so
the Euclidean distance between two encodings is sqrt(2 - 2 cos). The model file keeps the shipped
int8 weights (see ``vision/models/PROVENANCE.md``).

The model takes a 112x112 RGB 0-255 crop aligned on five landmarks (eyes, nose tip, mouth corners)
to the ArcFace template, the same similarity transform as OpenCV's ``FaceRecognizerSF.alignCrop``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rxaudit.errors import ModelError
from vision.person import load_onnx

# where the five landmarks land in the 112x112 crop (OpenCV / InsightFace template)
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                     [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)
SIZE = 112


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity (rotation, uniform scale, shift) mapping src onto dst (Umeyama)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s_c, d_c = src - mu_s, dst - mu_d
    cov = d_c.T @ s_c / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (s_c**2).sum() / len(src)
    scale = (sig * np.diag(sign)).sum() / var if var > 0 else 1.0
    shift = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, shift[:, None]])


class SFaceEmbedder:
    def __init__(self, model: Path, *, threads: int = 1) -> None:
        self.session = load_onnx(model, threads)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or list(inputs[0].shape)[1:] != [3, SIZE, SIZE] or outputs[0].shape[-1] != 128:
            raise ModelError(f"model file {model} is not an SFace embedder (inputs "
                             f"{[i.shape for i in inputs]}, output {outputs[0].shape}); "
                             "rebuild it with tools/export_face_models.py")
        self.input_name = inputs[0].name

    @staticmethod
    def align(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The 112x112 RGB crop of the face whose five landmarks are given (image pixels)."""
        matrix = similarity_transform(landmarks, TEMPLATE)
        return cv2.warpAffine(rgb, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0)

    def embed_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """(n, 128) unit vectors for aligned RGB crops."""
        out = np.zeros((len(crops), 128), dtype=np.float32)
        for i, crop in enumerate(crops):  # the graph has a static batch of 1
            tensor = np.ascontiguousarray(crop.astype(np.float32).transpose(2, 0, 1)[None])
            vector = self.session.run(None, {self.input_name: tensor})[0].reshape(-1)
            out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return out
