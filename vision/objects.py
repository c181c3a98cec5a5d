"""The counter detector: cards, phones, drugs and non-covered goods. A yolo11n trained by rxaudit on
rendered data (``tools/train_counter_model.py``), exported to ONNX, run on onnxruntime.

The class names are read from the model file's metadata (ultralytics writes them at export), so a
fine-tuned model with other or more classes (``rxaudit train --from``) works without code changes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from rxaudit.domain import Box, DetectedObject
from rxaudit.errors import ModelError
from vision.goods_calibration import ScoreCalibration
from vision.person import letterbox, load_onnx, nms, unletterbox, xywh_to_xyxy

GOODS = ("drug", "non_covered")  # classes counted as goods handed over; the rest are cards/phones


def class_names(session, path: Path) -> tuple[str, ...]:
    meta = session.get_modelmeta().custom_metadata_map
    try:
        names = ast.literal_eval(meta["names"])
        ordered = tuple(str(names[k]) for k in sorted(names))
    except (KeyError, ValueError, SyntaxError, TypeError) as exc:
        raise ModelError(f"model file {path} has no class names in its metadata "
                         "(export it with ultralytics, see vision/models/PROVENANCE.md)") from exc
    if not ordered:
        raise ModelError(f"model file {path} declares no classes")
    return ordered


class OnnxObjectDetector:
    """Output (1, 4 + classes, N): cx, cy, w, h in input pixels, then one score per class.

    ``min_score`` filters raw scores; the scores reported are calibrated per class where the model
    has a calibration file beside it (``vision.goods_calibration``), unless ``calibrated=False``."""

    def __init__(self, model: Path, *, min_score: float = 0.35, iou: float = 0.5, threads: int = 1,
                 calibrated: bool = True) -> None:
        self.session = load_onnx(model, threads)
        self.calibration = ScoreCalibration.load(Path(model)) if calibrated else None
        self.names = class_names(self.session, Path(model))
        shape = self.session.get_inputs()[0].shape
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
            raise ModelError(f"model file {model}: expected a static (1, 3, H, W) input, got {shape}")
        outputs = self.session.get_outputs()[0].shape
        if len(outputs) != 3 or outputs[1] != 4 + len(self.names):
            raise ModelError(f"model file {model}: output {outputs} does not match {len(self.names)} classes")
        self.input_name = self.session.get_inputs()[0].name
        self.size = (int(shape[2]), int(shape[3]))
        self.min_score, self.iou = min_score, iou

    def detect(self, frames: list[np.ndarray]) -> list[list[DetectedObject]]:
        results = []
        for frame in frames:  # the graph has a static batch of 1
            image, scale, pad = letterbox(frame, self.size)
            tensor = np.ascontiguousarray(image.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
            output = self.session.run(None, {self.input_name: tensor})[0][0].T  # (N, 4 + classes)
            results.append(self._decode(output, scale, pad, frame.shape))
        return results

    def _decode(self, pred: np.ndarray, scale: float, pad: tuple[int, int],
                shape: tuple[int, ...]) -> list[DetectedObject]:
        scores = pred[:, 4:]
        cls = scores.argmax(axis=1)
        best = scores[np.arange(len(pred)), cls]
        keep = best >= self.min_score
        if not keep.any():
            return []
        pred, cls, best, scores = pred[keep], cls[keep], best[keep], scores[keep]
        # the second-best class of each box: a rival reading of the same object (reconcile.goods)
        rival = np.where(np.arange(scores.shape[1])[None] == cls[:, None], -1.0, scores).argmax(axis=1)
        boxes = unletterbox(xywh_to_xyxy(pred), scale, pad, shape)
        # class-aware NMS: shift each class's boxes apart so they never suppress each other
        offset = (cls[:, None] * 10000.0).astype(np.float32)
        found = []
        for i in nms(boxes + offset, best, self.iou):
            name, raw = self.names[int(cls[i])], float(scores[i, rival[i]]) if len(self.names) > 1 else 0.0
            # the runner-up is kept where the detector would report it on its own (above min_score)
            second = self.names[int(rival[i])] if raw >= self.min_score else None
            found.append(DetectedObject(Box(*map(float, boxes[i])), name, self._calibrated(name, float(best[i])),
                                        second, self._calibrated(second, raw) if second else 0.0))
        return found

    def _calibrated(self, name: str, raw: float) -> float:
        raw = min(max(raw, 0.0), 1.0)
        return round(raw if self.calibration is None else self.calibration.confidence(name, raw), 4)
