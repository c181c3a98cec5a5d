from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.factories import T0, person
from vision.tracking import IouTracker
from vision.zone import in_zone, point_in_polygon

RED = np.zeros(144, np.float32); RED[0] = 1.0
BLUE = np.zeros(144, np.float32); BLUE[100] = 1.0


def at(s: float):
    return T0 + timedelta(seconds=s)


def test_standing_person_keeps_one_id():
    tracker = IouTracker()
    ids = {tracker.update(at(k / 2), [person(100 + k, 100, 200 + k, 300)])[0].track_id for k in range(10)}
    assert len(ids) == 1


def test_gap_longer_than_max_gives_a_new_id():
    tracker = IouTracker(max_gap_s=2.0)
    first = tracker.update(at(0), [person()])[0].track_id
    assert tracker.update(at(1.5), [person()])[0].track_id == first
    assert tracker.update(at(4.0), [person()])[0].track_id != first


def test_a_different_person_stepping_into_the_same_place_gets_a_new_id():
    tracker = IouTracker()
    a = tracker.update(at(0), [person(appearance=RED)])[0].track_id
    b = tracker.update(at(0.5), [person(appearance=BLUE)])[0].track_id
    assert a != b


def test_two_people_keep_their_ids():
    tracker = IouTracker()
    first = tracker.update(at(0), [person(0, 0, 100, 200), person(300, 0, 400, 200)])
    second = tracker.update(at(0.5), [person(305, 0, 405, 200), person(5, 0, 105, 200)])
    assert [p.track_id for p in second] == [first[1].track_id, first[0].track_id]


@pytest.mark.parametrize("x, y, inside", [(0.5, 0.5, True), (0.7, 0.5, False), (0.1, 0.99, True), (-0.1, 0.5, False)])
def test_point_in_polygon(x, y, inside):
    assert point_in_polygon(x, y, [(0, 0), (0.66, 0), (0.66, 1), (0, 1)]) is inside


def test_in_zone_uses_box_centre_in_relative_coordinates():
    zone = [(0, 0), (0.5, 0), (0.5, 1), (0, 1)]
    assert in_zone(person(100, 100, 200, 300), zone, (640, 360))
    assert not in_zone(person(400, 100, 500, 300), zone, (640, 360))
