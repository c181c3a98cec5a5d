from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import numpy as np
import pytest

from rxaudit.domain import Box, Face, Flag, FlagKind, Person
from tests.factories import settlement, visit


@pytest.mark.parametrize("change, message", [
    ({"settled_at": datetime(2026, 11, 20, 10)}, "timezone-aware"),
    ({"settlement_id": ""}, "settlement_id"),
    ({"amount": Decimal("-1")}, "negative"),
])
def test_settlement_validation(change, message):
    with pytest.raises(ValueError, match=message):
        replace(settlement(), **change)


def test_box_geometry():
    a, b = Box(0, 0, 10, 10), Box(5, 0, 15, 10)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.center == (5, 5) and a.contains(10, 10)
    with pytest.raises(ValueError):
        Box(10, 0, 0, 10)


def test_person_and_face_shapes_are_checked():
    with pytest.raises(ValueError):
        Person(box=Box(0, 0, 1, 1), score=0.5, keypoints=np.zeros((5, 3)))
    with pytest.raises(ValueError):
        Person(box=Box(0, 0, 1, 1), score=1.5, keypoints=np.zeros((17, 3)))
    with pytest.raises(ValueError):
        Face(box=Box(0, 0, 1, 1), encoding=np.zeros(64))


def test_flag_needs_reason_and_score_in_range():
    with pytest.raises(ValueError):
        Flag("S1", FlagKind.BURST, 0.5, "")
    with pytest.raises(ValueError):
        Flag("S1", FlagKind.BURST, 2.0, "why")
    assert Flag("S1", FlagKind.BURST, 0.5, "why").to_json()["kind"] == "burst"


def test_visit_box_at_picks_nearest_sighting():
    v = visit(0, 10)
    assert v.box_at(v.start) == v.sightings[0][1]
    assert v.covers(v.end) and not v.covers(v.end.replace(year=2027))
