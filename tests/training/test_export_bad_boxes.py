"""``rxaudit dataset export`` skips a frame whose stored corrected boxes are unusable (``null``
coordinates written before boxes were checked, a box outside the frame, a wrong shape) and names it in
the summary; every other reviewed frame is still exported."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from cli.main import main
from database.engine import make_engine, session_factory, transaction
from database.models import FlagRow, Verdict
from tests.training.test_retrain import reviewed  # noqa: F401 - the fixture

BAD_STORED = {
    "infinity stored as null": [{"cls": "drug", "box": [0, 0, None, None]}],
    "outside the frame": [{"cls": "drug", "box": [0, 0, 641, 10]}],
    "x1 > x2": [{"cls": "drug", "box": [30, 0, 10, 10]}],
    "a string": "[0, 0, 5, 5]",
    "no box": [{"cls": "drug"}],
    "numbers as text": [{"cls": "drug", "box": ["0", "0", "5", "5"]}],
}


def store_boxes(settings, settlement_id: str, boxes) -> None:
    engine = make_engine(settings.db_url)
    with transaction(session_factory(engine)) as session:
        flag = session.scalar(select(FlagRow.id).where(FlagRow.settlement_id == settlement_id,
                                                       FlagRow.kind == "no_customer"))
        session.execute(update(Verdict).where(Verdict.flag_id == flag).values(boxes=boxes))
    engine.dispose()


@pytest.mark.parametrize("boxes", BAD_STORED.values(), ids=BAD_STORED.keys())
def test_an_unusable_stored_correction_skips_its_frame_only(reviewed, boxes, capsys):  # noqa: F811
    root, settings, _ = reviewed
    store_boxes(settings, "R1", boxes)
    env = ["--db", settings.db_url, "--evidence-dir", str(settings.evidence_dir)]
    assert main(["dataset", "export", "--out", str(root / "ds"), *env]) == 0
    manifest = json.loads((root / "ds" / "manifest.json").read_text())
    assert manifest["skipped"]["R1"].startswith("stored corrected boxes unusable: boxes")
    assert manifest["images"]["train"] + manifest["images"]["val"] == 1  # R0's confirmed detections
    assert manifest["from_detections"] == 1 and manifest["from_corrections"] == 0
    assert json.loads(capsys.readouterr().out)["skipped"]["R1"] == manifest["skipped"]["R1"]
