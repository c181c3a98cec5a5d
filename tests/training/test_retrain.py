"""The retraining loop end to end: audit a clip with the shipped counter detector, review the flags
(confirm; dismiss with corrected boxes; dismiss without), export the dataset, fine-tune on it."""

from __future__ import annotations

import json
from datetime import timedelta

import cv2
import pytest
import yaml
from sqlalchemy import select

from ingest.video_store import segment_name
from cli.main import main
from database.accounts import add_user, user_principal
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import FlagRow
from database.verdicts import parse_boxes, record_verdict
from rxaudit.errors import InputError
from audit.pipeline import Models, audit
from rxaudit.security import Role, VerdictAction
from rxaudit.settings import load_settings
from sample_footage.detection_set import render_image
from sample_footage.goods import CLASSES
from tests.conftest import GOODS, TEST_KEY
from tests.factories import T0
from tests.fakes import NoFaces
from tests.videos import make_clip
from vision.objects import OnnxObjectDetector


class Nobody:
    def detect(self, frames):
        return [[] for _ in frames]


@pytest.fixture
def reviewed(tmp_path):
    image, labels = render_image(97, "loop", 1)
    make_clip(tmp_path / "videos" / "PH1" / "C1" / segment_name(T0), 60, fps=5, size=(640, 360),
              frames=[image] * 300)
    rows = ["settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount"]
    rows += [f"R{k},PH1,C1,{(T0 + timedelta(seconds=sec)).isoformat()},CARD{k},9.50"
             for k, sec in enumerate((10, 25, 40))]
    (tmp_path / "settlements.csv").write_text("\n".join(rows) + "\n")
    settings = load_settings(db_url=f"sqlite:///{tmp_path}/rx.db", evidence_dir=str(tmp_path / "ev"),
                             card_hash_key=TEST_KEY)
    detector = OnnxObjectDetector(settings.object_model, min_score=settings.object_min_score)
    audit(settings, settlements_file=tmp_path / "settlements.csv", videos=tmp_path / "videos",
          models=Models(Nobody(), NoFaces(), objects=detector))
    truth = [{"cls": CLASSES[c], "box": [round(v, 1) for v in box]} for c, *box in labels]
    engine = make_engine(settings.db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        who = user_principal(add_user(session, name="sup", role=Role.SUPERVISOR, password="long enough pw",
                                      districts=[]))
        flags = {f.settlement_id: f.id for f in session.scalars(select(FlagRow).where(FlagRow.kind == "no_customer"))}
        record_verdict(session, who, flag_id=flags["R0"], action=VerdictAction.CONFIRM, note="")
        record_verdict(session, who, flag_id=flags["R1"], action=VerdictAction.DISMISS, note="boxes fixed",
                       boxes=truth)
        record_verdict(session, who, flag_id=flags["R2"], action=VerdictAction.DISMISS, note="")
    engine.dispose()
    return tmp_path, settings, truth


@pytest.mark.parametrize("text, message", [
    ("{", "not JSON"), ('{"cls": "card"}', "a list"), ('[{"box": [0, 0, 1, 1]}]', "cls"),
    ('[{"cls": "card", "box": [5, 5, 1, 1]}]', "x1 < x2"), ('[{"cls": "card", "box": [0, 0, 1]}]', "x1 < x2"),
])
def test_bad_corrected_boxes_are_refused_with_the_reason(text, message):
    with pytest.raises(InputError, match=message):
        parse_boxes(text)


def test_corrected_boxes_parse():
    assert parse_boxes("") is None and parse_boxes("[]") == []
    assert parse_boxes('[{"cls": "drug", "box": [1, 2, 30, 40]}]') == [{"cls": "drug", "box": [1.0, 2.0, 30.0, 40.0]}]


def test_export_then_fine_tune(reviewed, capsys):
    root, settings, truth = reviewed
    env = ["--db", settings.db_url, "--evidence-dir", str(settings.evidence_dir)]
    assert main(["dataset", "export", "--out", str(root / "ds"), *env]) == 0
    manifest = json.loads((root / "ds" / "manifest.json").read_text())
    assert manifest["images"]["train"] + manifest["images"]["val"] == 2
    assert manifest["from_corrections"] == 1 and manifest["from_detections"] == 1
    assert "without corrected boxes" in manifest["skipped"]["R2"]
    labels = sorted((root / "ds" / "labels").glob("*/*.txt"))
    lines = sorted(len(p.read_text().splitlines()) for p in labels)
    assert len(truth) in lines  # the corrected frame carries exactly the reviewer's boxes
    image = next((root / "ds" / "images").glob("*/*.jpg"))
    assert cv2.imread(str(image)).shape == (360, 640, 3)  # the raw frame, not the drawn keyframe
    assert main(["dataset", "export", "--out", str(root / "ds"), *env]) == 4  # never over an export

    # the reviewed boxes and the real goods sets mix in one run
    assert main(["dataset", "real", "--out", str(root / "real"), "--snacks", str(GOODS / "snacks"),
                 "--groceries", str(GOODS / "groceries"), "--composites", "2", "--crowded", "2"]) == 0
    out = root / "tuned"
    assert main(["train", "--from", str(root / "ds"), "--from", str(root / "real"), "--out", str(out),
                 "--epochs", "1", "--imgsz", "160", "--batch", "2", *env]) == 0
    merged = yaml.safe_load((out / "merged" / "data.yaml").read_text())
    assert str(root / "real" / "images" / "train") in merged["train"]
    assert not any("real" in v for v in merged["val"])  # the real set brings no validation images
    tuned = OnnxObjectDetector(out / "counter-objects.onnx")
    assert tuned.names == CLASSES
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1
    assert "RXAUDIT_OBJECT_MODEL=" in capsys.readouterr().out
