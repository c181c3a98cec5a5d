"""``rxaudit eval-drugs``: the hand-measured boxes, the rectified faces, the frames and the scoring,
with detectors that know where the pasted box is (plain backgrounds: it is what differs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from reconcile.goods import GoodsOptions, summarise_goods
from rxaudit.domain import Box, DetectedObject, Observation
from rxaudit.settings import Settings
from training.drug_photos import (
    BOXES_FILE, POSITIONS, WIDTHS, DrugBox, backgrounds, evaluate_drugs, on_box, rectify, score_box,
)

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "drug-photos"


def test_every_shared_photo_has_hand_measured_corners():
    spec = json.loads(BOXES_FILE.read_text(encoding="utf-8"))
    assert "hand" in spec["_about"].lower() and "never for training" in spec["_about"]
    boxes = [b for p in spec["photos"].values() for b in p["boxes"]]
    assert len(spec["photos"]) == 5 and len(boxes) == 6
    for b in boxes:
        assert len(b["corners"]) == 4 and all(0 <= v <= 1 for c in b["corners"] for v in c)


def test_rectify_turns_a_tilted_quad_upright():
    image = np.zeros((400, 600, 3), np.uint8)
    quad = np.array([(100, 120), (500, 80), (520, 300), (90, 330)], np.int32)
    cv2.fillPoly(image, [quad], (200, 30, 30))
    face = rectify(image, [(x / 600, y / 400) for x, y in quad])
    assert face.shape[1] > face.shape[0] * 1.5  # wider than tall, as the quad
    inner = face[5:-5, 5:-5].reshape(-1, 3)
    assert (np.abs(inner.astype(int) - (200, 30, 30)).max(axis=1) < 40).mean() > 0.97


class Finder:
    """Finds what differs from the plain background (the first frame given) and reads it as ``cls``."""

    def __init__(self, cls="drug"):
        self.cls, self.bg = cls, None

    def detect(self, frames):
        out = []
        for frame in frames:
            found = []
            if self.bg is None:
                self.bg = frame
            else:
                ys, xs = np.nonzero(np.abs(frame.astype(int) - self.bg.astype(int)).max(axis=2) > 45)
                if len(xs):
                    found.append(DetectedObject(Box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), self.cls, 0.9))
            out.append(found)
        return out


def _boxes():
    face = np.full((60, 150, 3), (30, 60, 200), np.uint8)
    cv2.putText(face, "DRUG", (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
    return [DrugBox("a.jpg", "A", face)]


@pytest.mark.parametrize("cls, nc, drug", [("drug", 0.0, 1.0), ("non_covered", 1.0, 0.0)])
def test_each_pasted_box_is_scored_once_per_width_position_and_background(cls, nc, drug):
    scenes = backgrounds(None, None)
    result = evaluate_drugs(Finder(cls), _boxes(), {"grey": scenes["plain grey counter"]},
                            options=GoodsOptions(min_score=0.8))
    assert result["overall"]["boxes"] == len(WIDTHS) * POSITIONS
    assert result["overall"]["non_covered"] == nc and result["overall"]["drug"] == drug
    assert set(result["by_width"]) == {str(w) for w in WIDTHS}


def test_a_box_the_bare_background_already_shows_is_not_the_drugs():
    from training.drug_photos import _not_background

    bare = [DetectedObject(Box(100, 100, 200, 200), "non_covered", 0.9)]
    found = [DetectedObject(Box(105, 100, 200, 205), "non_covered", 0.92),  # the background's, again
             DetectedObject(Box(105, 100, 200, 205), "drug", 0.9),  # another class: kept
             DetectedObject(Box(300, 100, 400, 200), "non_covered", 0.9)]  # elsewhere: kept
    assert _not_background(found, bare) == found[1:]


def test_scores_below_the_rule_threshold_do_not_count():
    truth = Box(100, 100, 200, 150)
    found = [DetectedObject(Box(100, 100, 200, 150), "non_covered", 0.79),
             DetectedObject(Box(140, 110, 160, 140), "drug", 0.85)]  # small, centre inside
    row = score_box(found, truth, GoodsOptions(min_score=0.8))
    assert not row["non_covered"] and row["drug"] and row["read_as"] == "drug"
    assert on_box(found[1], truth) and not on_box(DetectedObject(Box(0, 0, 20, 20), "drug", 0.9), truth)


@pytest.mark.skipif(not PHOTOS.is_dir(), reason="the shared drug photos are not here")
def test_the_shared_photos_load_with_the_sizes_the_corners_were_measured_on():
    from training.drug_photos import drug_boxes

    boxes = drug_boxes(PHOTOS)
    assert len(boxes) == 6
    for b in boxes:
        h, w = b.face.shape[:2]
        assert 80 <= min(h, w) and max(h, w) <= 600


def test_calibration_pairs_pool_every_source_per_class():
    from training.real_calibration import pooled_pairs

    class Fixed:
        def detect(self, frames):
            return [[DetectedObject(Box(0, 0, 10, 10), "non_covered", 0.7),
                     DetectedObject(Box(50, 50, 60, 60), "drug", 0.4)] for _ in frames]

    image = np.zeros((64, 64, 3), np.uint8)
    real = [(image, [("non_covered", Box(0, 0, 10, 10))])]
    rendered = [(image, [("drug", Box(0, 0, 10, 10))])] * 2
    pairs, counts = pooled_pairs(Fixed(), {"real": real, "rendered": rendered})
    assert counts == {"real": {"drug": 1, "non_covered": 1}, "rendered": {"drug": 2, "non_covered": 2}}
    assert sorted(pairs["non_covered"]) == [(0.7, False), (0.7, False), (0.7, True)]
    assert pairs["drug"] == [(0.4, False)] * 3


TRUTH = Box(200, 200, 300, 260)
NC_RIVAL_RUNNER_UP = DetectedObject(TRUTH, "non_covered", 0.9, "drug", 0.6)


@pytest.mark.parametrize("found, accuses, unclear", [
    ([DetectedObject(TRUTH, "non_covered", 0.9)], True, False),  # decisive, uncontested
    ([NC_RIVAL_RUNNER_UP], False, True),  # its own runner-up reads a drug
    ([DetectedObject(TRUTH, "non_covered", 0.9), DetectedObject(Box(205, 200, 300, 262), "drug", 0.55)],
     False, True),  # a drug box over it, too unsure to count but a rival
    ([DetectedObject(TRUTH, "non_covered", 0.7)], False, True),  # unsure: for review only
    ([DetectedObject(TRUTH, "non_covered", 0.9), DetectedObject(TRUTH, "drug", 0.85)], False, True),  # a coin-flip
    ([DetectedObject(TRUTH, "drug", 0.9, "non_covered", 0.3)], False, False),  # a drug
    ([DetectedObject(Box(500, 50, 560, 90), "non_covered", 0.95)], False, False),  # elsewhere, not this box
])
def test_the_eval_counts_an_accusation_where_the_goods_rule_decides_one(found, accuses, unclear):
    """The eval's per-box decision is the goods rule's: the same detections held in every frame near a
    swipe give a decisive non-covered count exactly where the eval counts an accusation."""
    settings = Settings()
    options = GoodsOptions.from_config(settings)
    row = score_box(found, TRUTH, options)
    assert (row["accuses"], row["unclear_only"]) == (accuses, unclear)
    whole = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    frames = [Observation(pharmacy_id="PH1", counter_id="C1", t=T0 + timedelta(seconds=s), persons=(), faces=(),
                          frame_size=(640, 360), objects=tuple(found), objects_checked=True, customers=())
              for s in (-1, 0, 1)]
    rule = summarise_goods(frames, T0, window_s=settings.goods_window_s, min_score=settings.goods_min_score,
                           min_frames=settings.goods_min_frames, zone=whole, goods_zone=whole, options=options)
    on_truth = all(on_box(d, TRUTH) for d in found)
    assert row["accuses"] == (on_truth and rule["decisive"]["non_covered"] > 0)
    assert row["unclear_only"] == (on_truth and rule["decisive"]["non_covered"] == 0
                                   and rule["possible_non_covered"] > 0)


def test_the_eval_reads_the_settings_the_rule_reads():
    options = GoodsOptions.from_config(Settings(goods_rival_min_score=0.65, goods_min_score=0.9))
    assert (options.rival_min_score, options.min_score) == (0.65, 0.9)
    # a runner-up drug at 0.6 no longer competes under a 0.65 rival threshold: the reading accuses
    assert score_box([NC_RIVAL_RUNNER_UP], TRUTH, GoodsOptions.from_config(Settings(goods_rival_min_score=0.65,
                                                                                     goods_min_score=0.85)))["accuses"]
