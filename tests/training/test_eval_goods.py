"""``rxaudit eval-goods``: matching and scoring, with a fake detector that knows the truth."""

from __future__ import annotations

import pytest

from rxaudit.domain import Box, DetectedObject
from training.eval_goods import calibration_pairs, eval_groceries, eval_snacks, match
from tests.conftest import GOODS
from vision.real_goods import read_groceries, read_rgb, read_snacks, split_snacks


def obj(cls, x1, y1, x2, y2, score=0.9):
    return DetectedObject(Box(x1, y1, x2, y2), cls, score)


@pytest.mark.parametrize("found, expected_got, expected_used", [
    ([], [None, None], []),
    ([obj("non_covered", 0, 0, 10, 10)], ["non_covered", None], [True]),
    ([obj("drug", 1, 1, 10, 10), obj("non_covered", 0, 0, 10, 10)], ["non_covered", None], [False, True]),
    ([obj("drug", 0, 0, 4, 4)], [None, None], [False]),  # IoU 0.16: not the object
    ([obj("drug", 20, 20, 30, 30), obj("drug", 0, 0, 10, 10)], ["drug", "drug"], [True, True]),
])
def test_matching_is_one_to_one_at_iou_half(found, expected_got, expected_used):
    truth = [("non_covered", Box(0, 0, 10, 10)), ("non_covered", Box(20, 20, 30, 30))]
    got, used = match(truth, found)
    assert got == expected_got and used == expected_used


class Oracle:
    """Reads every labelled snack as ``cls``, and adds a drug box where told."""

    def __init__(self, frames, cls="non_covered", extra_drug=False):
        self.truth = {read_rgb(f.image).tobytes()[:4096]: f for f in frames}
        self.cls, self.extra_drug = cls, extra_drug

    def detect(self, images):
        out = []
        for image in images:
            frame = self.truth.get(image.tobytes()[:4096])
            h, w = image.shape[:2]
            found = [obj(self.cls, x1 * w, y1 * h, x2 * w, y2 * h) for x1, y1, x2, y2 in (frame.boxes if frame else ())]
            if self.extra_drug:
                found.append(obj("drug", 0, 0, 5, 5))
            out.append(found)
        return out


@pytest.fixture(scope="module")
def held():
    return split_snacks(read_snacks(GOODS / "snacks"))[1]


def test_a_detector_that_reads_every_snack_right_scores_full_recall(held):
    got = eval_snacks(Oracle(held), held, min_score=0.5)
    assert got["non_covered_recall"] == 1.0 and got["non_covered_precision"] == 1.0
    assert got["frames_with_drug"] == 0.0 and got["objects"] == sum(len(f.boxes) for f in held)


def test_snacks_read_as_drugs_count_against_the_detector(held):
    got = eval_snacks(Oracle(held, cls="drug"), held, min_score=0.5)
    assert got["non_covered_recall"] == 0.0 and got["found_as_goods"] == 1.0
    labelled = sum(bool(f.boxes) for f in held) / len(held)  # one held-out frame shows no product
    assert got["frames_with_drug"] == labelled and got["objects_read_as"] == {"drug": got["objects"]}
    assert eval_snacks(Oracle(held), held, min_score=0.95)["non_covered_recall"] == 0.0  # below the bar


def test_groceries_count_photos_with_a_drug_box():
    photos = read_groceries(GOODS / "groceries")
    got = eval_groceries(Oracle([], extra_drug=True), photos, min_score=0.5)
    assert set(got) == {"Fruit", "Packages", "Vegetables"}
    assert all(g["with_drug"] == 1.0 and g["with_non_covered"] == 0.0 for g in got.values())


def test_calibration_pairs_mark_which_detections_were_right(held):
    images = [(read_rgb(f.image), [("non_covered", Box(x1 * 432, y1 * 768, x2 * 432, y2 * 768))
                                   for x1, y1, x2, y2 in f.boxes]) for f in held[:3]]
    pairs = calibration_pairs(Oracle(held[:3], extra_drug=True), images)
    assert all(ok for _, ok in pairs["non_covered"]) and not any(ok for _, ok in pairs["drug"])
    assert len(pairs["drug"]) == 3


def test_eval_and_calibrate_commands_on_the_bundled_real_frames(tmp_path, monkeypatch, capsys):
    import json
    import shutil

    from cli.main import main
    from rxaudit.settings import MODELS_DIR
    from tests.conftest import TEST_KEY

    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    model = tmp_path / "m.onnx"
    shutil.copyfile(MODELS_DIR / "counter-objects.onnx", model)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"map50": 0.9}))
    assert main(["calibrate-goods", "--model", str(model), "--images", "30"]) == 0
    table = json.loads((tmp_path / "m.calibration.json").read_text())
    assert "rendered validation seed 4" in table["fitted_on"] and table["classes"]
    assert main(["eval-goods", "--model", str(model), "--snacks", str(GOODS / "snacks"), "--groceries",
                 str(GOODS / "groceries"), "--all-grocery-classes", "--rendered", "4",
                 "--json", str(tmp_path / "eval.json"), "--metrics", str(metrics)]) == 0
    got = json.loads((tmp_path / "eval.json").read_text())
    assert got["snacks_held_out"]["frames"] == 20 and got["snacks_held_out"]["videos"] == ["20250506_205726"]
    assert sum(g["photos"] for g in got["groceries_held_out"].values()) == 52
    assert json.loads(metrics.read_text())["at_audit_thresholds"]["min_score"] == got["min_score"]


class Disputed(Oracle):
    """Reads every snack as non-covered with a drug runner-up at ``rival`` (a goods head's dispute)."""

    def __init__(self, frames, rival):
        super().__init__(frames)
        self.rival = rival

    def detect(self, images):
        return [[DetectedObject(o.box, o.cls, o.score, runner_up="drug", runner_up_score=self.rival) for o in found]
                for found in super().detect(images)]


@pytest.mark.parametrize("rival, decisive", [(0.0, 1.0), (0.4, 1.0), (0.6, 0.0)])
def test_decisive_recall_counts_only_readings_the_rule_could_accuse_on(held, rival, decisive):
    from reconcile.goods import GoodsOptions

    opts = GoodsOptions(min_score=0.5, rival_min_score=0.5, review_min_score=0.5)
    got = eval_snacks(Disputed(held, rival), held, min_score=0.5, options=opts)
    assert got["non_covered_recall"] == 1.0  # still read as non-covered
    assert got["decisive_recall"] == decisive
    assert "decisive_recall" not in eval_snacks(Oracle(held), held, min_score=0.5)
