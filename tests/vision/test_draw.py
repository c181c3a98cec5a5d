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


# -- labels burned into keyframes: Chinese with the CJK font, neutral without (issue 26) ----------

import vision.draw as draw_module  # noqa: E402
from tests.factories import person  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

ENGLISH = ("customer", "other", "swipe", "camera", "non_covered", "drug", "card", "phone")


def _scene():
    frame = np.full((240, 426, 3), 90, np.uint8)
    obs = observation(0, (person(40, 40, 150, 220, track_id=3), person(250, 30, 330, 200, track_id=4)),
                      customers=(0,), objects=(detected("non_covered", 300, 200),))
    return frame, obs


def test_labels_are_chinese_with_the_cjk_font():
    if draw_module.cjk_font() is None:
        pytest.skip("fonts-wqy-microhei is not installed (the neutral labels are tested below)")
    frame, obs = _scene()
    texts = [t for t, *_ in draw_module._labels(obs, True)]
    assert texts == ["顾客 #3", "其他人员 #4", "非医保商品 0.80"]
    caption = draw_module.keyframe_caption("S1", "PH1", "C1", datetime(2026, 11, 20, 2, 0, 45, tzinfo=timezone.utc))
    assert caption == "结算 S1 · PH1/C1 · 画面时间 02:00:45"
    out = draw_keyframe(frame, obs, ((0, 0), (0.6, 0), (0.6, 1), (0, 1)), caption)
    plain = draw_module.to_bgr(frame.copy())
    # the caption band holds glyphs (CJK strokes drawn, not OpenCV's '?' boxes): ink across the band
    band = out[-20:, :, :].max(axis=2) > 200
    assert band.any(axis=0).sum() > 60 and out.shape == plain.shape


def test_labels_are_neutral_without_the_font(monkeypatch, tmp_path):
    monkeypatch.setattr(draw_module, "CJK_FONT", tmp_path / "missing.ttc")
    frame, obs = _scene()
    texts = [t for t, *_ in draw_module._labels(obs, draw_module.cjk_font() is not None)]
    assert texts == ["#3", "#4", "0.80"]
    caption = draw_module.keyframe_caption("S1", "PH1", "C1", datetime(2026, 11, 20, 2, 0, 45, tzinfo=timezone.utc))
    assert caption == "S1 PH1/C1 02:00:45"
    assert not any(word in " ".join([*texts, caption]).lower() for word in ENGLISH)
    out = draw_keyframe(frame, obs, ((0, 0), (0.6, 0), (0.6, 1), (0, 1)), caption)
    assert out.shape == (240, 426, 3) and (out[-20:].max(axis=2) > 200).any()


def test_a_long_chinese_caption_fits_a_small_frame():
    if draw_module.cjk_font() is None:
        pytest.skip("fonts-wqy-microhei is not installed")
    img = draw_keyframe(np.zeros((90, 160, 3), np.uint8), None, ((0, 0), (1, 0), (1, 1)),
                        "结算 S-000123456789 · 东方大药房/收银台一号 · 画面时间 09:31:07")
    cols = np.nonzero(img[-20:].max(axis=(0, 2)) > 200)[0]
    assert cols.size and cols.max() < 159
