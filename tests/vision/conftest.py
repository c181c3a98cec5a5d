from __future__ import annotations

import pytest

from rxaudit.settings import MODELS_DIR


@pytest.fixture(scope="session")
def pose_416():
    from vision.person import OnnxPoseDetector

    return OnnxPoseDetector(MODELS_DIR / "yolo11n-pose.onnx", input_size=416)


@pytest.fixture(scope="session")
def pose_640():
    from vision.person import OnnxPoseDetector

    return OnnxPoseDetector(MODELS_DIR / "yolo11n-pose.onnx", input_size=640)
