"""The live view of a pharmacy (``/live/{pharmacy}``, ``GET /api/v1/live/pharmacies/{pharmacy}``) and the
backlog (``GET /api/v1/live/status``): district-scoped, flags marked on their settlements, stored text
never markup, the page in Chinese; one click to it from a flag page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from database.cameras import open_gap, save_health
from database.engine import make_engine, session_factory, transaction
from database.models import LiveSettlement, Pharmacy, utcnow
from tests.api.conftest import T0

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def live_row(sid: str, pharmacy: str, counter: str, seconds: float, state: str = "pending",
             outcome: str | None = None) -> LiveSettlement:
    at = T0 + timedelta(seconds=seconds)
    now = utcnow()
    return LiveSettlement(settlement_id=sid, pharmacy_id=pharmacy, counter_id=counter, settled_at=at,
                          card_hash="h" * 16, amount=Decimal("9.50"), items={}, extra={}, source="api",
                          received_at=now, due_at=now - timedelta(seconds=30), state=state, attempts=0,
                          done_at=now if state == "done" else None, outcome=outcome)


@pytest.fixture
def live(city):
    """PH1 (district A): A1 done and flagged by the batch audit's no_customer flag, L2 waiting at C2;
    PH2 (district B): B9 claimed. PH1/C1 recorded, C2 in a gap."""
    factory = session_factory(make_engine(city.settings.db_url))
    with transaction(factory) as s:
        s.add_all([live_row("A1", "PH1", "C1", 45, "done", "flagged"), live_row("L2", "PH1", "C2", 50),
                   live_row("B9", "PH2", "C1", 60, "claimed")])
        for counter, state in (("C1", "recording"), ("C2", "offline")):
            save_health(s, pharmacy_id="PH1", counter_id=counter, state=state, state_since=T0,
                        last_frame_at=T0, fps=10.0, bitrate_kbps=90.0, width=640, height=360,
                        stream="rtsp://***@cam", detail=None)
        open_gap(s, pharmacy_id="PH1", counter_id="C2", start=T0, reason="the stream ended")
    return city


@pytest.mark.parametrize("who, pending, claimed", [("insp_a", 1, 0), ("insp_b", 0, 1), ("key_a", 1, 0),
                                                   ("sup", 1, 1), ("key_all", 1, 1)])
def test_status_is_district_scoped(live, client_for, who, pending, claimed):
    st = client_for(who).get("/api/v1/live/status")
    assert st.status_code == 200
    body = st.json()
    assert (body["pending"], body["claimed"]) == (pending, claimed)
    assert all(c["delay_s"] >= 29 for c in body["counters"])  # due 30 s ago, not done
    assert {c["pharmacy_id"] for c in body["counters"]} <= ({"PH1"} if who.endswith("_a") else
                                                            {"PH2"} if who.endswith("_b") else {"PH1", "PH2"})


def test_status_needs_credentials(live, client_for):
    assert client_for(None).get("/api/v1/live/status").status_code == 401


def test_pharmacy_live_data(live, client_for):
    body = client_for("insp_a").get("/api/v1/live/pharmacies/PH1").json()
    assert body["district"] == "A" and body["counters"] == ["C1", "C2"]
    rows = {r["settlement_id"]: r for r in body["settlements"]}
    assert list(rows) == ["L2", "A1"]  # newest swipe first
    assert rows["A1"]["state"] == "done" and rows["A1"]["outcome"] == "flagged"
    assert [f["id"] for f in rows["A1"]["flags"]] == [live.flags["A1"]]
    assert rows["A1"]["flags"][0]["kind"] == "no_customer" and rows["L2"]["flags"] == []
    assert "card_hash" not in rows["A1"]
    cams = {c["counter_id"]: c for c in body["cameras"]}
    assert cams["C1"]["state"] == "recording" and cams["C1"]["gap_since"] is None
    assert cams["C2"]["gap_since"] is not None
    one = client_for("insp_a").get("/api/v1/live/pharmacies/PH1?counter=C2").json()
    assert [r["settlement_id"] for r in one["settlements"]] == ["L2"]


@pytest.mark.parametrize("path", ["/api/v1/live/pharmacies/PH2", "/live/PH2", "/live/PHX", "/live/NOPE"])
def test_other_districts_read_as_missing(live, client_for, path):
    assert client_for("insp_a").get(path).status_code == 404


def test_unknown_pharmacy_is_missing_for_everyone(live, client_for):
    assert client_for("sup").get("/live/NOPE").status_code == 404
    assert client_for("sup").get("/live/PHX").status_code == 200  # audited, no district: supervisors see it


def test_bad_input_is_bounded(live, client_for):
    client = client_for("sup")
    assert client.get("/api/v1/live/pharmacies/" + "P" * 65).status_code == 422
    assert client.get("/api/v1/live/pharmacies/PH1?limit=100000").status_code == 422
    assert client.get("/api/v1/live/pharmacies/PH1?counter=" + "C" * 65).status_code == 422


def test_page_in_chinese_and_names_are_text(live, client_for):
    factory = session_factory(make_engine(live.settings.db_url))
    with transaction(factory) as s:
        s.get(Pharmacy, "PH1").name = "<img src=x onerror=alert(1)>东药房"
    page = client_for("insp_a").get("/live/PH1?counter=C2", headers=ZH)
    assert page.status_code == 200
    assert "实时画面" in page.text and "实时到达的结算" in page.text
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;东药房" in page.text
    assert 'id="counter-C2"' in page.text and 'class="counter-tile selected"' in page.text
    assert '<script src="/static/live.js">' in page.text


def test_page_needs_a_person(live, client_for):
    assert client_for("key_a").get("/live/PH1").status_code == 403
    anonymous = client_for(None).get("/live/PH1", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/live/PH1"


def test_flag_page_links_to_its_counters_live_view(live, client_for):
    page = client_for("insp_a").get(f"/flags/{live.flags['A1']}", headers=ZH)
    assert 'id="live-view" href="/live/PH1?counter=C1"' in page.text
    assert "该柜台的实时画面" in page.text


def test_wall_has_the_backlog_tile(live, client_for):
    page = client_for("insp_a").get("/wall", headers=ZH)
    assert 'id="backlog-tile"' in page.text and "实时积压" in page.text
    assert "/static/wall_backlog.js" in page.text
