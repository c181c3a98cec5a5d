"""/cameras: each recorded counter's state, last frame, fps, bitrate and latest gaps and tamper spans,
in Chinese through the catalogs, district-scoped, stored text escaped; the flag page of an unverifiable
(or camera_tamper) flag links to its counter's row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from database.cameras import close_gap, close_tamper, open_gap, open_tamper, save_health
from database.engine import make_engine, session_factory, transaction
from database.models import FlagRow
from tests.factories import T0

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
EVIL = '<script>alert("x")</script>'


@pytest.fixture
def recorded(city):
    factory = session_factory(make_engine(city.settings.db_url))
    with transaction(factory) as session:
        for pharmacy, state in (("PH1", "tampered"), ("PH2", "offline"), ("PHX", "stalled")):
            save_health(session, pharmacy_id=pharmacy, counter_id="C1", state=state, state_since=T0,
                        last_frame_at=T0 + timedelta(seconds=5), fps=9.96, bitrate_kbps=95.4, width=640,
                        height=360, stream=f"rtsp://admin:***@10.0.0.1/{pharmacy}",
                        detail=EVIL if pharmacy == "PH1" else None)
        open_gap(session, pharmacy_id="PH1", counter_id="C1", start=T0, reason=f"cannot read the stream: {EVIL}")
        close_gap(session, pharmacy_id="PH1", counter_id="C1", end=T0 + timedelta(seconds=12))
        open_tamper(session, pharmacy_id="PH1", counter_id="C1", what="uniform", start=T0 + timedelta(seconds=40),
                    last_good_at=None)
        close_tamper(session, pharmacy_id="PH1", counter_id="C1", end=T0 + timedelta(seconds=50))
        open_gap(session, pharmacy_id="PH2", counter_id="C1", start=T0, reason="no answer within 10 s")
    return city


def _rows(page: str) -> list[str]:
    return [p for p in ("PH1", "PH2", "PHX") if f'id="cam-{p}/C1"' in page]


@pytest.mark.parametrize("who, seen", [("insp_a", ["PH1"]), ("insp_b", ["PH2"]), ("sup", ["PH1", "PH2", "PHX"])])
def test_the_page_is_district_scoped(recorded, client_for, who, seen):
    page = client_for(who).get("/cameras", headers=EN)
    assert page.status_code == 200
    assert _rows(page.text) == seen
    for other in {"PH1", "PH2", "PHX"} - set(seen):
        assert f"rtsp://admin:***@10.0.0.1/{other}" not in page.text and f">{other}<" not in page.text


def test_the_page_in_chinese_shows_health_gaps_and_tamper(recorded, client_for):
    page = client_for("insp_a").get("/cameras", headers=ZH).text
    assert '<a href="/cameras" id="nav-cameras">摄像头</a>' in page
    row = page.split('id="cam-PH1/C1"', 1)[1].split("</tr>", 1)[0]
    assert "画面异常" in row and 'data-state="tampered"' in row  # the state, in Chinese
    assert "2026-11-20 10:00:05" in row  # last frame, local time
    assert ">10.0<" in row and ">95<" in row  # fps, bitrate
    assert "2026-11-20 10:00:00 – 2026-11-20 10:00:12" in row  # the gap
    assert "2026-11-20 10:00:40 – 2026-11-20 10:00:50: 画面单一（镜头被遮挡？）" in row  # the tamper span
    assert "近期录像中断" in page and "近期画面异常" in page and "码率" in page


def test_stored_text_is_escaped(recorded, client_for):
    page = client_for("sup").get("/cameras", headers=EN).text
    assert EVIL not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert page.count("&lt;script&gt;") == 2  # the state's detail and the gap's reason


def test_signed_in_users_only(recorded, client_for):
    assert client_for(None).get("/cameras", follow_redirects=False).status_code in (303, 401)
    assert client_for("key_a").get("/cameras").status_code == 403  # an API key reads /api/v1/cameras


def test_no_recorder_no_rows(city, client_for):
    page = client_for("sup").get("/cameras", headers=EN).text
    assert "No camera is recorded yet" in page and _rows(page) == []


def test_the_flag_page_of_an_unverifiable_flag_links_to_the_counter(recorded, client_for):
    factory = session_factory(make_engine(recorded.settings.db_url))
    with factory() as session:
        u1 = session.scalar(select(FlagRow.id).where(FlagRow.settlement_id == "U1", FlagRow.kind == "unverifiable"))
    client = client_for("insp_a")
    page = client.get(f"/flags/{u1}", headers=ZH).text
    assert '<a id="camera-health" href="/cameras#cam-PH1/C9">该柜台摄像头状态</a>' in page
    accused = client.get(f"/flags/{recorded.flags['A1']}", headers=ZH).text  # no_customer: no link
    assert 'id="camera-health"' not in accused


def _ev(seen):
    return {"items": [{"t": "2026-11-20T02:00:45+00:00", "seen": seen}]}


def test_reasons_in_plain_words():
    from api import i18n
    from api.reasons import plain_reason

    zh, en = i18n.gettext_for("zh_CN"), i18n.gettext_for("en")
    tamper = _ev({"camera_tamper": [{"start": "x", "end": "y", "reason": "uniform", "from": "10:00:40",
                                     "to": "10:00:50"}]})
    assert plain_reason("camera_tamper", "", tamper, zh) == "刷卡时画面一片单色，镜头可能被遮挡（10:00:40–10:00:50）"
    gap = _ev({"camera_gaps": [{"start": "x", "end": "y", "reason": "the stream ended", "from": "10:04:00",
                                "to": "10:05:30"}]})
    assert plain_reason("unverifiable", "footage not recorded: ...", gap, zh) == \
        "未录像：摄像头在 10:04:00–10:05:30 期间未在录像（the stream ended）"
    still = _ev({"camera_gaps": [{"start": "x", "end": None, "reason": "no answer within 10 s", "from": "10:04:00",
                                  "to": None}]})
    assert plain_reason("unverifiable", "", still, en) == \
        "Not recorded: the camera has not been recording since 10:04:00 (no answer within 10 s)"
