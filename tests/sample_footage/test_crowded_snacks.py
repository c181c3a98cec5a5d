"""Real bags pasted over one another: the boxes follow what stays visible."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from sample_footage.crowded_snacks import MIN_VISIBLE, crowd, crowded_counter, outline_mask, visible_labels
from tests.conftest import GOODS
from vision.real_goods import SnackFrame, read_snacks


def square(x1: float, y1: float, x2: float, y2: float) -> tuple[tuple[float, float], ...]:
    return ((x1, y1), (x2, y1), (x2, y2), (x1, y2))


def snack_frame(tmp_path, name: str, outlines, colour=(200, 30, 30), size=(120, 200)) -> SnackFrame:
    """A flat grey frame with each outline filled in ``colour``, written as a PNG (a factory)."""
    h, w = size
    image = np.full((h, w, 3), 128, np.uint8)
    for points in outlines:
        image[outline_mask(points, w, h) > 0] = colour
    path = tmp_path / f"{name}.png"
    cv2.imwrite(str(path), image)
    return SnackFrame(path, name, tuple(outlines))


@pytest.mark.parametrize("hidden, kept", [
    (0.0, True),  # untouched
    (0.5, True),  # half hidden: boxed around the visible half
    (1 - MIN_VISIBLE + 0.05, False),  # less than MIN_VISIBLE left: no label
    (1.0, False),
])
def test_an_object_keeps_its_label_while_enough_of_it_is_visible(hidden, kept):
    mask = np.zeros((100, 100), np.uint8)
    mask[20:80, 10:90] = 1
    area = int(mask.sum())
    cut = int(round(80 * hidden))
    mask[20:80, 10:10 + cut] = 0
    labels = visible_labels([mask], [area], 3)
    assert bool(labels) is kept
    if kept:
        assert labels[0] == (3, 10 + cut, 20, 90, 80)


def test_a_bag_pasted_over_another_shrinks_or_removes_its_box(tmp_path):
    donor = snack_frame(tmp_path, "donor", [square(0.1, 0.1, 0.6, 0.6)], colour=(30, 200, 30))
    canvas = np.full((120, 200, 3), 128, np.uint8)
    base = outline_mask(square(0.3, 0.3, 0.5, 0.5), 200, 120)  # 40 x 24 px, smaller than the donor bag
    image, labels = crowd(canvas, [base], [donor], random.Random(1), 3, count=1, scale=(1.0, 1.0))
    assert all(lb[0] == 3 for lb in labels)
    assert len(labels) in (1, 2)
    pasted = labels[-1]
    green = (image[..., 1] > 150) & (image[..., 0] < 100)
    ys, xs = np.nonzero(green)
    assert pasted[1:] == pytest.approx((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), abs=2)
    if len(labels) == 2:  # the base bag survives only where the green one does not cover it
        x1, y1, x2, y2 = labels[0][1:]
        assert not green[int(y1):int(y2), int(x1):int(x2)].all()


def test_crowded_counter_on_real_frames_keeps_every_box_inside_the_frame():
    frames = [f for f in read_snacks(GOODS / "snacks") if f.polygons]
    for k in range(6):
        rng = random.Random(k)
        base = frames[rng.randrange(len(frames))]
        image, labels = crowded_counter(base, frames, rng, 3)
        h, w = image.shape[:2]
        assert labels
        for _, x1, y1, x2, y2 in labels:
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
