"""Reading the real goods sets and splitting them so that nothing held out is ever trained on."""

from __future__ import annotations

import pytest

from rxaudit.errors import InputError
from tests.conftest import GOODS
from vision.real_goods import (
    SNACK_HELD_OUT_VIDEO,
    held_out_classes,
    polygon_box,
    polygon_points,
    read_groceries,
    read_snacks,
    split_groceries,
    split_snacks,
)


@pytest.mark.parametrize("values, expected", [
    ([0.5, 0.5, 0.2, 0.4], (0.4, 0.3, 0.6, 0.7)),  # a box: cx cy w h
    ([0.1, 0.2, 0.3, 0.2, 0.2, 0.6], (0.1, 0.2, 0.3, 0.6)),  # a triangle
    ([-0.1, 0.5, 0.5, 1.2, 0.9, 0.4, 0.3, 0.1], (0.0, 0.1, 0.9, 1.0)),  # clipped to the frame
])
def test_a_yolo_row_becomes_a_box(values, expected):
    assert polygon_box(values) == pytest.approx(expected)


@pytest.mark.parametrize("values, expected", [
    ([0.5, 0.5, 0.2, 0.4], ((0.4, 0.3), (0.6, 0.3), (0.6, 0.7), (0.4, 0.7))),  # a box: its corners
    ([0.1, 0.2, 0.3, 0.2, 0.2, 0.6], ((0.1, 0.2), (0.3, 0.2), (0.2, 0.6))),
    ([-0.1, 0.5, 0.5, 1.2, 0.9, 0.4], ((0.0, 0.5), (0.5, 1.0), (0.9, 0.4))),  # clipped to the frame
])
def test_a_yolo_row_becomes_an_outline(values, expected):
    assert [v for point in polygon_points(values) for v in point] == pytest.approx([v for p in expected for v in p])


def test_snack_frames_keep_one_outline_per_labelled_row_and_box_it():
    frames = read_snacks(GOODS / "snacks")
    assert any(f.boxes for f in frames)
    for frame in frames:
        label = GOODS / "snacks" / "labels" / f"{frame.image.stem}.txt"
        rows = [[float(v) for v in line.split()[1:]] for line in label.read_text().splitlines() if line.strip()]
        assert len(frame.polygons) == len(frame.boxes) == len(rows)
        for box, row in zip(frame.boxes, rows):
            assert box == pytest.approx(polygon_box(row))


@pytest.mark.parametrize("values", [[0.1, 0.2], [0.1, 0.2, 0.3, 0.4, 0.5], []])
def test_a_row_that_is_neither_box_nor_polygon_is_refused(values):
    with pytest.raises(ValueError):
        polygon_box(values)


def test_snack_frames_split_by_video_never_by_frame():
    frames = read_snacks(GOODS / "snacks")
    train, held = split_snacks(frames)
    assert held and train and len(train) + len(held) == len(frames)
    assert {f.video for f in held} == {SNACK_HELD_OUT_VIDEO}
    assert SNACK_HELD_OUT_VIDEO not in {f.video for f in train}
    assert all(0 <= v <= 1 for f in frames for box in f.boxes for v in box)
    assert sum(len(f.boxes) for f in held) >= 60  # every product of a frame is labelled


def test_a_bad_label_line_names_file_and_line(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "images" / "v1_mp4-0001.jpg").write_bytes(b"")
    (tmp_path / "labels" / "v1_mp4-0001.txt").write_text("3 0.5 0.5 0.2 0.2\n3 0.1 nope\n")
    with pytest.raises(InputError, match=r"v1_mp4-0001.txt: line 2"):
        read_snacks(tmp_path)
    with pytest.raises(InputError, match="no frames of video"):
        split_snacks(read_snacks(GOODS / "snacks"), "unknown-video")


def test_grocery_classes_are_held_out_whole():
    photos = read_groceries(GOODS / "groceries")
    assert {p.group for p in photos} == {"Fruit", "Packages", "Vegetables"}
    train, held = split_groceries(photos)
    assert train and held and len(train) + len(held) == len(photos)
    assert not {(p.group, p.fine_class) for p in train} & {(p.group, p.fine_class) for p in held}
    groups = {p.group for p in photos}
    assert {g for g, _ in held_out_classes(photos)} == groups  # every group keeps classes back
