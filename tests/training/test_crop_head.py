"""training.crop_head: the logistic head learns what separates the classes, refuses one class, and
the accusation threshold is the quantile of unseen rendered drugs it is said to be."""

from __future__ import annotations

import numpy as np
import pytest

from training.crop_head import CropSet, accuse_threshold, by_source, fit_head


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(float)
    x = rng.normal(0, 1, (n, 8))
    x[:, 3] += 3 * y  # one feature tells the class
    return x, y


def test_the_head_separates_what_the_features_separate():
    x, y = _data()
    head = fit_head(x, y)
    xt, yt = _data(seed=1)
    assert np.mean((head.p_drug(xt) >= 0.5) == (yt == 1)) > 0.9
    assert np.argmax(np.abs(head.weights)) == 3


def test_class_balance_keeps_a_rare_class():
    x, y = _data(400)
    keep = (y == 0) | (np.arange(len(y)) % 20 == 1)  # 1 drug in 10
    head = fit_head(x[keep], y[keep])
    xt, yt = _data(seed=2)
    assert np.mean(head.p_drug(xt[yt == 1]) >= 0.5) > 0.85


def test_one_class_is_refused():
    x, y = _data()
    with pytest.raises(ValueError, match="both classes"):
        fit_head(x[y == 0], y[y == 0])


def test_the_accusation_threshold_is_the_low_quantile_of_unseen_drugs():
    x, y = _data(400)
    head = fit_head(x, y)
    xt, yt = _data(400, seed=3)
    t = accuse_threshold(head, CropSet(xt, yt, ["r"] * len(yt)))
    p = head.p_drug(xt[yt == 1])
    assert np.mean(p < t) <= 0.05 and np.mean(p < t + 0.02) > 0.0
    with pytest.raises(ValueError, match="too few"):
        accuse_threshold(head, CropSet(xt[:10], yt[:10], ["r"] * 10))


def test_by_source_reports_each_source():
    x, y = _data(40)
    head = fit_head(x, y)
    out = by_source(head, CropSet(x, y, ["a" if v else "b" for v in y]))
    assert out["a"]["n"] == 20 and out["a"]["read_drug"] > 0.8 and out["b"]["read_drug"] < 0.2
