"""A cheap appearance cue for tracking at low sampling rates: the hue/saturation histogram of a
person's upper body. Two customers swapping places at a busy counter differ in clothing colour."""

from __future__ import annotations

import cv2
import numpy as np

from rxaudit.domain import Box


def describe(image_rgb: np.ndarray, box: Box) -> np.ndarray | None:
    h, w = image_rgb.shape[:2]
    x1, y1 = max(0, int(box.x1)), max(0, int(box.y1))
    x2, y2 = min(w, int(box.x2)), min(h, int(box.y1 + 0.6 * (box.y2 - box.y1)))
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    hsv = cv2.cvtColor(np.ascontiguousarray(image_rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [18, 8], [0, 180, 0, 256]).flatten()
    total = float(hist.sum())
    return (hist / total).astype(np.float32) if total > 0 else None


def similarity(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """1 - Bhattacharyya distance, in [0, 1]; None when either side has no descriptor."""
    if a is None or b is None:
        return None
    return 1.0 - float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))
