"""Does the class follow the style? (issue 25) Two measurements on pixels never trained on:

- real snack frames of the held-out video given the render look (``sample_footage.photo_set.render_look``):
  their bags must still read ``non_covered`` (recall at the rule's threshold, IoU 0.5), never ``drug``;
- photo-styled rendered packages (``sample_footage.photo_set.photo_image``) of a held-out seed
  (``STYLE_SEED``; training uses 21 and validation 22): drugs must still read ``drug`` and the
  photo-styled non-covered goods ``non_covered``; the share of drugs read as ``non_covered`` is the
  error a false goods swap is made of.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rxaudit.domain import Box
from sample_footage import goods
from training.eval_goods import FrameDetector, counted, match
from vision.real_goods import SnackFrame, read_rgb

STYLE_SEED = 5


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def restyled_snacks(detector: FrameDetector, frames: Sequence[SnackFrame], min_score: float) -> dict[str, Any]:
    from sample_footage.photo_set import render_look

    read: Counter[str] = Counter()
    for k, frame in enumerate(frames):
        image = render_look(read_rgb(frame.image), random.Random(f"style-check-{k}"))
        h, w = image.shape[:2]
        truth = [("non_covered", Box(x1 * w, y1 * h, x2 * w, y2 * h)) for x1, y1, x2, y2 in frame.boxes]
        got, _ = match(truth, counted(detector.detect([image])[0], min_score))
        read.update(g or "missed" for g in got)
    n = sum(read.values())
    return {"frames": len(frames), "objects": n, "non_covered_recall": _ratio(read["non_covered"], n),
            "read_as_drug": _ratio(read["drug"], n), "objects_read_as": dict(sorted(read.items()))}


def photo_rendered(detector: FrameDetector, count: int, min_score: float, seed: int = STYLE_SEED) -> dict[str, Any]:
    from sample_footage.photo_set import photo_image

    read: dict[str, Counter[str]] = {"drug": Counter(), "non_covered": Counter()}
    for i in range(count):
        image, labels = photo_image(seed, "val", i)
        truth = [(goods.CLASSES[c], Box(x1, y1, x2, y2)) for c, x1, y1, x2, y2 in labels]
        got, _ = match(truth, counted(detector.detect([image])[0], min_score))
        for (cls, _), g in zip(truth, got):
            if cls in read:
                read[cls][g or "missed"] += 1
    out: dict[str, Any] = {"seed": seed, "images": count}
    for cls, c in read.items():
        n = sum(c.values())
        out[cls] = {"objects": n, "recall": _ratio(c[cls], n), "read_as": dict(sorted(c.items()))}
    out["drug"]["read_as_non_covered"] = _ratio(read["drug"]["non_covered"], sum(read["drug"].values()))
    return out
