"""The goods head's second opinion (vision.goods_head): which readings it checks, what a disagreement
becomes, the head file's checks, and the goods rule reading the result (never decisive)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reconcile.goods import GoodsOptions, drug_rivals, read_frame
from rxaudit.domain import Box, DetectedObject
from rxaudit.errors import ModelError
from vision.goods_head import SIZE, LogisticHead, SecondOpinionDetector, crop, second_opinion

OPTS = GoodsOptions(min_score=0.8, rival_min_score=0.5, review_min_score=0.5)


def obj(cls, score, x=10):
    return DetectedObject(Box(x, 10, x + 40, 50), cls, score)


@pytest.mark.parametrize("cls, p, expect_cls, expect_runner_up", [
    ("non_covered", 0.9, "drug", "non_covered"),  # the head reads drug packaging: a disagreement
    ("non_covered", 0.5, "drug", "non_covered"),  # at the threshold
    ("non_covered", 0.49, "non_covered", None),  # the head agrees: unchanged
    ("drug", 0.0, "drug", None),  # drug readings never accuse: left alone
    ("card", 0.0, "card", None),
])
def test_second_opinion_turns_only_disputed_non_covered_readings(cls, p, expect_cls, expect_runner_up):
    before = obj(cls, 0.93)
    after = second_opinion(before, p, 0.5)
    assert (after.cls, after.runner_up) == (expect_cls, expect_runner_up)
    assert after.score == 0.93 and after.box == before.box
    if expect_runner_up:
        assert after.score_of("non_covered") == 0.93


@pytest.mark.parametrize("p, expect_cls, expect_runner_up, decisive", [
    (0.05, "non_covered", None, True),  # clearly not a drug: may accuse
    (0.2, "non_covered", "drug", False),  # not clearly: contested, for review
    (0.49, "non_covered", "drug", False),
    (0.6, "drug", "non_covered", False),
])
def test_a_reading_accuses_only_below_the_heads_accusation_threshold(p, expect_cls, expect_runner_up, decisive):
    after = second_opinion(obj("non_covered", 0.9), p, 0.5, accuse_below=0.15)
    assert (after.cls, after.runner_up) == (expect_cls, expect_runner_up)
    reading = read_frame([after], drug_rivals([[after]], OPTS), OPTS)
    assert bool(reading.decisive) is decisive
    assert len(reading.possible) == 1  # every one of them is at least for review


def test_the_accusation_threshold_cannot_lie_above_the_drug_threshold():
    with pytest.raises(ValueError, match="accuse_below"):
        SecondOpinionDetector(Inner([]), Head(0.1), min_score=0.5, drug_score=0.5, accuse_below=0.6)


def test_a_disputed_reading_is_for_review_never_decisive():
    disputed = [second_opinion(obj("non_covered", 0.95), 0.8, 0.5)]
    reading = read_frame(disputed, drug_rivals([disputed], OPTS), OPTS)
    assert reading.decisive == [] and reading.contested == []
    assert len(reading.possible) == 1  # goods_unclear: an inspector looks
    agreed = [second_opinion(obj("non_covered", 0.95), 0.1, 0.5)]
    assert len(read_frame(agreed, drug_rivals([agreed], OPTS), OPTS).decisive) == 1


class Inner:
    def __init__(self, objects):
        self.objects = objects

    def detect(self, frames):
        return [list(self.objects) for _ in frames]


class Head:
    def __init__(self, p):
        self.p, self.asked = p, []

    def p_drug(self, frame, boxes):
        self.asked.append(list(boxes))
        return np.full(len(boxes), self.p)


def test_the_head_runs_only_on_non_covered_readings_that_can_count():
    objects = [obj("non_covered", 0.9, 0), obj("non_covered", 0.3, 100), obj("drug", 0.9, 200), obj("card", 0.9, 300)]
    head = Head(0.7)
    detector = SecondOpinionDetector(Inner(objects), head, min_score=0.5, drug_score=0.5)
    [found] = detector.detect([np.zeros((60, 400, 3))])
    assert head.asked == [[objects[0].box]]
    assert [o.cls for o in found] == ["drug", "non_covered", "drug", "card"]  # the 0.3 one is not checked


def test_no_box_no_head_call():
    head = Head(0.9)
    [found] = SecondOpinionDetector(Inner([obj("drug", 0.9)]), head, min_score=0.5, drug_score=0.5).detect(
        [np.zeros((60, 400, 3))])
    assert head.asked == [[]] and found[0].cls == "drug"


def test_crop_is_the_heads_input_size_and_refuses_a_box_off_the_frame():
    frame = np.zeros((360, 640, 3), np.uint8)
    assert crop(frame, Box(600, 340, 640, 360)).shape == (SIZE, SIZE, 3)
    assert crop(frame, (0.0, 0.0, 3.0, 2.0)).shape == (SIZE, SIZE, 3)
    with pytest.raises(ValueError, match="outside the frame"):
        crop(frame, Box(700, 10, 720, 30))


def _head_file(tmp_path, **change):
    data = {"mean": [0.0, 0.0], "scale": [1.0, 1.0], "weights": [2.0, -2.0], "bias": 0.0, "meta": {}}
    data.update(change)
    path = tmp_path / "head.json"
    path.write_text(json.dumps(data))
    return path


def test_a_head_file_round_trips(tmp_path):
    head = LogisticHead.read(_head_file(tmp_path), dim=2)
    p = head.p_drug(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert p[0] > 0.8 and p[1] < 0.2
    again = tmp_path / "again.json"
    again.write_text(json.dumps(head.to_json()))
    assert np.allclose(LogisticHead.read(again, dim=2).p_drug(np.eye(2)), p)


@pytest.mark.parametrize("change, message", [
    ({"weights": [1.0]}, "do not fit"),
    ({"scale": [1.0, 0.0]}, "not positive"),
    ({"bias": "x"}, "not a head file"),
    ({"mean": None}, "do not fit"),
])
def test_a_bad_head_file_is_a_model_error(tmp_path, change, message):
    with pytest.raises(ModelError, match=message):
        LogisticHead.read(_head_file(tmp_path, **change), dim=2)


def test_a_head_for_other_features_is_refused(tmp_path):
    with pytest.raises(ModelError, match="do not fit features of 1280"):
        LogisticHead.read(_head_file(tmp_path), dim=1280)


def test_a_missing_head_file_says_so(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        LogisticHead.read(tmp_path / "none.json")


def test_the_settings_build_the_detector_with_or_without_the_head():
    from rxaudit.settings import Settings
    from vision.goods_head import counter_detector
    from vision.objects import OnnxObjectDetector

    assert isinstance(counter_detector(Settings()), OnnxObjectDetector)  # off by default
    plain = counter_detector(Settings(goods_head=True))
    assert isinstance(plain, SecondOpinionDetector) and plain.accuse_below == plain.drug_score  # no band
    assert isinstance(counter_detector(Settings(goods_head=False), head=True), SecondOpinionDetector)
    assert isinstance(counter_detector(Settings(goods_head=True), head=False), OnnxObjectDetector)
    strict = counter_detector(Settings(goods_head=True, goods_head_strict=True))
    assert 0 < strict.accuse_below < strict.drug_score  # the head file's threshold, fixed on renders
    assert strict.size == plain.inner.size


def test_a_missing_head_fails_at_load_with_the_key_to_fix(tmp_path):
    from rxaudit.settings import Settings
    from vision.goods_head import counter_detector

    with pytest.raises(ModelError, match="missing"):
        counter_detector(Settings(goods_head=True, goods_head_model=tmp_path / "none.json"))
