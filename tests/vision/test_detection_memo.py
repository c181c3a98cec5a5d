"""Models that remember their answers by the frame's pixels: the same answers, one run per distinct frame."""

from __future__ import annotations

import numpy as np
import pytest

from rxaudit.domain import Box, Face, Person
from tests.factories import detected, person
from vision.detection_memo import Memo, RememberingDetector, RememberingFaces, frame_key, memo_stats, remembering
from vision.model_set import Models


class CountingDetector:
    """Answers by the frame's mean brightness; counts the frames it was given."""

    size = (360, 640)

    def __init__(self) -> None:
        self.frames = 0

    def detect(self, frames):
        self.frames += len(frames)
        return [[detected("card", x=float(f.mean()))] for f in frames]


class CountingFaces:
    def __init__(self) -> None:
        self.calls = 0

    def faces(self, frame, regions):
        self.calls += 1
        return [Face(r.box if hasattr(r, "keypoints") else r) for r in regions]


def frame(value: int, shape=(36, 64, 3)) -> np.ndarray:
    return np.full(shape, value, np.uint8)


def test_a_frame_seen_again_is_answered_without_running_the_model():
    inner = CountingDetector()
    memo = RememberingDetector(inner, capacity=8)
    first = memo.detect([frame(10), frame(20)])
    again = memo.detect([frame(20), frame(30), frame(10).copy()])  # equal pixels, another array
    assert inner.frames == 3
    assert [o[0].box for o in again] == [first[1][0].box, CountingDetector().detect([frame(30)])[0][0].box,
                                         first[0][0].box]
    assert memo.memo.stats.hits == 2 and memo.memo.stats.misses == 3


@pytest.mark.parametrize("other", [
    frame(10, (36, 64, 1)).repeat(3, axis=2)[:, :, :2],  # another shape
    frame(10).astype(np.float32),  # another dtype, same values
    np.where(np.arange(36 * 64 * 3).reshape(36, 64, 3) == 5, 11, 10).astype(np.uint8),  # one value differs
])
def test_any_other_frame_is_a_new_frame(other):
    inner = CountingDetector()
    memo = RememberingDetector(inner, capacity=8)
    memo.detect([frame(10)])
    memo.detect([other])
    assert inner.frames == 2


def test_the_least_recently_used_answer_is_dropped_first():
    inner = CountingDetector()
    memo = RememberingDetector(inner, capacity=2)
    memo.detect([frame(1)])
    memo.detect([frame(2)])
    memo.detect([frame(1)])  # used again: frame 2 is now the oldest
    memo.detect([frame(3)])
    assert len(memo.memo) == 2
    memo.detect([frame(1)])
    assert inner.frames == 3
    memo.detect([frame(2)])
    assert inner.frames == 4


def test_callers_cannot_change_a_remembered_answer():
    memo = RememberingDetector(CountingDetector(), capacity=4)
    answer = memo.detect([frame(5)])[0]
    answer.clear()
    assert len(memo.detect([frame(5)])[0]) == 1


def test_faces_are_remembered_per_frame_and_regions():
    inner = CountingFaces()
    memo = RememberingFaces(inner, capacity=8)
    a, b = person(10, 10, 30, 50), person(12, 10, 32, 50)
    memo.faces(frame(1), [a])
    memo.faces(frame(1), [a])
    memo.faces(frame(1), [b])
    memo.faces(frame(2), [a])
    memo.faces(frame(1), [Box(10, 10, 30, 50)])
    assert inner.calls == 4


def test_moved_keypoints_make_another_region():
    a = person(10, 10, 30, 50)
    moved = person(10, 10, 30, 50)
    moved.keypoints[9] = (1.0, 2.0, 0.9)
    assert frame_key(frame(1), [a]) != frame_key(frame(1), [moved])
    assert frame_key(frame(1), [a]) == frame_key(frame(1), [person(10, 10, 30, 50)])


def test_remembering_wraps_each_model_once_and_zero_leaves_them():
    models = Models(persons=CountingDetector(), faces=CountingFaces(), objects=CountingDetector())
    assert remembering(models, 0) is models
    wrapped = remembering(models, 16)
    assert remembering(wrapped, 16) is wrapped
    assert wrapped.persons.size == (360, 640)  # the inner model's other attributes
    wrapped.persons.detect([frame(1)])
    wrapped.persons.detect([frame(1)])
    assert memo_stats(wrapped) == {"persons": {"hits": 1, "misses": 1}, "objects": {"hits": 0, "misses": 0},
                                   "faces": {"hits": 0, "misses": 0}}
    assert remembering(Models(persons=CountingDetector(), faces=None), 4).objects is None
    assert memo_stats(models) == {}


@pytest.mark.parametrize("capacity", [0, -1])
def test_a_memo_holds_at_least_one_answer(capacity):
    with pytest.raises(ValueError, match="at least 1"):
        Memo(capacity)



def test_regions_of_another_kind_are_another_key():
    """A box then a person, and a person then a box, made of the very same numbers."""
    a, b = Box(1, 2, 3, 4), Box(10, 10, 30, 50)
    keypoints = np.zeros((17, 3), np.float32)
    numbers = np.concatenate([[b.x1, b.y1, b.x2, b.y2], keypoints.reshape(-1)])  # 55
    box_then_person = [a, Person(box=b, score=0.9, keypoints=keypoints)]
    person_then_box = [Person(box=a, score=0.9, keypoints=numbers[:51].reshape(17, 3).astype(np.float32)),
                       Box(*numbers[51:])]
    assert frame_key(frame(1), box_then_person) != frame_key(frame(1), person_then_box)
