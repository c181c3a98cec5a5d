"""The real person model on real footage (Intel sample-videos, CC BY 4.0, tests/data/footage)."""

from __future__ import annotations

import hashlib
import re

import av
import pytest

from rxaudit.errors import ModelError
from rxaudit.settings import MODELS_DIR
from tests.conftest import FOOTAGE
from vision.calibration import gif_frames
from vision.person import OnnxPoseDetector


def counts(detector, frames):
    return [len(detector.detect([f])[0]) for f in frames]


def test_shipped_model_matches_its_provenance():
    text = (MODELS_DIR / "PROVENANCE.md").read_text()
    digest = hashlib.sha256((MODELS_DIR / "yolo11n-pose.onnx").read_bytes()).hexdigest()
    assert digest in re.findall(r"[0-9a-f]{64}", text)


@pytest.mark.parametrize("clip", ["head-pose-face-detection-male.gif", "head-pose-face-detection-female.gif",
                                  "store-aisle-detection.gif"])
def test_person_present_in_every_frame_of_clips_with_people(pose_416, clip):
    found = counts(pose_416, gif_frames(FOOTAGE / clip))
    assert min(found) >= 1


def test_store_aisle_shows_more_than_one_shopper(pose_416):
    assert max(counts(pose_416, gif_frames(FOOTAGE / "store-aisle-detection.gif"))) >= 2


def test_overhead_room_person_then_empty(pose_640):
    """A person walks out of an overhead view: seen while there, nothing once the room is empty."""
    found = counts(pose_640, gif_frames(FOOTAGE / "people-detection.gif"))
    assert sum(c > 0 for c in found[:11]) >= 9
    assert sum(found[12:]) == 0


def test_bottles_without_people_until_an_arm_reaches_in(pose_416):
    """bottle-detection.mp4 has no standing person; from ~7 s an arm reaches in from the top to
    move the bottles. Nothing before it; afterwards only boxes that start at the top edge."""
    with av.open(str(FOOTAGE / "bottle-detection.mp4")) as container:
        stream = container.streams.video[0]
        for index, frame in enumerate(container.decode(stream)):
            if index % 10:
                continue
            persons = pose_416.detect([frame.to_ndarray(format="rgb24")])[0]
            if index < 170:
                assert persons == [], f"person on an empty table at frame {index}"
            assert all(p.box.y1 < 3 for p in persons), f"standing person at frame {index}"


def test_detection_has_keypoints_with_wrists(pose_416):
    (frame,) = gif_frames(FOOTAGE / "store-aisle-detection.gif")[:1]
    persons = pose_416.detect([frame])[0]
    assert persons and all(p.keypoints.shape == (17, 3) for p in persons)
    assert any(p.wrists(0.3) for p in persons)


@pytest.mark.parametrize("content", [None, b"this is not an onnx model"])
def test_missing_or_corrupt_model_is_a_clear_error(tmp_path, content):
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match="model file"):
        OnnxPoseDetector(path)
