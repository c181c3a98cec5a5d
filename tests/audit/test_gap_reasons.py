"""The audit reads the recorder's tamper spans and gaps from the database (SQLite and PostgreSQL):
a swipe inside a tamper span is camera_tamper, one outside is judged as before, a swipe inside a gap
is unverifiable with the gap named; a database without them audits as before."""

from __future__ import annotations

import json
from datetime import timedelta

from audit.pipeline import Models, audit
from database import cameras as camera_db
from database.engine import make_engine, migrate, session_factory, transaction
from tests.audit.test_pipeline import T0, bundle
from tests.fakes import BrightBlockPersons, NoFaces


def _record(db_url, *, tamper=(), gaps=()):
    engine = make_engine(db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        for counter, start, end, what in tamper:
            camera_db.open_tamper(session, pharmacy_id="PH1", counter_id=counter, what=what,
                                  start=T0 + timedelta(seconds=start), last_good_at=None)
            if end is not None:
                camera_db.close_tamper(session, pharmacy_id="PH1", counter_id=counter,
                                       end=T0 + timedelta(seconds=end))
        for counter, start, end, reason in gaps:
            camera_db.open_gap(session, pharmacy_id="PH1", counter_id=counter,
                               start=T0 + timedelta(seconds=start), reason=reason)
            if end is not None:
                camera_db.close_gap(session, pharmacy_id="PH1", counter_id=counter, end=T0 + timedelta(seconds=end))
    engine.dispose()


def _flags(tmp_path, settings):
    csv_path, videos = bundle(tmp_path)
    out = tmp_path / "flags.json"
    report = audit(settings, settlements_file=csv_path, videos=videos, out=out,
                   models=Models(persons=BrightBlockPersons(), faces=NoFaces()))
    data = json.loads(out.read_text())
    status = {r.settlement.settlement_id: str(r.status) for r in report.results}
    return status, {(f["settlement_id"], f["kind"]): f for f in data["flags"]}, data["summary"]


def test_tamper_spans_and_gaps_from_the_database(tmp_path, make_settings, db_url):
    settings = make_settings(db_url=db_url)
    # S2 (10:00:45, nobody in the picture) falls in a covered-lens span; S1 (10:00:20) does not
    # S3 (10:05:00, after the footage) falls in a gap; S4's clip is corrupt, no gap there
    _record(db_url, tamper=[("C1", 40, 50, "uniform"), ("C2", 0, None, "black")],
            gaps=[("C1", 240, 330, "cannot read the stream: Connection refused"),
                  ("C1", 3600, None, "the stream ended")])
    status, flags, summary = _flags(tmp_path, settings)
    assert status["S1"] == "clean" and status["S2"] == "flagged"
    assert set(k for s, k in flags if s == "S2") == {"camera_tamper"}  # not no_customer: the lens was covered
    tampered = flags[("S2", "camera_tamper")]
    assert tampered["evidence"][0]["seen"]["camera_tamper"][0]["reason"] == "uniform"
    assert "10:00:40–10:00:50" in tampered["reason"]
    # S4: a corrupt clip, but the lens was black while the stream was up: the finding
    assert status["S4"] == "flagged" and flags[("S4", "camera_tamper")]["reason"].count("black picture since 10:00:00")
    assert status["S3"] == "unverifiable"
    assert flags[("S3", "unverifiable")]["reason"].startswith(
        "footage not recorded: camera not recording 10:04:00–10:05:30 (cannot read the stream: Connection refused)")
    assert status["S5"] == "unverifiable" and "unknown counter" in flags[("S5", "unverifiable")]["reason"]
    assert summary["flags_by_kind"] == {"camera_tamper": 2, "unverifiable": 2}


def test_without_a_recorder_the_audit_is_unchanged(tmp_path, make_settings, db_url):
    settings = make_settings(db_url=db_url)
    _record(db_url, tamper=[("C1", 3600, 3700, "frozen")], gaps=[("C7", 0, None, "the stream ended")])
    status, flags, summary = _flags(tmp_path, settings)
    assert status == {"S1": "clean", "S2": "flagged", "S3": "unverifiable", "S4": "unverifiable",
                      "S5": "unverifiable"}
    assert summary["flags_by_kind"] == {"no_customer": 1, "unverifiable": 3}
    assert "no footage around the swipe" in flags[("S3", "unverifiable")]["reason"]
    assert not any("camera_gaps" in f["evidence"][0]["seen"] for f in flags.values())


def test_camera_windows_span_each_counters_swipes_in_camera_time_with_its_tolerance():
    """The windows the recorder's log is read for: per counter, from its first swipe to its last on
    the camera's clock (offset per counter), widened by its clock tolerance and a minute."""
    from datetime import timedelta

    from ingest.cameras import CamerasConfig, CounterConfig, PharmacyConfig
    from reconcile.context import AuditContext, RuleConfig
    from audit.pipeline import _camera_windows
    from tests.factories import T0, settlement

    cameras = CamerasConfig(pharmacies={"PH1": PharmacyConfig(counters={
        "C1": CounterConfig(clock_offset_s=30, clock_uncertainty_s=5), "C2": CounterConfig(clock_offset_s=-60)})})
    ctx = AuditContext(config=RuleConfig(), cameras=cameras, footage={})
    swipes = [settlement(1, seconds=300), settlement(2, seconds=-100), settlement(3, seconds=50),
              settlement(4, counter="C2", seconds=10), settlement(5, pharmacy="PH2", seconds=7)]
    default = timedelta(seconds=RuleConfig().presence_tolerance_s + 60)
    s = timedelta(seconds=1)
    assert _camera_windows(swipes, ctx) == {
        ("PH1", "C1"): (T0 - 100 * s + 30 * s - 65 * s, T0 + 300 * s + 30 * s + 65 * s),
        ("PH1", "C2"): (T0 + 10 * s - 60 * s - default, T0 + 10 * s - 60 * s + default),
        ("PH2", "C1"): (T0 + 7 * s - default, T0 + 7 * s + default)}
    assert _camera_windows([], ctx) == {}
