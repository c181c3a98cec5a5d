"""``rxaudit eval-goods``: the counter detector on real pixels, at the audit's thresholds.

Scores what the goods-swap rule would count: detections at ``goods_min_score`` reduced to one
reading per object (``reconcile.goods.resolve_classes``), matched to labelled objects at IoU 0.5.

- held-out real snack frames (a video never trained on): ``non_covered`` recall and precision, the
  share of objects found as any goods class, and the share of frames with any ``drug`` box;
- held-out real grocery photos (classes never trained on): the share with a ``drug`` box (fruit and
  vegetables must have none) and with a ``non_covered`` box;
- rendered validation images (their own seed): precision and recall per class.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from reconcile.goods import UNCLEAR, GoodsOptions, drug_rivals, read_frame, resolve_classes
from rxaudit.domain import Box, DetectedObject
from vision.real_goods import GroceryPhoto, SnackFrame, read_rgb

MATCH_IOU = 0.5
GOODS_READINGS = ("drug", "non_covered", UNCLEAR)


class FrameDetector(Protocol):
    def detect(self, frames: list[np.ndarray]) -> list[list[DetectedObject]]: ...


def counted(objects: Iterable[DetectedObject], min_score: float) -> list[DetectedObject]:
    """What a rule counts: sure enough, one class per object."""
    return resolve_classes([o for o in objects if o.score >= min_score])


def match(truth: Sequence[tuple[str, Box]], found: Sequence[DetectedObject]) -> tuple[list[str | None], list[bool]]:
    """Greedy one-to-one matching by IoU (best pairs first). Returns, per true object, the class of the
    detection matched to it (None: missed), and per detection whether it matched a true object."""
    pairs = sorted(((t_box.iou(d.box), i, j) for i, (_, t_box) in enumerate(truth)
                    for j, d in enumerate(found)), reverse=True)
    got: list[str | None] = [None] * len(truth)
    used = [False] * len(found)
    for iou, i, j in pairs:
        if iou < MATCH_IOU:
            break
        if got[i] is None and not used[j]:
            got[i], used[j] = found[j].cls, True
    return got, used


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def eval_snacks(detector: FrameDetector, frames: Sequence[SnackFrame], min_score: float,
                options: GoodsOptions | None = None) -> dict[str, Any]:
    """``options``: the goods rule's thresholds; with them, ``decisive_recall`` is the share of bags
    with a reading the rule could accuse on (``reconcile.goods.read_frame``, single frame)."""
    readings: Counter[str] = Counter()
    objects = with_drug = nc_boxes = nc_matched = decisive_matched = 0
    nc_scores: list[float] = []
    for frame in frames:
        image = read_rgb(frame.image)
        h, w = image.shape[:2]
        raw = detector.detect([image])[0]
        found = counted(raw, min_score)
        truth = [("non_covered", Box(x1 * w, y1 * h, x2 * w, y2 * h)) for x1, y1, x2, y2 in frame.boxes]
        got, used = match(truth, found)
        if options is not None:
            decisive = read_frame(raw, drug_rivals([raw], options), options).decisive
            decisive_matched += sum(g == "non_covered" for g in match(truth, decisive)[0])
        objects += len(truth)
        readings.update(g or "missed" for g in got)
        with_drug += any(d.cls == "drug" for d in found)
        nc_boxes += sum(d.cls == "non_covered" for d in found)
        nc_scores.extend(d.score for d in found if d.cls == "non_covered")
        nc_matched += sum(u and d.cls == "non_covered" for d, u in zip(found, used))
    goods_found = sum(readings[c] for c in GOODS_READINGS)
    return {"frames": len(frames), "objects": objects, "videos": sorted({f.video for f in frames}),
            "non_covered_recall": _ratio(readings["non_covered"], objects),
            "non_covered_precision": _ratio(nc_matched, nc_boxes),
            "non_covered_mean_score": round(float(np.mean(nc_scores)), 4) if nc_scores else None,
            "found_as_goods": _ratio(goods_found, objects),
            "frames_with_drug": _ratio(with_drug, len(frames)),
            "objects_read_as": dict(sorted(readings.items())),
            **({"decisive_recall": _ratio(decisive_matched, objects)} if options is not None else {})}


def eval_groceries(detector: FrameDetector, photos: Sequence[GroceryPhoto], min_score: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for group in sorted({p.group for p in photos}):
        members = [p for p in photos if p.group == group]
        seen: Counter[str] = Counter()
        for photo in members:
            found = counted(detector.detect([read_rgb(photo.image)])[0], min_score)
            seen.update({d.cls for d in found})
        out[group] = {"photos": len(members), "classes": len({p.fine_class for p in members}),
                      "with_drug": _ratio(seen["drug"], len(members)),
                      "with_non_covered": _ratio(seen["non_covered"], len(members)),
                      "with_unclear": _ratio(seen[UNCLEAR], len(members))}
    return out


def eval_rendered(detector: FrameDetector, images: Iterable[tuple[np.ndarray, list[tuple[str, Box]]]],
                  min_score: float) -> dict[str, Any]:
    """Per-class precision and recall (a detection of the right class at IoU 0.5)."""
    true_n: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    det_n: Counter[str] = Counter()
    det_hit: Counter[str] = Counter()
    count = 0
    for image, truth in images:
        count += 1
        found = counted(detector.detect([image])[0], min_score)
        got, _ = match(truth, found)
        for (cls, _box), g in zip(truth, got):
            true_n[cls] += 1
            hit[cls] += g == cls
        right, _ = match([(d.cls, d.box) for d in found], [DetectedObject(b, c, 1.0) for c, b in truth])
        for d, g in zip(found, right):
            det_n[d.cls] += 1
            det_hit[d.cls] += g == d.cls
    classes = sorted(set(true_n) | set(det_n))
    return {"images": count, "per_class": {c: {"precision": _ratio(det_hit[c], det_n[c]),
                                               "recall": _ratio(hit[c], true_n[c]), "objects": true_n[c]}
                                           for c in classes}}


def calibration_pairs(detector: FrameDetector, images: Iterable[tuple[np.ndarray, list[tuple[str, Box]]]]
                      ) -> dict[str, list[tuple[float, bool]]]:
    """(raw score, right?) per detection and class: right = matches a true object of its class at
    IoU 0.5, one detection per object (the detector must report raw scores)."""
    pairs: dict[str, list[tuple[float, bool]]] = {}
    for image, truth in images:
        found = detector.detect([image])[0]
        for cls in {d.cls for d in found}:
            mine = sorted((d for d in found if d.cls == cls), key=lambda d: -d.score)
            _, used = match([t for t in truth if t[0] == cls], mine)
            pairs.setdefault(cls, []).extend((d.score, u) for d, u in zip(mine, used))
    return pairs


def rendered_validation(seed: int, count: int) -> Iterable[tuple[np.ndarray, list[tuple[str, Box]]]]:
    from sample_footage import goods
    from sample_footage.detection_set import render_image

    for k in range(count):
        image, labels = render_image(seed, "val", k)
        yield image, [(goods.CLASSES[c], Box(x1, y1, x2, y2)) for c, x1, y1, x2, y2 in labels]


def evaluate(detector: FrameDetector, *, snacks: Sequence[SnackFrame], groceries: Sequence[GroceryPhoto],
             rendered: int, rendered_seed: int, min_score: float, options: GoodsOptions | None = None,
             progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    result: dict[str, Any] = {"min_score": min_score, "match_iou": MATCH_IOU}
    if snacks:
        progress("snacks")
        result["snacks_held_out"] = eval_snacks(detector, snacks, min_score, options)
    if groceries:
        progress("groceries")
        result["groceries_held_out"] = eval_groceries(detector, groceries, min_score)
    if rendered:
        progress("rendered")
        result["rendered_validation"] = {"seed": rendered_seed,
                                         **eval_rendered(detector, rendered_validation(rendered_seed, rendered),
                                                         min_score)}
    return result
