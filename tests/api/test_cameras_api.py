"""GET /api/v1/cameras: the recorders' health per counter, district-scoped, passwords never shown."""

from __future__ import annotations

from datetime import timedelta

import pytest

from database.cameras import close_gap, open_gap, save_health
from database.engine import make_engine, session_factory, transaction
from tests.factories import T0


@pytest.fixture
def recorded(city):
    factory = session_factory(make_engine(city.settings.db_url))
    with transaction(factory) as session:
        for pharmacy, state in (("PH1", "recording"), ("PH2", "offline"), ("PHX", "stalled")):
            save_health(session, pharmacy_id=pharmacy, counter_id="C1", state=state, state_since=T0,
                        last_frame_at=T0 + timedelta(seconds=5), fps=10.0, bitrate_kbps=95.0, width=640,
                        height=360, stream=f"rtsp://admin:***@10.0.0.1/{pharmacy}", detail=None)
        open_gap(session, pharmacy_id="PH1", counter_id="C1", start=T0, reason="the stream ended")
        close_gap(session, pharmacy_id="PH1", counter_id="C1", end=T0 + timedelta(seconds=12))
        open_gap(session, pharmacy_id="PH2", counter_id="C1", start=T0, reason="no answer within 10 s")
    return city


@pytest.mark.parametrize("who, seen", [("insp_a", ["PH1"]), ("insp_b", ["PH2"]), ("key_a", ["PH1"]),
                                       ("sup", ["PH1", "PH2", "PHX"]), ("key_all", ["PH1", "PH2", "PHX"])])
def test_cameras_are_district_scoped(recorded, client_for, who, seen):
    answer = client_for(who).get("/api/v1/cameras")
    assert answer.status_code == 200
    assert [c["pharmacy_id"] for c in answer.json()] == seen


def test_camera_health_and_gaps(recorded, client_for):
    cams = {c["pharmacy_id"]: c for c in client_for("sup").get("/api/v1/cameras").json()}
    ph1 = cams["PH1"]
    assert ph1["state"] == "recording" and ph1["fps"] == 10.0 and ph1["district"] == "A"
    assert ph1["stream"] == "rtsp://admin:***@10.0.0.1/PH1"
    assert ph1["gaps"] == [{"start": "2026-11-20T10:00:00+08:00", "end": "2026-11-20T10:00:12+08:00",
                            "reason": "the stream ended"}]
    assert cams["PH2"]["gaps"][0]["end"] is None and cams["PH2"]["state"] == "offline"
    assert ph1["last_frame_at"].endswith("+08:00")


def test_cameras_need_auth(recorded, client_for):
    assert client_for(None).get("/api/v1/cameras").status_code == 401
