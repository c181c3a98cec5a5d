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
once, are not counted; the summary then carries a ``goods_unclear`` note so the inspector sees
what was left out and why.

Only goods that came with the customer count (``reconcile.goods_arrival``): not those in the camera's
``display_zone``, not those lying on the counter before the customer arrived.

A non-covered reading is *decisive* (``decisive["non_covered"]``, what the goods-swap rule may accuse
on) only when it is sure (``min_score``), held in enough of the frames checked near the swipe
(``min_frames``, and ``min_share`` of them), and no reading of the same object as a drug competes
with it: neither the box's own runner-up class (``DetectedObject.runner_up``) nor a drug box over
the same object in any of those frames, at ``rival_min_score`` or more. ``possible_non_covered``
counts what might be non-covered (``review_min_score`` on either reading): where it exceeds the
bill but the decisive count does not, the rule abstains with a ``goods_unclear`` flag for review.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from math import ceil
from typing import Any

from reconcile.goods_arrival import GOODS, baseline_before, centred_in, on_display
from rxaudit.domain import Box, DetectedObject, ItemCategory, Observation, Settlement

PAYMENT = ("card", "phone")
SAME_OBJECT_IOU = 0.6  # two boxes this alike are one object
CLASS_MARGIN = 0.2  # a class must beat a rival reading of the same object by this much to count
UNCLEAR = "unclear"
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


@dataclass(frozen=True)
class GoodsOptions:
    """The thresholds of the goods summary (``rxaudit.settings``: ``goods_*``)."""

    window_s: float = 1.5
    min_score: float = 0.8
    min_frames: int = 2
    min_share: float = 0.0  # a decisive reading holds in at least this share of the checked frames
    rival_min_score: float = 1.01  # above 1: rival readings are not looked for
    review_min_score: float = 1.01  # above 1: nothing is put up for review
    still_iou: float = 0.5
    arrival_lookback_s: float = 0.0  # 0: goods already on the counter are not told apart

    @classmethod
    def from_config(cls, c: Any) -> GoodsOptions:
        """From anything with the ``goods_*`` settings (``rxaudit.settings.Settings``, ``RuleConfig``)."""
        return cls(window_s=c.goods_window_s, min_score=c.goods_min_score, min_frames=c.goods_min_frames,
                   min_share=c.goods_min_share, rival_min_score=c.goods_rival_min_score,
                   review_min_score=c.goods_review_min_score, still_iou=c.goods_still_iou,
                   arrival_lookback_s=c.goods_arrival_lookback_s)


@dataclass(frozen=True)
class FrameReading:
    """One frame's goods as the goods-swap rule reads them (``read_frame``)."""

    counted: list[DetectedObject]  # sure enough (``min_score``), one class per object
    decisive: list[DetectedObject]  # non-covered readings no drug reading competes with: may accuse
    contested: list[DetectedObject]  # non-covered readings a drug reading of the same object competes with
    possible: list[DetectedObject]  # might be non-covered (``review_min_score``, either reading), one per object


def drug_rivals(frames: Sequence[Sequence[DetectedObject]], opts: GoodsOptions) -> list[Box]:
    """The boxes read as a drug (own class or runner-up) at ``rival_min_score`` in any of ``frames``."""
    return [obj.box for objs in frames for obj in objs if obj.score_of("drug") >= opts.rival_min_score]


def read_frame(objects: Sequence[DetectedObject], rivals: Sequence[Box], opts: GoodsOptions) -> FrameReading:
    """The goods rule's per-object decision on one frame's objects (those that count: on the counter,
    off the display, arrived with the customer); ``rivals``: ``drug_rivals`` of the frames checked."""
    counted = resolve_classes([obj for obj in objects if obj.score >= opts.min_score])
    non_covered = [obj for obj in counted if obj.cls == "non_covered"]
    possible = _one_per_object([obj for obj in objects if obj.score_of("non_covered") >= opts.review_min_score])
    return FrameReading(counted, [obj for obj in non_covered if not _contested(obj, rivals, opts)],
                        [obj for obj in non_covered if _contested(obj, rivals, opts)], possible)


def summarise_goods(observations: Sequence[Observation], t: datetime, *, window_s: float,
                    min_score: float, min_frames: int, zone: Sequence[tuple[float, float]],
                    goods_zone: Sequence[tuple[float, float]],
                    display_zone: Sequence[tuple[float, float]] | None = None,
                    arrival: datetime | None = None, options: GoodsOptions | None = None) -> dict[str, Any] | None:
    """None when the detector did not run near ``t`` (no model, or no frame in the window).
    Only objects centred in ``goods_zone`` (the counter top) and not in ``display_zone`` count, and
    of the goods only those not lying there before ``arrival`` (the customer's; None: unknown);
    ``zone`` is the customer side. ``options``: the further thresholds (window and the first ones
    come from the keywords)."""
    opts = replace(options or GoodsOptions(), window_s=window_s, min_score=min_score, min_frames=min_frames)
    ran = [o for o in observations if o.objects_checked and abs((o.t - t).total_seconds()) <= window_s]
    if not ran:
        return None
    baseline = baseline_before(observations, arrival, lookback_s=opts.arrival_lookback_s,
                               goods_zone=goods_zone, display_zone=display_zone)
    # per frame: what lies on the counter top, off the display, and did not lie there before
    present = [[obj for obj in o.objects if centred_in(obj, goods_zone, o.frame_size)] for o in ran]
    display = [[obj for obj in objs if obj.cls in GOODS and on_display(obj, display_zone, o.frame_size)]
               for o, objs in zip(ran, present)]
    left = [[obj for obj in objs if not (obj.cls in GOODS and on_display(obj, display_zone, o.frame_size))]
            for o, objs in zip(ran, present)]  # a card laid on the glass top is still a card
    before = [[obj for obj in objs if obj.cls in GOODS and baseline.holds(obj, opts.still_iou)] for objs in left]
    here = [[obj for obj in objs if not (obj.cls in GOODS and baseline.holds(obj, opts.still_iou))]
            for objs in left]
    # what counts (sure enough, one class per object), and each non-covered reading's weight
    rivals = drug_rivals(here, opts)
    readings = [read_frame(objs, rivals, opts) for objs in here]
    counted = [r.counted for r in readings]
    unsure = [sum(obj.cls in GOODS and obj.score < min_score for obj in objs) for objs in here]
    classes = sorted({obj.cls for kept in counted for obj in kept}
                     | {"card", "phone", "drug", "non_covered", UNCLEAR})
    per_frame = {c: [sum(obj.cls == c for obj in kept) for kept in counted] for c in classes}
    sides = [[_inside(obj, zone, *o.frame_size) for obj in kept if obj.cls in PAYMENT]
             for o, kept in zip(ran, counted)]
    best = max(range(len(ran)), key=lambda k: (sum(obj.cls == "non_covered" for obj in counted[k]),
                                               len(counted[k]), -abs((ran[k].t - t).total_seconds())))
    counts = {c: held_count(v, min_frames) for c, v in per_frame.items()}
    decisive = [len(r.decisive) for r in readings]
    contested = [len(r.contested) for r in readings]
    possible = [len(r.possible) for r in readings]
    summary: dict[str, Any] = {
        "frames": len(ran),
        "counts": counts,
        "decisive": {"non_covered": held_count(decisive, max(min_frames, ceil(opts.min_share * len(ran))))},
        "possible_non_covered": max(held_count(possible, min_frames), counts["non_covered"]),
        "payment_customer_side": held_count([sum(side) for side in sides], min_frames),
        "payment_staff_side": held_count([len(side) - sum(side) for side in sides], min_frames),
        "best_t": ran[best].t.isoformat(),
        "objects": [obj.to_json() for obj in counted[best]],
        "baseline_t": None if baseline.t is None else baseline.t.isoformat(),
        "already_there": held_count([len(b) for b in before], min_frames),
        "on_display": held_count([len(d) for d in display], min_frames),
    }
    weak = {"unsure": held_count(unsure, min_frames), "unclear": counts[UNCLEAR]}
    if held_count(contested, min_frames):
        weak["contested"] = held_count(contested, min_frames)
    if any(weak.values()):
        summary[GOODS_UNCLEAR] = {**weak, "min_score": min_score}
    return summary


def _contested(obj: DetectedObject, rivals: Sequence[Box], opts: GoodsOptions) -> bool:
    """A drug reading of the same object competes: the box's runner-up, or a drug box over it (in any
    of the frames near the swipe: the counter does not move between them)."""
    return (obj.score_of("drug") >= opts.rival_min_score
            or any(obj.box.iou(box) >= SAME_OBJECT_IOU for box in rivals))


def _one_per_object(objects: Sequence[DetectedObject]) -> list[DetectedObject]:
    kept: list[DetectedObject] = []
    for obj in sorted(objects, key=lambda o: -o.score):
        if all(obj.box.iou(other.box) < SAME_OBJECT_IOU for other in kept):
            kept.append(obj)
    return kept


def _inside(obj: DetectedObject, polygon: Sequence[tuple[float, float]], width: int, height: int) -> bool:
    return centred_in(obj, polygon, (width, height))


def billed_quantities(s: Settlement) -> dict[str, float]:
    """Billed quantity per catalogue category (covered / other / unknown)."""
    totals = {str(c): 0.0 for c in ItemCategory}
    for item in s.items:
        totals[str(item.category)] += float(item.quantity)
    return totals


def billed_lines(s: Settlement) -> str:
    return "; ".join(f"{i.item_code} {i.item_name} x{i.quantity:g} ({i.category})" for i in s.items) or "none"
