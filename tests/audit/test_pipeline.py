"""The whole audit path on small real clips, with fake detectors (the real models have their own
tests and the sample-bundle test runs them end to end)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from ingest.video_store import segment_name
from database.engine import make_engine, session_factory
from database.models import CheckRow, FlagRow, RejectedRowRecord
from rxaudit.errors import ConfigError
from audit.pipeline import Models, audit
from tests.fakes import BrightBlockPersons, NoFaces, scene_frame
from tests.videos import make_clip

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
FPS = 10


def bundle(tmp_path):
    videos = tmp_path / "videos"
    # PH1/C1: 60 s, a customer from 10 s to 30 s
    frames = [scene_frame(10 <= k / FPS < 30) for k in range(60 * FPS)]
    make_clip(videos / "PH1" / "C1" / segment_name(T0), 60, fps=FPS, frames=frames)
    # PH1/C2: a corrupt file
    bad = videos / "PH1" / "C2" / segment_name(T0)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\x00\x01garbage" * 500)
    rows = [
        ("S1", "PH1", "C1", 20, "CARD-A", "10.00"),   # customer present: clean
        ("S2", "PH1", "C1", 45, "CARD-B", "11.00"),   # nobody: no_customer
        ("S3", "PH1", "C1", 300, "CARD-C", "12.00"),  # after the footage: unverifiable
        ("S4", "PH1", "C2", 20, "CARD-D", "13.00"),   # corrupt clip: unverifiable
        ("S5", "PH1", "C9", 20, "CARD-E", "14.00"),   # unknown counter: unverifiable
    ]
    lines = ["settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount"]
    for sid, ph, c, sec, card, amount in rows:
        lines.append(f"{sid},{ph},{c},{(T0 + timedelta(seconds=sec)).isoformat()},{card},{amount}")
    lines.insert(3, "S6,PH1,C1,not-a-time,CARD-F,1.00")  # file line 4
    (tmp_path / "settlements.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "settlements.csv", videos


@pytest.fixture
def models():
    return Models(persons=BrightBlockPersons(), faces=NoFaces())


def test_audit_end_to_end(tmp_path, make_settings, models):
    csv_path, videos = bundle(tmp_path)
    settings = make_settings()
    out = tmp_path / "flags.json"
    report = audit(settings, settlements_file=csv_path, videos=videos, out=out, models=models)

    status = {r.settlement.settlement_id: str(r.status) for r in report.results}
    assert status == {"S1": "clean", "S2": "flagged", "S3": "unverifiable", "S4": "unverifiable",
                      "S5": "unverifiable"}
    data = json.loads(out.read_text())
    by_id = {f["settlement_id"]: f for f in data["flags"]}
    assert by_id["S2"]["kind"] == "no_customer" and by_id["S2"]["evidence"][0]["keyframe"]
    assert "unreadable" in by_id["S4"]["reason"] and "unknown counter" in by_id["S5"]["reason"]
    assert "no footage" in by_id["S3"]["reason"]
    assert data["summary"] == {"rows_read": 6, "rejected": 1, "audited": 5, "clean": 1, "flagged": 1,
                               "unverifiable": 3, "flags_by_kind": {"no_customer": 1, "unverifiable": 3},
                               "flags_without_district": 4}  # no pharmacies.csv, no registry
    assert data["rejected"] == [{"source": "settlements.csv", "line": 4,
                                 "reason": "settled_at 'xxx-x-xxxx' is not ISO 8601"}]  # masked shape
    assert (settings.evidence_dir / by_id["S2"]["evidence"][0]["keyframe"]).is_file()
    # only the windows were analysed, not the whole minute of video
    assert models.persons.calls < 2 * 60

    # re-running the same audit duplicates nothing
    audit(settings, settlements_file=csv_path, videos=videos, out=out, models=models)
    engine = make_engine(settings.db_url)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(FlagRow)) == 4
        assert session.scalar(select(func.count()).select_from(CheckRow)) == 5
        assert session.scalar(select(func.count()).select_from(RejectedRowRecord)) == 2  # one per run


def test_audit_needs_the_card_key(tmp_path, make_settings, models):
    csv_path, videos = bundle(tmp_path)
    with pytest.raises(ConfigError, match="RXAUDIT_CARD_HASH_KEY"):
        audit(make_settings(card_hash_key=""), settlements_file=csv_path, videos=videos, models=models)
