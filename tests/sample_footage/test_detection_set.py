"""The rendered training set: goods laid side by side at audit-camera size (``--counter-rows``)."""

from __future__ import annotations

import numpy as np
import pytest

from cli.main import main
from rxaudit.errors import ConfigError
from sample_footage.baskets import WIDTH as LYING_WIDTH
from sample_footage.detection_set import render_dataset, render_image
from sample_footage.scene import DESK_TOP

ROW_INDICES = range(12)


def is_row(seed: int, index: int, share: float) -> bool:
    """Whether training image ``index`` became a counter row (it differs from the image without the option)."""
    return not np.array_equal(render_image(seed, "train", index, share)[0], render_image(seed, "train", index)[0])


@pytest.mark.parametrize("index", ROW_INDICES)
def test_a_counter_row_lays_goods_side_by_side_on_the_desk_at_lying_size(index):
    image, labels = render_image(41, "train", index, counter_rows=1.0)
    height, width = image.shape[:2]
    assert 1 <= len(labels) <= 6
    widest = max(LYING_WIDTH.values()) * 1.35
    for _, x1, y1, x2, y2 in labels:
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert y2 > DESK_TOP  # on the counter top, not on the wall behind it
        assert 6 <= x2 - x1 <= widest * 1.1  # a lying item's size, not the free sizes of other images
    centres = [(x1 + x2) / 2 for _, x1, _, x2, _ in labels]
    assert centres == sorted(centres) and len(set(centres)) == len(centres)  # left to right, one each


def test_the_share_of_rows_follows_the_option_and_zero_keeps_the_images_of_before():
    rows = sum(is_row(7, i, 0.3) for i in range(60))
    assert 8 <= rows <= 30  # 0.3 of 60 is 18
    image, labels = render_image(7, "val", 5, counter_rows=0.0)
    before, before_labels = render_image(7, "val", 5)
    assert np.array_equal(image, before) and labels == before_labels


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(tmp_path, share, capsys):
    with pytest.raises(ConfigError, match="counter-rows"):
        render_dataset(tmp_path / "ds", train=1, val=1, seed=1, val_seed=2, counter_rows=share)
    assert main(["dataset", "render", "--out", str(tmp_path / "x"), "--counter-rows", str(share)]) == 3
    assert "between 0 and 1" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_dataset_render_with_counter_rows_writes_both_kinds(tmp_path):
    out = tmp_path / "ds"
    assert main(["dataset", "render", "--out", str(out), "--train", "8", "--val", "2", "--workers", "1",
                 "--seed", "7", "--counter-rows", "0.5"]) == 0
    assert len(list((out / "images" / "train").glob("*.jpg"))) == 8
    rows = [i for i in range(8) if is_row(7, i, 0.5)]
    assert 0 < len(rows) < 8
    for i in rows:  # a row's label file holds its boxes
        text = (out / "labels" / "train" / f"train_{i:06d}.txt").read_text()
        assert len(text.splitlines()) == len(render_image(7, "train", i, 0.5)[1])
