"""Retention: old segments go, except those the evidence of open, escalated or confirmed flags
points to; recent ones and other recorders' counters are never touched."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from database.engine import make_engine, migrate, session_factory, transaction
from database.models import FlagRow, SegmentEntry, SettlementRow
from ingest.video_store import segment_name
from recorder.retention import sweep
from recorder.sources import Camera
from tests.factories import T0

NOW = T0 + timedelta(days=120)


def seg(root, pharmacy, counter, at):
    path = root / pharmacy / counter / segment_name(at)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"segment")
    return f"{pharmacy}/{counter}/{path.name}"


def flag(session, n, status, clip, at):
    sid = f"S{n}"
    session.add(SettlementRow(settlement_id=sid, pharmacy_id="P1", counter_id="C1", settled_at=at,
                              card_hash="h", amount=Decimal("1.00")))
    session.flush()
    session.add(FlagRow(settlement_id=sid, kind="no_customer", score=0.9, reason="r", review_status=status,
                        pharmacy_id="P1", settled_at=at,
                        evidence={"items": [{"t": at.isoformat(), "clip": f"{clip}#t=13.0", "seen": {}}]}))


def test_old_segments_go_but_evidence_stays(tmp_path, db_url):
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    root = tmp_path / "store"
    old = {status: seg(root, "P1", "C1", T0 + timedelta(minutes=i))
           for i, status in enumerate(("open", "confirmed", "escalated", "dismissed", "none"))}
    recent = seg(root, "P1", "C1", NOW - timedelta(days=10))
    other = seg(root, "P2", "C1", T0)  # another recorder's counter
    with transaction(factory) as session:
        for n, status in enumerate(("open", "confirmed", "escalated", "dismissed")):
            flag(session, n, status, old[status], T0 + timedelta(minutes=n, seconds=13))
        session.add(SegmentEntry(store=str(root), pharmacy_id="P1", counter_id="C1",
                                 name=old["dismissed"].rsplit("/", 1)[1], start=T0))
    swept = sweep(root, [Camera("P1", "C1", "rtsp://h/1")], 90, factory, now=NOW)
    assert sorted(swept.deleted) == sorted([old["dismissed"], old["none"]])
    assert sorted(swept.kept_for_evidence) == sorted([old["open"], old["confirmed"], old["escalated"]])
    for rel in (old["open"], old["confirmed"], old["escalated"], recent, other):
        assert (root / rel).exists(), rel
    for rel in (old["dismissed"], old["none"]):
        assert not (root / rel).exists(), rel
    with factory() as session:
        assert session.scalars(select(SegmentEntry)).all() == []  # the audit's index forgets them
    assert sweep(root, [Camera("P1", "C1", "rtsp://h/1")], 0, factory, now=NOW).deleted == []


def test_without_a_database_nothing_is_deleted(tmp_path):
    root = tmp_path / "store"
    rel = seg(root, "P1", "C1", T0)
    assert sweep(root, [Camera("P1", "C1", "rtsp://h/1")], 90, None, now=NOW).deleted == []
    assert (root / rel).exists()
