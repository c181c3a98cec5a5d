"""Person + body keypoint detector: Ultralytics yolo11n-pose (COCO) exported to ONNX, run on
onnxruntime. See ``vision/models/PROVENANCE.md`` for where the weights come from."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rxaudit.domain import Box, Person
from rxaudit.errors import ModelError
from vision.model_files import existing_model


def load_onnx(path: Path, threads: int):
    """An onnxruntime session, or a ModelError that says what is wrong with the file."""
    import onnxruntime as ort

    path = existing_model(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelError(f"model file {path} cannot be loaded: {exc}") from exc


def letterbox(frame: np.ndarray, size: int | tuple[int, int]) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping aspect ratio onto a grey canvas of ``size`` (a square side, or (height,
    width)); returns image, scale, (dx, dy)."""
    out_h, out_w = (size, size) if isinstance(size, int) else size
    h, w = frame.shape[:2]
    scale = min(out_w / w, out_h / h)
    nw, nh = round(w * scale), round(h * scale)
    canvas = np.full((out_h, out_w, 3), 114, dtype=np.uint8)
    dx, dy = (out_w - nw) // 2, (out_h - nh) // 2
    canvas[dy : dy + nh, dx : dx + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, scale, (dx, dy)


def fitted_shape(height: int, width: int, side: int, stride: int = 32) -> tuple[int, int]:
    """(height, width) of the canvas a ``height`` x ``width`` frame is letterboxed into, scaled so
    that its longer side is ``side``: the ``side`` square, trimmed along the shorter side by two
    strides at a time (one off each side, so the frame keeps its place on the stride grid, as in
    the square) while at least one stride of grey is left on each side of the frame. A 640x360
    frame at 320 -> (256, 320), 20 % fewer pixels than the square.

    Both conditions are measured (the real clips in ../shared/footage, 244 persons found on the
    square at 320): trimmed to the frame, (192, 320), lost 32 of them that scored >= 0.5, persons cut
    by the frame's edge (a hand reaching in, a customer close to the camera) that need grey beyond
    the edge; (256, 320) lost none of those. At 416 a trim that moved the frame on the stride grid
    lowered the nose and eye confidences that gate face detection (a third fewer faces)."""
    scale = side / max(height, width)

    def fit(n: int) -> int:
        size, content = side, round(n * scale)
        while size - 2 * stride - content >= 2 * stride:
            size -= 2 * stride
        return size

    return fit(height), fit(width)


def unletterbox(boxes: np.ndarray, scale: float, pad: tuple[int, int], shape: tuple[int, ...]) -> np.ndarray:
    """(N, 4) x1 y1 x2 y2 boxes in letterboxed input pixels -> clipped frame pixels."""
    dx, dy = pad
    boxes = (boxes - [dx, dy, dx, dy]) / scale
    height, width = shape[:2]
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return boxes


def xywh_to_xyxy(pred: np.ndarray) -> np.ndarray:
    cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area_i = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
        areas = (boxes[order[1:], 2] - boxes[order[1:], 0]) * (boxes[order[1:], 3] - boxes[order[1:], 1])
        order = order[1:][inter / (area_i + areas - inter + 1e-9) < iou]
    return keep


class OnnxPoseDetector:
    """yolo11n-pose on onnxruntime or OpenVINO (``runtime``). Output (1, 56, N): cx, cy, w, h, score, 17 x (x, y, conf).

    A frame is scaled so that its longer side is ``input_size`` and letterboxed into
    ``fitted_shape`` (the exported model's input is dynamic)."""

    def __init__(self, model: Path, *, input_size: int = 416, min_score: float = 0.4,
                 iou: float = 0.5, threads: int = 2, runtime: str = "onnxruntime") -> None:
        if runtime == "openvino":
            from vision.openvino_session import OpenVinoSession

            self.session = OpenVinoSession(model, threads)
        else:
            self.session = load_onnx(model, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.size = input_size
        self.min_score = min_score
        self.iou = iou

    def detect(self, frames: list[np.ndarray]) -> list[list[Person]]:
        if not frames:
            return []
        prepared = [letterbox(f, fitted_shape(*f.shape[:2], self.size)) for f in frames]
        found: list[list[Person]] = [[] for _ in frames]
        for shape in {p[0].shape for p in prepared}:  # one run per canvas shape (usually one)
            idx = [i for i, p in enumerate(prepared) if p[0].shape == shape]
            batch = np.stack([prepared[i][0] for i in idx]).astype(np.float32) / 255.0
            batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
            output = self.session.run(None, {self.input_name: batch})[0]
            for row, i in enumerate(idx):
                _, scale, pad = prepared[i]
                found[i] = self._decode(output[row], scale, pad, frames[i].shape)
        return found

    def _decode(self, pred: np.ndarray, scale: float, pad: tuple[int, int],
                shape: tuple[int, ...]) -> list[Person]:
        pred = pred.T  # (N, 56)
        pred = pred[pred[:, 4] >= self.min_score]
        if not len(pred):
            return []
        dx, dy = pad
        boxes = unletterbox(xywh_to_xyxy(pred), scale, pad, shape)
        kpts = pred[:, 5:].reshape(-1, 17, 3).copy()
        kpts[:, :, 0] = (kpts[:, :, 0] - dx) / scale
        kpts[:, :, 1] = (kpts[:, :, 1] - dy) / scale
        persons = []
        for i in nms(boxes, pred[:, 4], self.iou):
            persons.append(Person(box=Box(*map(float, boxes[i])), score=float(pred[i, 4]),
                                  keypoints=kpts[i].astype(np.float32)))
        return persons
