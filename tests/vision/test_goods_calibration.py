"""Per-class score calibration: isotonic fit, the file beside the model, and the detector using it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rxaudit.errors import ModelError
from rxaudit.settings import MODELS_DIR
from sample_footage.detection_set import render_image
from vision.goods_calibration import ScoreCalibration, calibration_path, fit, isotonic
from vision.objects import OnnxObjectDetector


@pytest.mark.parametrize("values, expected", [
    ([0, 0, 1, 1], [0, 0, 1, 1]),
    ([1, 0], [0.5, 0.5]),
    ([0, 1, 0, 1, 1], [0, 0.5, 0.5, 1, 1]),
    ([], []),
])
def test_isotonic_fit_never_falls(values, expected):
    assert isotonic(values) == pytest.approx(expected)


def test_fit_maps_raw_scores_to_the_share_right():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 4000)
    right = rng.uniform(0, 1, 4000) < scores ** 2  # a detector that is over-confident
    calibration = fit({"drug": list(zip(scores, right)), "card": [(0.9, True)] * 5}, "test")
    assert set(calibration.curves) == {"drug"}  # too few card detections: card keeps raw scores
    assert calibration.confidence("drug", 0.5) == pytest.approx(0.25, abs=0.07)
    assert calibration.confidence("drug", 0.9) == pytest.approx(0.81, abs=0.07)
    assert calibration.confidence("card", 0.9) == 0.9
    again = ScoreCalibration.from_json(json.loads(json.dumps(calibration.to_json())))
    assert again.confidence("drug", 0.5) == calibration.confidence("drug", 0.5)


@pytest.mark.parametrize("entry", [
    {"scores": [0.5, 0.2], "precision": [0.1, 0.9]},
    {"scores": [0.1, 0.2], "precision": [0.1]},
    {"scores": [], "precision": []},
])
def test_a_bad_calibration_file_fails_at_start(tmp_path, entry):
    model = tmp_path / "m.onnx"
    shutil.copyfile(MODELS_DIR / "counter-objects.onnx", model)
    calibration_path(model).write_text(json.dumps({"classes": {"drug": entry}}))
    with pytest.raises(ModelError, match="calibration file"):
        OnnxObjectDetector(model)


def test_the_detector_reports_calibrated_scores_where_a_table_sits_beside_the_model(tmp_path):
    model = tmp_path / "m.onnx"
    shutil.copyfile(MODELS_DIR / "counter-objects.onnx", model)
    image = render_image(7, "val", 3)[0]
    raw = OnnxObjectDetector(model, calibrated=False).detect([image])[0]
    assert raw
    flat = {"classes": {c: {"scores": [0.0, 1.0], "precision": [0.2, 0.2]} for c in ("card", "phone", "drug", "non_covered")}}
    calibration_path(model).write_text(json.dumps(flat))
    calibrated = OnnxObjectDetector(model).detect([image])[0]
    assert [o.cls for o in calibrated] == [o.cls for o in raw]
    assert all(o.score == pytest.approx(0.2) for o in calibrated)
