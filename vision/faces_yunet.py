"""YuNet face detector (OpenCV Zoo, 2023mar, MIT) on onnxruntime: faces from ~10 px, with five
landmarks. The model file is rewritten from the pinned PyPI wheel by ``tools/export_face_models.py``
(see ``vision/models/PROVENANCE.md``): fp32, dynamic input.

The model's own format stays here: it takes a BGR 0-255 (1, 3, H, W) tensor with H, W multiples of
32 and answers per-anchor class/objectness scores, box offsets and landmark offsets at strides 8, 16
and 32; decoding and NMS are numpy, as in OpenCV's ``FaceDetectorYN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rxaudit.domain import Box
from rxaudit.errors import ModelError
from vision.person import load_onnx, nms

STRIDES = (8, 16, 32)
OUTPUTS = tuple(f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES)


@dataclass(frozen=True, slots=True)
class FaceDetection:
    """A face in image pixels: box, score (0-1) and five landmarks (x, y): the two eyes (image
    left first), the nose tip and the two mouth corners (image left first)."""

    box: Box
    score: float
    landmarks: np.ndarray | None  # (5, 2) float32; None from a detector without landmarks


class YuNetDetector:
    def __init__(self, model: Path, *, min_score: float = 0.6, nms_iou: float = 0.3,
                 max_faces: int = 50, threads: int = 1) -> None:
        self.session = load_onnx(model, threads)
        inputs = self.session.get_inputs()
        names = {o.name for o in self.session.get_outputs()}
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] != 3 or not set(OUTPUTS) <= names:
            raise ModelError(f"model file {model} is not a YuNet face detector (inputs "
                             f"{[i.shape for i in inputs]}, outputs {sorted(names)})")
        if any(isinstance(d, int) for d in inputs[0].shape[2:]):
            raise ModelError(f"model file {model}: input {inputs[0].shape} is not dynamic; "
                             "rebuild it with tools/export_face_models.py")
        self.input_name = inputs[0].name
        self.min_score, self.nms_iou, self.max_faces = min_score, nms_iou, max_faces

    def detect(self, bgr: np.ndarray) -> list[FaceDetection]:
        """Faces in a BGR uint8 image, best first."""
        height, width = bgr.shape[:2]
        pad_h, pad_w = -(-height // 32) * 32, -(-width // 32) * 32
        canvas = np.zeros((pad_h, pad_w, 3), dtype=np.float32)
        canvas[:height, :width] = bgr
        tensor = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None])
        out = dict(zip(OUTPUTS, self.session.run(list(OUTPUTS), {self.input_name: tensor}), strict=True))
        boxes, scores, marks = [], [], []
        for stride in STRIDES:
            cols = pad_w // stride
            cls = np.clip(out[f"cls_{stride}"][0, :, 0], 0, 1)
            obj = np.clip(out[f"obj_{stride}"][0, :, 0], 0, 1)
            score = np.sqrt(cls * obj)
            keep = np.flatnonzero(score >= self.min_score)
            if not keep.size:
                continue
            col, row = (keep % cols).astype(np.float32), (keep // cols).astype(np.float32)
            bbox = out[f"bbox_{stride}"][0, keep]
            cx, cy = (col + bbox[:, 0]) * stride, (row + bbox[:, 1]) * stride
            w, h = np.exp(bbox[:, 2]) * stride, np.exp(bbox[:, 3]) * stride
            boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
            kps = out[f"kps_{stride}"][0, keep].reshape(-1, 5, 2)
            marks.append((kps + np.stack([col, row], axis=1)[:, None, :]) * stride)
            scores.append(score[keep])
        if not boxes:
            return []
        all_boxes, all_scores, all_marks = np.concatenate(boxes), np.concatenate(scores), np.concatenate(marks)
        found = []
        for i in nms(all_boxes, all_scores, self.nms_iou)[: self.max_faces]:
            x1, y1, x2, y2 = all_boxes[i]
            box = Box(float(max(0.0, x1)), float(max(0.0, y1)), float(min(width, x2)), float(min(height, y2)))
            if box.x2 <= box.x1 or box.y2 <= box.y1:
                continue
            found.append(FaceDetection(box, round(float(all_scores[i]), 4), all_marks[i].astype(np.float32)))
        return found
