"""Which goods on the counter came with the customer: not those on display, not those already there.

A pharmacy's counter often has goods of its own on it: boxes displayed under a glass counter top,
a basket of throat sweets, a bag the last customer left. None of them are the customer's purchase.
Two rules keep them out of the goods-swap comparison:

- a camera's ``display_zone`` (cameras.yaml): goods centred in it never count;
- goods that were already on the counter before the customer arrived: the last customer-free
  frame the counter detector checked before the customer zone filled (a queue keeps it filled from
  one customer to the next) is the counter as the customers found it, and a goods box seen near the
  swipe that overlaps a goods box seen there (``still_iou``, any goods class: a drug box read as a
  snack once is the same box) was lying there before. Where no such frame was checked (the customer stood there before the
  footage began), nothing is excluded this way and the summary says so (``baseline_t`` None).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rxaudit.domain import Box, DetectedObject, Observation
from vision.zone import point_in_polygon

GOODS = ("drug", "non_covered")


@dataclass(frozen=True)
class Baseline:
    """The counter as the customer found it: the goods boxes of the last customer-free checked frame
    before their arrival (``t`` None: no such frame)."""

    t: datetime | None = None
    boxes: tuple[Box, ...] = ()

    def holds(self, obj: DetectedObject, still_iou: float) -> bool:
        return any(obj.box.iou(box) >= still_iou for box in self.boxes)


def centred_in(obj: DetectedObject, polygon: Sequence[tuple[float, float]], size: tuple[int, int]) -> bool:
    width, height = size
    cx, cy = obj.box.center
    return point_in_polygon(cx / max(width, 1), cy / max(height, 1), polygon)


def on_display(obj: DetectedObject, display_zone: Sequence[tuple[float, float]] | None,
               size: tuple[int, int]) -> bool:
    return bool(display_zone) and centred_in(obj, display_zone, size)


def baseline_before(observations: Sequence[Observation], arrival: datetime | None, *, lookback_s: float,
                    goods_zone: Sequence[tuple[float, float]],
                    display_zone: Sequence[tuple[float, float]] | None) -> Baseline:
    """The counter as it was before the customers of this stretch came: the customer zone has been
    occupied without a break from some moment up to ``arrival`` (the start of the visit at payment;
    None: no visit), one customer queueing behind the next; the baseline is the last frame the
    counter detector checked with nobody there, at most ``lookback_s`` before that moment.
    ``observations`` are in time order; a gap in the footage longer than ``lookback_s`` on the way
    back leaves the stretch's start unknown (no baseline)."""
    if arrival is None or lookback_s <= 0:
        return Baseline()
    k = bisect_left(observations, arrival, key=lambda o: o.t)
    later = arrival
    while k > 0:
        k -= 1
        o = observations[k]
        if (later - o.t).total_seconds() > lookback_s:
            return Baseline()
        if not o.customers:
            break
        later = o.t
    else:
        return Baseline()
    empty_at = observations[k].t
    while k >= 0 and (empty_at - observations[k].t).total_seconds() <= lookback_s:
        last = observations[k]
        if last.objects_checked and not last.customers:
            return Baseline(last.t, tuple(obj.box for obj in last.objects if obj.cls in GOODS
                                          and centred_in(obj, goods_zone, last.frame_size)
                                          and not on_display(obj, display_zone, last.frame_size)))
        k -= 1
    return Baseline()
