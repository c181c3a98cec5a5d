"""Per-class score calibration of the counter detector: a raw score -> the share of detections of that
class at that score that are right (isotonic, fitted on images the model never trained on).

The detector's raw scores are not comparable across classes (a 0.6 ``drug`` can be far less reliable
than a 0.6 ``card``), so the audit's thresholds apply to calibrated confidences. The table lives
beside the model as ``<model>.calibration.json`` (``rxaudit calibrate-goods`` writes it); a model
without one keeps its raw scores.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rxaudit.errors import ModelError

MAX_KNOTS = 24


def calibration_path(model: Path) -> Path:
    return Path(model).with_suffix(".calibration.json")


def isotonic(correct: Sequence[float]) -> list[float]:
    """Pool-adjacent-violators: the non-decreasing fit of ``correct`` (ordered by rising score)."""
    blocks: list[list[float]] = []  # [sum, count]
    for value in correct:
        blocks.append([float(value), 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted: list[float] = []
    for total, count in blocks:
        fitted.extend([total / count] * int(count))
    return fitted


@dataclass(frozen=True)
class ClassCurve:
    scores: tuple[float, ...]  # rising raw scores
    precision: tuple[float, ...]  # the fitted share right at each
    samples: int

    def __call__(self, score: float) -> float:
        return float(np.clip(np.interp(score, self.scores, self.precision), 0.0, 1.0))


@dataclass(frozen=True)
class ScoreCalibration:
    curves: Mapping[str, ClassCurve] = field(default_factory=dict)
    fitted_on: str = ""

    def confidence(self, cls: str, score: float) -> float:
        curve = self.curves.get(cls)
        return score if curve is None else curve(score)

    def to_json(self) -> dict[str, Any]:
        return {"fitted_on": self.fitted_on,
                "classes": {c: {"scores": list(v.scores), "precision": list(v.precision), "samples": v.samples}
                            for c, v in sorted(self.curves.items())}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScoreCalibration:
        curves = {}
        for name, entry in dict(data.get("classes") or {}).items():
            scores, precision = tuple(map(float, entry["scores"])), tuple(map(float, entry["precision"]))
            if len(scores) != len(precision) or not scores or list(scores) != sorted(scores):
                raise ValueError(f"class {name!r}: scores must rise and match the precision list")
            curves[str(name)] = ClassCurve(scores, precision, int(entry.get("samples", 0)))
        return cls(curves, str(data.get("fitted_on", "")))

    @classmethod
    def load(cls, model: Path) -> ScoreCalibration | None:
        path = calibration_path(model)
        if not path.is_file():
            return None
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"calibration file {path} is not valid: {exc}") from exc


def fit(pairs: Mapping[str, Iterable[tuple[float, bool]]], fitted_on: str, min_samples: int = 20) -> ScoreCalibration:
    """One isotonic curve per class from (raw score, right?) pairs; a class with fewer than
    ``min_samples`` detections keeps its raw scores."""
    curves = {}
    for cls, items in pairs.items():
        ranked = sorted(items)
        if len(ranked) < min_samples:
            continue
        scores = np.array([s for s, _ in ranked])
        fitted = np.array(isotonic([1.0 if ok else 0.0 for _, ok in ranked]))
        picks = np.unique(np.linspace(0, len(ranked) - 1, MAX_KNOTS).round().astype(int))
        curves[cls] = ClassCurve(tuple(round(float(scores[k]), 4) for k in picks),
                                 tuple(round(float(fitted[k]), 4) for k in picks), len(ranked))
    return ScoreCalibration(curves, fitted_on)
