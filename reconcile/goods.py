"""What the counter detector saw around one swipe, reduced to counts a rule can compare with the bill.

A count must hold in ``min_frames`` of the frames near the swipe (the k-th largest per-frame count),
so one mistaken frame does not accuse a pharmacy. Cards and phones are split by side of the counter:
in the customer zone (a customer paying) or outside it (the cashier holding the card).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rxaudit.domain import DetectedObject, ItemCategory, Observation, Settlement
from vision.zone import point_in_polygon

PAYMENT = ("card", "phone")


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
    classes = sorted({obj.cls for o in ran for obj in o.objects} | {"card", "phone", "drug", "non_covered"})
    # per frame: what counts (sure enough, centred on the counter top)
    counted = [[obj for obj in o.objects if obj.score >= min_score and _inside(obj, goods_zone, *o.frame_size)]
               for o in ran]
    per_frame = {c: [sum(obj.cls == c for obj in kept) for kept in counted] for c in classes}
    sides = [[_inside(obj, zone, *o.frame_size) for obj in kept if obj.cls in PAYMENT]
             for o, kept in zip(ran, counted)]
    best = max(range(len(ran)), key=lambda k: (sum(obj.cls == "non_covered" for obj in counted[k]),
                                               len(counted[k]), -abs((ran[k].t - t).total_seconds())))
    return {
        "frames": len(ran),
        "counts": {c: held_count(v, min_frames) for c, v in per_frame.items()},
        "payment_customer_side": held_count([sum(side) for side in sides], min_frames),
        "payment_staff_side": held_count([len(side) - sum(side) for side in sides], min_frames),
        "best_t": ran[best].t.isoformat(),
        "objects": [obj.to_json() for obj in counted[best]],
    }


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
