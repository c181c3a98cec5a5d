"""``rxaudit detect``: every detector on images and videos, one JSON contract."""

from __future__ import annotations

import json

import cv2

from cli.main import main
from rxaudit.errors import EXIT_CODES, ModelError
from sample_footage.detection_set import render_image
from tests.conftest import FOOTAGE


def test_detect_images_and_videos_keeps_the_contract(tmp_path, capsys):
    image, labels = render_image(98, "check", 3)
    picture = tmp_path / "counter.jpg"
    cv2.imwrite(str(picture), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    out = tmp_path / "seen.json"
    code = main(["detect", str(picture), str(FOOTAGE / "bottle-detection.mp4"), str(tmp_path / "gone.mp4"),
                 "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert set(data) == {"items", "errors"}
    assert data["errors"] == [{"path": str(tmp_path / "gone.mp4"), "error": "no such file"}]
    still = [i for i in data["items"] if i["path"] == str(picture)]
    video = [i for i in data["items"] if i["path"].endswith("bottle-detection.mp4")]
    assert len(still) == 1 and still[0]["t"] is None
    assert [i["t"] for i in video][:3] == [0.0, 1.0, 2.0] and 38 <= len(video) <= 41  # 1 fps, ~40 s
    for item in data["items"]:
        assert set(item) == {"path", "t", "detections"}
        for d in item["detections"]:
            assert set(d) == {"cls", "score", "box"} and len(d["box"]) == 4
    assert {d["cls"] for d in still[0]["detections"]} >= {"card", "phone", "drug", "non_covered"} & {
        ("card", "phone", "drug", "non_covered")[c] for c, *_ in labels}
    assert any(d["cls"] == "non_covered" for d in video[0]["detections"])
    assert "gone.mp4: no such file" in capsys.readouterr().err


def test_a_missing_model_is_a_clear_error_at_start(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RXAUDIT_OBJECT_MODEL", str(tmp_path / "counter.onnx"))
    assert main(["detect", str(FOOTAGE / "bottle-detection.mp4")]) == EXIT_CODES[ModelError]
    assert "counter.onnx is missing" in capsys.readouterr().err


def test_dataset_render_writes_an_ultralytics_dataset(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["dataset", "render", "--out", str(out), "--train", "6", "--val", "2", "--workers", "1"]) == 0
    assert len(list((out / "images" / "train").glob("*.jpg"))) == 6
    assert len(list((out / "labels" / "val").glob("*.txt"))) == 2
    assert "names" in (out / "data.yaml").read_text()
    assert main(["dataset", "render", "--out", str(tmp_path / "x"), "--seed", "2", "--val-seed", "2"]) == 3
    assert "validation seed must differ" in capsys.readouterr().err


def test_bench_models_reports_each_detector(tmp_path):
    out = tmp_path / "b.json"
    assert main(["bench-models", "--frames", "4", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["person_pose"]["frames"] == 4 and data["counter_objects"]["input"] == "416x256"
    assert data["counter_objects"]["cpu_ms_median"] > 0
