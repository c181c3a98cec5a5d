"""The shipped counter detector on real pixels it never trained on, at the audit's thresholds (the
bundled subsets of tests/data/goods: every fifth frame of the held-out snack video, two photos of
each held-out grocery class). The full held-out figures come from ``rxaudit eval-goods``
(vision/models/counter-objects.metrics.json); the bars here sit below them, for a 20-frame subset."""

from __future__ import annotations

import pytest

from training.eval_goods import eval_groceries, eval_snacks
from rxaudit.settings import MODELS_DIR, Settings
from tests.conftest import GOODS
from vision.objects import OnnxObjectDetector
from vision.real_goods import read_groceries, read_snacks, split_snacks

MIN_SCORE = Settings.model_fields["goods_min_score"].default
RECALL_BAR = 0.85  # the full held-out video measured 0.93 (metrics file); earlier models 0.94, 0.79 and 0.04
# Precision counts a box on goods the dataset did not label as wrong: the held-out video's unmatched
# boxes sit on packs inside the glass counter and on bags at the frame's edge, which its annotators
# left unboxed (checked by eye, PROVENANCE.md). The shipped model boxes more of them than the one
# before (full video 0.83 against 0.89, this subset 0.76 against 0.83); the bar catches a model that
# boxes what is no product at all (renders-only stage 2: 0.54), not one that finds unlabelled packs.
PRECISION_BAR = 0.7


@pytest.fixture(scope="module")
def detector():
    return OnnxObjectDetector(MODELS_DIR / "counter-objects.onnx",
                              min_score=Settings.model_fields["object_min_score"].default)


def test_real_snacks_read_as_non_covered_goods_never_as_drugs(detector):
    held = split_snacks(read_snacks(GOODS / "snacks"))[1]
    got = eval_snacks(detector, held, MIN_SCORE)
    print(got)
    assert got["non_covered_recall"] >= RECALL_BAR and got["non_covered_precision"] >= PRECISION_BAR
    assert got["frames_with_drug"] <= 0.05


def test_real_fruit_vegetables_and_drinks_are_not_drugs(detector):
    got = eval_groceries(detector, read_groceries(GOODS / "groceries"), MIN_SCORE)
    print(got)
    assert got["Fruit"]["with_drug"] <= 0.1 and got["Vegetables"]["with_drug"] <= 0.1
    assert got["Packages"]["with_drug"] <= 0.15
