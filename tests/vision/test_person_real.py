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
from vision.person import OnnxPoseDetector, fitted_shape


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


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("content", [None, b"this is not an onnx model"])
def test_missing_or_corrupt_model_is_a_clear_error(tmp_path, content, runtime):
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match="model file"):
        OnnxPoseDetector(path, runtime=runtime)


@pytest.mark.parametrize("height, width, side, shape", [
    (360, 640, 320, (256, 320)),    # 16:9 CCTV: two strides off the square, 38 px of grey each side
    (270, 480, 320, (256, 320)),
    (480, 640, 320, (320, 320)),    # 4:3: trimming would leave under a stride of grey
    (640, 360, 320, (320, 256)),    # portrait: the width is trimmed
    (1080, 1920, 416, (352, 416)),
    (360, 640, 640, (448, 640)),
    (100, 1000, 320, (128, 320)),   # a strip: trimmed while a stride of grey stays on each side
    (320, 320, 320, (320, 320)),
])
def test_fitted_canvas_keeps_a_stride_of_grey_and_the_stride_grid(height, width, side, shape):
    assert fitted_shape(height, width, side) == shape
    scale = side / max(height, width)
    for canvas, n in zip(shape, (height, width)):
        content = round(n * scale)
        assert (canvas - content) // 2 >= 32 or canvas == side
        assert (side - canvas) % 64 == 0  # the frame keeps its place on the stride grid


def _on_square(detect, monkeypatch):
    """``detect`` with the square canvas (``fitted_shape`` patched for the call only)."""
    import vision.person

    def square_detect(frames):
        with monkeypatch.context() as patch:
            patch.setattr(vision.person, "fitted_shape", lambda h, w, side, stride=32: (side, side))
            return detect(frames)
    return square_detect


def test_fitted_canvas_finds_what_the_square_finds_on_real_footage(monkeypatch):
    """The trimmed canvas is a speed-up, not a different detector: on the real frames with people,
    the persons the square canvas finds with a score >= 0.5 are found on the fitted one (box IoU
    >= 0.5), and it adds at most a few borderline ones. (Trimmed to the frame, (192, 320), it
    loses the arm reaching in from the top edge.)"""
    detector = OnnxPoseDetector(MODELS_DIR / "yolo11n-pose.onnx", input_size=320, threads=1)
    frames = _real_frames_with_people()
    square = OnnxPoseDetector(MODELS_DIR / "yolo11n-pose.onnx", input_size=320, threads=1)
    monkeypatch.setattr(square, "detect", _on_square(square.detect, monkeypatch))
    strong, lost, extra = _strong_persons_lost(square, detector, frames)
    assert strong >= 100 and lost == 0
    assert extra <= 0.03 * strong


def _real_frames_with_people() -> list:
    """Every frame of the GIFs with people, and every 3rd of bottle-detection.mp4 from the moment an
    arm reaches in from the frame's top edge."""
    clips = ["store-aisle-detection.gif", "head-pose-face-detection-male.gif",
             "head-pose-face-detection-female.gif", "people-detection.gif"]
    frames = [f for clip in clips for f in gif_frames(FOOTAGE / clip)]
    with av.open(str(FOOTAGE / "bottle-detection.mp4")) as container:
        frames += [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0))
                   if i >= 170 and i % 3 == 0]
    return frames


def _strong_persons_lost(reference, other, frames) -> tuple[int, int, int]:
    """(persons ``reference`` finds with a score >= 0.5, how many of them ``other`` misses (box IoU
    < 0.5), persons ``other`` finds that ``reference`` does not)."""
    strong = lost = extra = 0
    for frame in frames:
        mine, theirs = reference.detect([frame])[0], other.detect([frame])[0]
        for person in mine:
            strong += person.score >= 0.5
            lost += person.score >= 0.5 and not any(person.box.iou(p.box) >= 0.5 for p in theirs)
        extra += sum(not any(p.box.iou(q.box) >= 0.5 for q in mine) for p in theirs)
    return strong, lost, extra


def test_openvino_finds_what_onnxruntime_finds_on_real_footage():
    """The audit's runtime (OpenVINO: bfloat16 where the CPU has it) against onnxruntime float32,
    same file, on the real clips with people: no confident person lost, scores within 0.1."""
    path = MODELS_DIR / "yolo11n-pose.onnx"
    ort_pose = OnnxPoseDetector(path, input_size=320, threads=1)
    ov_pose = OnnxPoseDetector(path, input_size=320, threads=1, runtime="openvino")
    frames = _real_frames_with_people()
    strong, lost, extra = _strong_persons_lost(ort_pose, ov_pose, frames)
    assert strong >= 100 and lost == 0 and extra <= 0.03 * strong
    for frame in frames[::10]:
        for a, b in zip(ort_pose.detect([frame])[0], ov_pose.detect([frame])[0]):
            assert abs(a.score - b.score) < 0.1

