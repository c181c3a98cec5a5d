"""The face models from the command line: a bad face model file stops a run at start with a
ModelError, and ``rxaudit bench-models`` times YuNet against HOG and SFace against dlib on real clips."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from rxaudit.errors import EXIT_CODES, ModelError
from tests.conftest import FOOTAGE


@pytest.mark.parametrize("variable", ["RXAUDIT_FACE_DETECTOR_MODEL", "RXAUDIT_FACE_ENCODER_MODEL"])
def test_a_missing_face_model_is_a_clear_error_at_start(tmp_path, monkeypatch, capsys, variable):
    monkeypatch.setenv(variable, str(tmp_path / "face.onnx"))
    assert main(["detect", str(FOOTAGE / "bottle-detection.mp4")]) == EXIT_CODES[ModelError]
    assert "face.onnx is missing" in capsys.readouterr().err


def test_a_corrupt_face_model_is_a_clear_error_at_start(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "yunet.onnx"
    bad.write_bytes(b"\x00" * 1000)
    monkeypatch.setenv("RXAUDIT_FACE_DETECTOR_MODEL", str(bad))
    assert main(["detect", str(FOOTAGE / "bottle-detection.mp4")]) == EXIT_CODES[ModelError]
    assert "yunet.onnx cannot be loaded" in capsys.readouterr().err


def test_bench_models_compares_face_detectors_and_encoders_on_real_clips(tmp_path):
    out = tmp_path / "b.json"
    assert main(["bench-models", "--frames", "6", "--face-footage", str(FOOTAGE), "--json", str(out)]) == 0
    faces = json.loads(out.read_text())["faces"]
    aisle = faces["clips"]["store-aisle-detection.gif"]
    assert aisle["frames"] == 6 and aisle["hog"] == 0 and aisle["yunet"] > 0
    assert faces["clips"]["head-pose-face-detection-male.gif"]["both"] == 6
    assert faces["total"]["yunet"] >= faces["total"]["both"] and faces["total"]["hog"] >= faces["total"]["both"]
    assert all(faces["cpu_ms_median"][k] > 0 for k in ("yunet_per_frame", "hog_per_frame",
                                                       "sface_per_face", "dlib_per_face"))
    audit = faces["audit_path"]
    assert audit["store-aisle-detection.gif"]["yunet+sface"] > audit["store-aisle-detection.gif"]["hog+dlib"] == 0
    assert set(audit["cpu_ms_median_per_frame"]) == {"yunet+sface", "hog+dlib"}


def test_bench_models_can_skip_faces(tmp_path):
    out = tmp_path / "b.json"
    assert main(["bench-models", "--frames", "2", "--face-footage", "-", "--json", str(out)]) == 0
    assert "faces" not in json.loads(out.read_text())
