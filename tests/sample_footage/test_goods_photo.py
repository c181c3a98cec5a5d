"""Photo-styled goods (``sample_footage.photo_goods``) and the images made of them
(``sample_footage.photo_set``): one renderer for both classes, labels that follow the class, the
render look given to real pixels, the same bytes for the same seed."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sample_footage import goods, photo_goods
from sample_footage.cctv import h264_roundtrip
from sample_footage.photo_set import photo_image, render_look


@pytest.mark.parametrize("variant", sorted(photo_goods.MAKERS))
def test_each_variant_draws_a_package_of_its_class(variant):
    sprite = photo_goods.MAKERS[variant](random.Random(3))
    expected = "drug" if variant in ("photo_drug_box", "photo_blister", "photo_pill_bottle") else "non_covered"
    assert sprite.cls == expected
    assert sprite.image.dtype == np.uint8 and sprite.image.shape[:2] == sprite.alpha.shape
    assert sprite.alpha.mean() > 0.5 and sprite.image.std() > 20  # printed, not blank


def test_both_classes_share_the_renderer_and_its_finish():
    """Same card stock, same type, same finish: the pixel statistics of the two classes overlap."""
    def stats(cls):
        rng = random.Random(f"stats-{cls}")
        return np.array([photo_goods.make(cls, rng).image.reshape(-1, 3).mean() for _ in range(40)])

    drug, other = stats("drug"), stats("non_covered")
    assert abs(drug.mean() - other.mean()) < 0.5 * (drug.std() + other.std())


def test_drug_print_carries_drug_marks_and_goods_print_does_not():
    drug = photo_goods._drug_lines(random.Random(1))
    other = photo_goods._goods_lines(random.Random(1))
    assert drug["code"].startswith("国药准字")
    assert "国药准字" not in " ".join(other.values())


def test_photo_image_is_the_same_for_the_same_seed_and_labels_lie_inside():
    a, la = photo_image(7, "train", 3)
    b, lb = photo_image(7, "train", 3)
    assert la == lb and np.array_equal(a, b)
    assert a.shape == (360, 640, 3)
    for cls, x1, y1, x2, y2 in la:
        assert goods.CLASSES[cls] in goods.CLASSES and 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 360


def test_photo_images_hold_both_classes():
    seen = {goods.CLASSES[c] for i in range(30) for c, *_ in photo_image(9, "val", i)[1]}
    assert {"drug", "non_covered"} <= seen


def test_render_look_flattens_real_pixels():
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(128, 40, (120, 200, 3)), 0, 255).astype(np.uint8)
    out = render_look(image, random.Random(1))
    assert out.shape == image.shape
    assert len(np.unique(out.reshape(-1, 3), axis=0)) < len(np.unique(image.reshape(-1, 3), axis=0)) / 10


def test_h264_round_trip_keeps_size_and_count_and_rejects_odd_sizes():
    frames = [np.full((36, 64, 3), 100 + k, np.uint8) for k in range(3)]
    out = h264_roundtrip(frames)
    assert len(out) == 3 and out[0].shape == (36, 64, 3)
    assert abs(int(out[2].mean()) - 102) <= 3
    with pytest.raises(ValueError, match="even"):
        h264_roundtrip([np.zeros((35, 64, 3), np.uint8)])
