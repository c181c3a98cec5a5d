"""What the counter detector saw around one swipe, reduced to counts a rule can compare with the bill.

A count must hold in ``min_frames`` of the frames near the swipe (the k-th largest per-frame count),
so one mistaken frame does not accuse a pharmacy. Cards and phones are split by side of the counter:
in the customer zone (a customer paying) or outside it (the cashier holding the card).

One object the detector reads as two classes at once (boxes of different classes overlapping by
``SAME_OBJECT_IOU``, scores within ``CLASS_MARGIN``) is *unclear*: it counts for neither class, so the
goods-swap rule abstains rather than accuse on a coin-flip between "card" and "snack"; the summary's
``unclear`` count tells the inspector why nothing was flagged.

Scores are the detector's calibrated confidences per class (``vision.goods_calibration``). Goods
seen in enough frames but below ``min_score`` (the detector was unsure), or read as two classes at
once, are not counted; the summary then carries a ``goods_unclear`` note (a note, never a flag) so
the inspector sees what was left out and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from rxaudit.domain import DetectedObject, ItemCategory, Observation, Settlement
from vision.zone import point_in_polygon

PAYMENT = ("card", "phone")
SAME_OBJECT_IOU = 0.6  # two boxes this alike are one object
CLASS_MARGIN = 0.2  # a class must beat a rival reading of the same object by this much to count
UNCLEAR = "unclear"
GOODS = ("drug", "non_covered")
GOODS_UNCLEAR = "goods_unclear"


def resolve_classes(objects: Sequence[DetectedObject]) -> list[DetectedObject]:
    """One reading per object: where boxes of different classes cover the same object, the clearly
    stronger class (by ``CLASS_MARGIN``) stands and the rival is dropped; otherwise both become one
    ``unclear`` object (the stronger box, class ``unclear``)."""
    ranked = sorted(objects, key=lambda o: -o.score)
    out: list[DetectedObject] = []
    for obj in ranked:
        rival = next((k for k, kept in enumerate(out) if kept.cls != obj.cls
                      and kept.box.iou(obj.box) >= SAME_OBJECT_IOU), None)
        if rival is None:
            out.append(obj)
        elif out[rival].score - obj.score < CLASS_MARGIN and out[rival].cls != UNCLEAR:
            out[rival] = replace(out[rival], cls=UNCLEAR)
    return out


def held_count(per_frame: Sequence[int], min_frames: int) -> int:
    """The count reached in at least ``min_frames`` frames (all frames when there are fewer)."""
    if not per_frame:
        return 0
    ranked = sorted(per_frame, reverse=True)
    return ranked[min(min_frames, len(ranked)) - 1]


def summarise_goods(observations: Sequence[Observation], t: datetime, *, window_s: float,
                    min_score: float, min_frames: int, zone: Sequence[tuple[float, float]],
                    goods_zone: Sequence[tuple[float, float]]) -> dict[str, Any] | None:
    """None when the detector did not run near ``t`` (no model, or no frame in the window).
    Only objects centred in ``goods_zone`` (the counter top) count; ``zone`` is the customer side."""
    ran = [o for o in observations if o.objects_checked and abs((o.t - t).total_seconds()) <= window_s]
    if not ran:
        return None
    # per frame: what counts (sure enough, centred on the counter top, one class per object)
    counted = [resolve_classes([obj for obj in o.objects
                                if obj.score >= min_score and _inside(obj, goods_zone, *o.frame_size)])
               for o in ran]
    unsure = [sum(obj.cls in GOODS and obj.score < min_score and _inside(obj, goods_zone, *o.frame_size)
                  for obj in o.objects) for o in ran]
    classes = sorted({obj.cls for kept in counted for obj in kept}
                     | {"card", "phone", "drug", "non_covered", UNCLEAR})
    per_frame = {c: [sum(obj.cls == c for obj in kept) for kept in counted] for c in classes}
    sides = [[_inside(obj, zone, *o.frame_size) for obj in kept if obj.cls in PAYMENT]
             for o, kept in zip(ran, counted)]
    best = max(range(len(ran)), key=lambda k: (sum(obj.cls == "non_covered" for obj in counted[k]),
                                               len(counted[k]), -abs((ran[k].t - t).total_seconds())))
    counts = {c: held_count(v, min_frames) for c, v in per_frame.items()}
    summary: dict[str, Any] = {
        "frames": len(ran),
        "counts": counts,
        "payment_customer_side": held_count([sum(side) for side in sides], min_frames),
        "payment_staff_side": held_count([len(side) - sum(side) for side in sides], min_frames),
        "best_t": ran[best].t.isoformat(),
        "objects": [obj.to_json() for obj in counted[best]],
    }
    weak = {"unsure": held_count(unsure, min_frames), "unclear": counts[UNCLEAR]}
    if any(weak.values()):
        summary[GOODS_UNCLEAR] = {**weak, "min_score": min_score}
    return summary


def _inside(obj: DetectedObject, polygon: Sequence[tuple[float, float]], width: int, height: int) -> bool:
    cx, cy = obj.box.center
    return point_in_polygon(cx / max(width, 1), cy / max(height, 1), polygon)


def billed_quantities(s: Settlement) -> dict[str, float]:
    """Billed quantity per catalogue category (covered / other / unknown)."""
    totals = {str(c): 0.0 for c in ItemCategory}
    for item in s.items:
        totals[str(item.category)] += float(item.quantity)
    return totals


def billed_lines(s: Settlement) -> str:
    return "; ".join(f"{i.item_code} {i.item_name} x{i.quantity:g} ({i.category})" for i in s.items) or "none"
