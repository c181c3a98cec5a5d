"""``rxaudit calibrate-faces``: the statistics it reports, tracks linked by position, and on real
clips the default encoder (SFace) separating people at least as well as dlib's."""

from __future__ import annotations

import numpy as np
import pytest

from rxaudit.domain import Box
from rxaudit.errors import InputError
from tests.conftest import FOOTAGE
from training.face_calibration import calibrate_faces, summarise
from vision.calibration import auc, error_rates, face_tracks, pick_threshold
from vision.faces_yunet import FaceDetection


@pytest.mark.parametrize("same, diff, threshold", [
    ([0.1, 0.3], [0.7, 0.9], 0.5),           # separated: halfway into the gap
    ([0.1, 0.6], [0.5, 0.9], 0.5),           # overlap: just under the closest two people
    ([0.2], [0.2, 0.8], 0.2),                # a tie counts against merging people
])
def test_threshold_merges_no_two_people(same, diff, threshold):
    t = pick_threshold(same, diff)
    assert t == pytest.approx(threshold, abs=1e-9)
    assert error_rates(same, diff, t)["false_match_rate"] == 0.0


@pytest.mark.parametrize("same, diff, t, fmr, fnmr", [
    ([0.1, 0.3, 0.5, 0.7], [0.4, 0.8], 0.45, 0.5, 0.5),
    ([0.1], [0.2], 0.1, 0.0, 0.0),
    ([0.3], [0.2], 0.25, 1.0, 1.0),
])
def test_error_rates(same, diff, t, fmr, fnmr):
    assert error_rates(same, diff, t) == {"threshold": t, "false_match_rate": fmr, "false_non_match_rate": fnmr}


@pytest.mark.parametrize("same, diff, value", [([0.1], [0.9], 1.0), ([0.9], [0.1], 0.0), ([0.5], [0.5], 0.5),
                                               ([0.1, 0.6], [0.5, 0.9], 0.75)])
def test_auc(same, diff, value):
    assert auc(same, diff) == value


class ScriptedLocator:
    def __init__(self, per_frame):
        self.per_frame = iter(per_frame)

    def locate(self, frame):
        return [FaceDetection(Box(x, y, x + 20, y + 20), 0.9, None) for x, y in next(self.per_frame)]


def test_faces_link_into_tracks_by_position():
    # two people side by side; the left one vanishes for a frame; a third appears far away
    frames = [[(0, 0), (100, 0)], [(3, 1), (101, 0)], [(102, 2)], [(5, 0), (103, 1), (300, 0)]]
    tracks = face_tracks("clip", [None] * len(frames), ScriptedLocator(frames))
    assert [t.frames for t in tracks] == [[0, 1, 3], [0, 1, 2, 3], [3]]


def test_sface_separates_people_on_real_clips_at_least_as_well_as_dlib():
    result = calibrate_faces(FOOTAGE, scales=(0.6,))
    sface, dlib = result["sface"]["scale_0.6"], result["dlib"]["scale_0.6"]
    assert sface["visits"] == dlib["visits"] >= 10  # both encoders saw the same detections
    assert sface["visit_different_people"]["n"] > 0 and sface["visit_same_person"]["n"] > 0
    assert sface["auc"] >= dlib["auc"]
    assert sface["margin"] > 0
    assert sface["at_default"]["false_match_rate"] == 0.0
    assert result["configured"] == {"face_encoder": "sface", "face_distance_threshold": 0.89}
    assert np.isfinite(sface["best"]["threshold"])
    assert result["summary"]["better"] == "sface"


def test_summary_takes_the_worst_scale_and_names_the_better_encoder():
    per = {"a": {"s1": {"auc": 0.99, "best": {"threshold": 0.5, "false_non_match_rate": 0.1}},
                 "s2": {"auc": 0.97, "best": {"threshold": 0.4, "false_non_match_rate": 0.2}}},
           "b": {"s1": {"auc": 0.98, "best": {"threshold": 1.0, "false_non_match_rate": 0.0}}}}
    assert summarise(per) == {"a": {"worst_auc": 0.97, "threshold": 0.4, "worst_false_non_match_rate": 0.2},
                              "b": {"worst_auc": 0.98, "threshold": 1.0, "worst_false_non_match_rate": 0.0},
                              "better": "b"}


def test_a_folder_without_the_clips_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="none of the calibration clips"):
        calibrate_faces(tmp_path)
