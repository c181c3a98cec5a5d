"""Keyframe drawing: labels and captions stay inside small frames."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import detected, observation
from vision.draw import draw_keyframe, put_text


def ink_columns(img: np.ndarray, rows: slice) -> np.ndarray:
    return np.nonzero(img[rows].max(axis=(0, 2)) > 0)[0]


@pytest.mark.parametrize("width", [160, 320, 640])
def test_a_long_caption_fits_the_frame(width):
    img = np.zeros((60, width, 3), np.uint8)
    put_text(img, "settlement S-000123 no customer at the counter 2026-12-05 09:31:07 " * 2, 6, 50, 0.45,
             (255, 255, 255))
    cols = ink_columns(img, slice(30, 60))
    assert cols.size and cols.max() < width - 1


def test_a_label_at_the_right_edge_is_moved_in():
    img = np.zeros((60, 200, 3), np.uint8)
    put_text(img, "non_covered 0.93", 190, 30, 0.4, (0, 0, 255))
    cols = ink_columns(img, slice(0, 60))
    assert cols.size and cols.max() < 199 and cols.min() < 150


def test_a_keyframe_keeps_its_size_and_draws_objects():
    frame = np.zeros((180, 320, 3), np.uint8)
    obs = observation(0, objects=(detected("drug", 300, 150),))
    out = draw_keyframe(frame, obs, ((0, 0), (1, 0), (1, 1), (0, 1)), "a caption " * 20)
    assert out.shape == (180, 320, 3) and out.any()
