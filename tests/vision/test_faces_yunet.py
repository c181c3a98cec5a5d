"""YuNet and SFace on real footage (Intel sample-videos, CC BY 4.0, tests/data/footage), and their
loaders: a missing, corrupt or wrong model file is a ModelError at start."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from rxaudit.domain import Box, Person
from rxaudit.errors import ConfigError, ModelError
from rxaudit.settings import MODELS_DIR, Settings
from tests.conftest import FOOTAGE
from vision.calibration import gif_frames
from vision.faces import HogLocator, YuNetLocator, build_face_encoder, face_encoder_from_settings
from vision.faces_sface import TEMPLATE, SFaceEmbedder, similarity_transform
from vision.faces_yunet import YuNetDetector

YUNET = MODELS_DIR / "yunet-2023mar.onnx"
SFACE = MODELS_DIR / "sface-2021dec.onnx"


@pytest.fixture(scope="module")
def yunet():
    return YuNetLocator(YUNET, min_score=Settings().face_min_score)


@pytest.mark.parametrize("name", ["yunet-2023mar.onnx", "sface-2021dec.onnx"])
def test_shipped_models_match_their_provenance(name):
    text = (MODELS_DIR / "PROVENANCE.md").read_text()
    digest = hashlib.sha256((MODELS_DIR / name).read_bytes()).hexdigest()
    assert digest in re.findall(r"[0-9a-f]{64}", text)


def test_yunet_finds_small_faces_that_hog_misses(yunet, pose_416):
    """Shoppers in a store aisle from a high camera: faces ~20 px. dlib's HOG finds none; YuNet finds
    them, and every one lies in the upper part of a person the pose model sees."""
    frames = gif_frames(FOOTAGE / "store-aisle-detection.gif")[::2]
    hog = HogLocator(upsample=Settings().face_upsample)
    assert sum(len(hog.locate(f)) for f in frames) == 0
    with_face = 0
    for frame in frames:
        faces = yunet.locate(frame)
        with_face += bool(faces)
        persons = pose_416.detect([frame])[0]
        for face in faces:
            assert face.box.x2 - face.box.x1 < 40
            cx, cy = face.box.center
            assert any(p.box.x1 <= cx <= p.box.x2 and p.box.y1 <= cy <= p.box.y1 + 0.4 * (p.box.y2 - p.box.y1)
                       for p in persons), (face.box, [p.box for p in persons])
    assert with_face >= len(frames) // 4


@pytest.mark.parametrize("clip", ["head-pose-face-detection-male.gif", "head-pose-face-detection-female.gif"])
def test_one_face_per_frame_with_landmarks_in_place(yunet, clip):
    for frame in gif_frames(FOOTAGE / clip):
        faces = yunet.locate(frame)
        assert len(faces) == 1
        face = faces[0]
        eyes, nose, mouth = face.landmarks[:2], face.landmarks[2], face.landmarks[3:]
        assert all(face.box.x1 <= x <= face.box.x2 and face.box.y1 <= y <= face.box.y2 for x, y in face.landmarks)
        assert eyes[:, 1].max() < nose[1] < mouth[:, 1].min()
        assert eyes[0, 0] < eyes[1, 0] and mouth[0, 0] < mouth[1, 0]  # image-left first


def test_no_faces_where_there_are_no_people(yunet):
    import av

    with av.open(str(FOOTAGE / "bottle-detection.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i % 60 == 0]
    assert sum(len(yunet.locate(f)) for f in frames) == 0


def test_input_size_is_dynamic(yunet):
    frame = gif_frames(FOOTAGE / "head-pose-face-detection-male.gif")[0]
    big = np.ascontiguousarray(np.pad(frame, ((0, 37), (0, 101), (0, 0))))  # not a multiple of 32
    (a,), (b,) = yunet.locate(frame), yunet.locate(big)
    assert abs(a.box.x1 - b.box.x1) < 1 and abs(a.box.y2 - b.box.y2) < 1


@pytest.mark.parametrize("angle, scale, shift", [(0.0, 1.0, (0, 0)), (0.3, 2.5, (40, -7)), (-1.2, 0.4, (3, 90))])
def test_alignment_maps_landmarks_onto_the_template(angle, scale, shift):
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = TEMPLATE @ (scale * rot).T + shift
    matrix = similarity_transform(points, TEMPLATE)
    back = points @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(back, TEMPLATE, atol=1e-9)


def test_face_finder_encodes_faces_inside_person_boxes():
    finder = face_encoder_from_settings(Settings())
    frame = gif_frames(FOOTAGE / "head-pose-face-detection-male.gif")[10]
    h, w = frame.shape[:2]
    (face,) = finder.faces(frame, [Box(100, 0, 400, h - 1)])
    assert face.encoding.shape == (128,) and abs(float(np.linalg.norm(face.encoding)) - 1) < 1e-5
    assert 100 <= face.box.center[0] <= 400
    assert finder.faces(frame, [Box(0, 0, 60, h - 1)]) == []  # a region with no one in it
    assert finder.faces(frame, [Box(0, 0, 10, 10)]) == []  # too small to hold a face


# --- loaders -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, content, message", [
    ("detector", None, "is missing"),
    ("detector", b"\x00garbage" * 100, "cannot be loaded"),
    ("detector", "pose", "is not a YuNet face detector"),
    ("detector", "static", "is not dynamic"),
    ("encoder", None, "is missing"),
    ("encoder", b"\x08\x07" * 300, "cannot be loaded"),
    ("encoder", "yunet", "is not an SFace embedder"),
])
def test_a_bad_model_file_fails_at_start(tmp_path, kind, content, message):
    path = tmp_path / "model.onnx"
    if content == "pose":
        path.write_bytes((MODELS_DIR / "yolo11n-pose.onnx").read_bytes())
    elif content == "yunet":
        path.write_bytes(YUNET.read_bytes())
    elif content == "static":
        onnx = pytest.importorskip("onnx")
        model = onnx.load(str(YUNET))
        for dim in model.graph.input[0].type.tensor_type.shape.dim[2:]:
            dim.dim_value = 640
        onnx.save(model, str(path))
    elif content is not None:
        path.write_bytes(content)
    key = "face_detector_model" if kind == "detector" else "face_encoder_model"
    with pytest.raises(ModelError, match=message):
        face_encoder_from_settings(Settings(**{key: path}))


def test_sface_needs_a_detector_with_landmarks():
    with pytest.raises(ConfigError, match="face_detector: yunet"):
        build_face_encoder("hog", "sface", detector_model=YUNET, encoder_model=SFACE)


@pytest.mark.parametrize("detector, encoder", [("yunet", "sface"), ("yunet", "dlib"), ("hog", "dlib")])
def test_every_supported_pair_builds(detector, encoder):
    finder = build_face_encoder(detector, encoder, detector_model=YUNET, encoder_model=SFACE)
    frame = gif_frames(FOOTAGE / "head-pose-face-detection-female.gif")[0]
    h, w = frame.shape[:2]
    faces = finder.faces(frame, [Box(0, 0, w - 1, h - 1)])
    assert len(faces) == 1 and faces[0].encoding.shape == (128,)


def test_detector_and_embedder_classes_check_their_files():
    with pytest.raises(ModelError):
        YuNetDetector(SFACE)
    with pytest.raises(ModelError):
        SFaceEmbedder(YUNET)


def _person(box: Box, nose: float, eye: float) -> Person:
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[0, 2], keypoints[1, 2], keypoints[2, 2] = nose, eye, 0.1
    return Person(box=box, score=0.9, keypoints=keypoints)


@pytest.mark.parametrize("nose, eye, found", [(0.9, 0.9, 1), (0.9, 0.2, 0), (0.15, 0.9, 0), (0.5, 0.5, 1)])
def test_a_person_turned_away_is_not_tried(nose, eye, found):
    """A Person region is tried only when the pose model sees its nose and an eye: YuNet takes
    the back of a head for a face."""
    finder = face_encoder_from_settings(Settings())
    frame = gif_frames(FOOTAGE / "head-pose-face-detection-male.gif")[10]
    h = frame.shape[0]
    assert len(finder.faces(frame, [_person(Box(100, 0, 400, h - 1), nose, eye)])) == found


def test_shoppers_seen_by_the_pose_model_keep_their_small_faces(pose_416):
    """The gate passes real, partly turned ~20 px faces: the store-aisle shopper's."""
    finder = face_encoder_from_settings(Settings())
    found = 0
    for frame in gif_frames(FOOTAGE / "store-aisle-detection.gif")[::3]:
        found += len(finder.faces(frame, pose_416.detect([frame])[0]))
    assert found >= 5
