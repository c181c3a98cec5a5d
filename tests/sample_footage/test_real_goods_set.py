"""``rxaudit dataset real``: the training split of the real sets as boxes, nothing held out inside."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import yaml

from sample_footage.real_goods_set import NON_COVERED, write_real_dataset
from tests.conftest import GOODS
from vision.real_goods import read_groceries, read_snacks, split_groceries, split_snacks


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("real")
    train, held = split_snacks(read_snacks(GOODS / "snacks"))
    groceries, _ = split_groceries(read_groceries(GOODS / "groceries"))
    counts = write_real_dataset(out, snacks=train, groceries=groceries, composites=12, crowded=10, seed=5)
    return out, train, counts


def rows(path: Path) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines() if line.strip()]


def test_training_frames_and_composites_are_written_with_boxes_inside_the_image(written):
    out, train, counts = written
    assert counts["snack_frames"] == counts["snack_on_counter"] == len(train)
    assert counts["composites"] == 12 and counts["crowded"] == 10
    labels = sorted((out / "labels" / "train").glob("*.txt"))
    assert len(labels) == len(list((out / "images" / "train").glob("*.jpg"))) == 2 * len(train) + 12 + 10
    for path in labels:
        for cls, cx, cy, w, h in rows(path):
            assert 0 <= cls < 4 and 0 < w <= 1 and 0 < h <= 1 and 0 <= cx <= 1 and 0 <= cy <= 1
    k = next(k for k, f in enumerate(train) if f.boxes)
    snack = rows(out / "labels" / "train" / f"snack_{k:05d}.txt")
    assert snack and all(int(r[0]) == NON_COVERED for r in snack)
    assert len(snack) == len(train[k].boxes)


def test_the_cctv_copy_is_a_640x360_frame_and_keeps_its_boxes(written):
    out, train, _ = written
    k = next(k for k, f in enumerate(train) if f.boxes)
    image = cv2.imread(str(out / "images" / "train" / f"snackcctv_{k:05d}.jpg"))
    assert image.shape == (360, 640, 3)
    assert 0 < len(rows(out / "labels" / "train" / f"snackcctv_{k:05d}.txt")) <= len(train[k].boxes)


def test_no_validation_images_so_held_out_frames_never_pick_the_best_epoch(written):
    out, _, _ = written
    assert not list((out / "images" / "val").iterdir())
    assert yaml.safe_load((out / "data.yaml").read_text())["names"][NON_COVERED] == "non_covered"


def test_crowded_counters_hold_more_bags_than_their_base_frame(written):
    out, train, _ = written
    crowded = [rows(p) for p in sorted((out / "labels" / "train").glob("crowded_*.txt"))]
    assert len(crowded) == 10
    assert all(int(r[0]) == NON_COVERED for labels in crowded for r in labels)
    most_in_a_training_frame = max(len(f.boxes) for f in train)
    assert max(len(labels) for labels in crowded) > most_in_a_training_frame
