"""Review at speed, server side: previous/next in the queue's order, auto-advance, structured dismissal
reasons, bulk verdicts on ticked flags only after a confirmation (decided flags skipped unless asked,
each marked as bulk), and every settlement of a multi-settlement flag linked with its keyframe."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from database.engine import make_engine, session_factory, transaction
from database.models import FlagRow, Verdict
from tests.api.conftest import csrf_of

EN = {"Accept-Language": "en"}


def verdicts(city) -> list[Verdict]:
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        rows = list(session.scalars(select(Verdict).order_by(Verdict.id)))
        session.expunge_all()
    engine.dispose()
    return rows


def status(client_for, flag: int) -> str:
    return client_for("key_all").get(f"/api/v1/flags/{flag}").json()["review_status"]


def test_previous_and_next_follow_the_queue(client_for, city):
    client = client_for("sup")
    queue = client.get("/flags", headers=EN).text
    order = [int(i) for i in re.findall(r'<td class="sid"><a href="/flags/(\d+)', queue)]
    assert len(order) >= 3
    middle = client.get(f"/flags/{order[1]}", headers=EN).text
    assert f'id="prev" rel="prev" href="/flags/{order[0]}"' in middle
    assert f'id="next" rel="next" href="/flags/{order[2]}"' in middle
    assert 'id="prev"' not in client.get(f"/flags/{order[0]}").text
    # the filters travel with the links: the only unverifiable flag has no neighbour of its kind
    filtered = client.get(f"/flags/{order[-1]}", params={"kind": "unverifiable"}).text
    assert 'id="next"' not in filtered and 'id="prev"' not in filtered


def test_auto_advance_opens_the_next_flag_with_the_same_filters(client_for, city):
    client = client_for("insp_a")
    a1 = city.flags["A1"]
    page = client.get(f"/flags/{a1}").text
    assert 'name="advance" id="then" value="true"' in page
    u1 = int(re.search(r'id="next" rel="next" href="/flags/(\d+)', page).group(1))
    response = client.post(f"/flags/{a1}/verdict", follow_redirects=False, data={
        "action": "confirm", "csrf": csrf_of(client), "advance": "true", "query": "sort=newest&page=3"})
    assert response.status_code == 303 and response.headers["location"] == f"/flags/{u1}?sort=newest"
    assert status(client_for, a1) == "confirmed"


@pytest.mark.parametrize("reason", ["wrong_detection", "customer_off_camera", "clock_offset", "other"])
def test_a_dismissal_keeps_its_reason(client_for, city, reason):
    client = client_for("insp_a")
    flag = city.flags["A1"]
    client.post(f"/flags/{flag}/verdict", data={"action": "dismiss", "reason": reason, "note": "seen",
                                                "csrf": csrf_of(client)})
    assert [(v.action, v.reason, v.bulk) for v in verdicts(city)] == [("dismiss", reason, False)]
    history = client.get(f"/flags/{flag}", headers={"Accept-Language": "zh-CN"}).text
    label = {"wrong_detection": "识别错误", "customer_off_camera": "顾客不在画面内",
             "clock_offset": "摄像头时钟偏差", "other": "其他"}[reason]
    assert f"排除 · {label}" in history


def test_an_unknown_dismissal_reason_is_refused(client_for, city):
    client = client_for("insp_a")
    response = client.post(f"/flags/{city.flags['A1']}/verdict", follow_redirects=False,
                           data={"action": "dismiss", "reason": "bored", "csrf": csrf_of(client)})
    assert response.status_code == 422 and verdicts(city) == []


def test_bulk_needs_ticks_and_a_confirmation_with_the_count(client_for, city):
    client = client_for("sup")
    token = csrf_of(client)
    a1, b1, x1 = city.flags["A1"], city.flags["B1"], city.flags["X1"]
    assert client.post("/flags/bulk-verdict", data={"action": "dismiss", "csrf": token},
                       follow_redirects=False).status_code == 422  # nothing ticked
    client.post(f"/flags/{a1}/verdict", data={"action": "escalate", "csrf": token})  # already decided
    form = {"action": "dismiss", "reason": "clock_offset", "note": "camera 40 s late", "csrf": token,
            "ids": [str(a1), str(b1), str(x1)], "query": "kind=no_customer"}
    confirm = client.post("/flags/bulk-verdict", data=form, headers=EN)
    assert confirm.status_code == 200
    assert "Dismiss 2 flag(s)?" in confirm.text and "1 ticked flag(s) already have a verdict" in confirm.text
    assert len(verdicts(city)) == 1  # the confirmation page writes nothing
    done = client.post("/flags/bulk-verdict", data={**form, "confirmed": "true"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/flags?kind=no_customer&done=2"
    assert status(client_for, a1) == "escalated"  # skipped: it had a verdict
    assert status(client_for, b1) == status(client_for, x1) == "dismissed"
    bulk = [v for v in verdicts(city) if v.bulk]
    assert sorted(v.flag_id for v in bulk) == sorted([b1, x1])
    assert {(v.reason, v.note) for v in bulk} == {("clock_offset", "camera 40 s late")}
    assert ">bulk</span>" in client.get(f"/flags/{b1}", headers=EN).text


def test_bulk_may_include_decided_flags_when_asked(client_for, city):
    client = client_for("sup")
    token = csrf_of(client)
    a1 = city.flags["A1"]
    client.post(f"/flags/{a1}/verdict", data={"action": "escalate", "csrf": token})
    form = {"action": "confirm", "csrf": token, "ids": [str(a1)], "include_decided": "true", "confirmed": "true"}
    client.post("/flags/bulk-verdict", data=form)
    assert status(client_for, a1) == "confirmed"


def test_bulk_cannot_reach_another_district(client_for, city):
    client = client_for("insp_a")
    response = client.post("/flags/bulk-verdict", follow_redirects=False, data={
        "action": "dismiss", "csrf": csrf_of(client), "ids": [str(city.flags["B1"])], "confirmed": "true"})
    assert response.status_code == 404 and verdicts(city) == []


@pytest.fixture
def pooled(city):
    """A1 and A2 (one customer, two cards) flagged as card pooling, each naming both settlements."""
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        a1 = session.scalars(select(FlagRow).where(FlagRow.settlement_id == "A1")).first()
        for sid in ("A1", "A2"):
            seen = {"settlements": ["A1", "A2"], "distinct_cards": 2, "track_id": 1}
            face = {"label": "face #1", "box": [20.0, 10.0, 60.0, 50.0]}
            evidence = {"items": [{**a1.evidence["items"][0], "seen": seen, "boxes": [face]}]}
            session.add(FlagRow(settlement_id=sid, kind="card_pooling", score=0.8, evidence=evidence,
                                reason="2 distinct cards settled while one customer (track 1) stayed"))
        session.flush()
        ids = {f.settlement_id: f.id for f in session.scalars(select(FlagRow).where(FlagRow.kind == "card_pooling"))}
    engine.dispose()
    return ids


def test_card_pooling_shows_every_settlement_linked_with_keyframes(client_for, pooled):
    page = client_for("insp_a").get(f"/flags/{pooled['A1']}", headers=EN).text
    assert "Every settlement involved (2)" in page
    for sid, flag in pooled.items():
        assert f'<a href="/flags/{flag}">{sid}</a>' in page
        assert f'src="/flags/{flag}/keyframes/0.jpg"' in page
        assert f'data-src="/flags/{flag}/keyframes/0.jpg" data-box="20.0,10.0,60.0,50.0"' in page  # face crop
    assert "2 different cards paid while one customer stayed at the counter" in page


def test_unverifiable_flags_say_why_and_show_no_player(client_for, city):
    client = client_for("insp_a")
    queue = client.get("/flags", params={"kind": "unverifiable"}).text
    flag = int(re.search(r'<td class="sid"><a href="/flags/(\d+)', queue).group(1))
    page = client.get(f"/flags/{flag}", headers=EN).text
    assert "<video" not in page and 'id="novideo"' in page
    assert "No camera is known for this counter" in page
    assert "unknown counter" in page  # the technical detail


def test_the_flag_page_lists_its_shortcuts(client_for, city):
    page = client_for("insp_a").get(f"/flags/{city.flags['A1']}", headers=EN).text
    assert 'id="shortcuts-on"' in page and 'id="auto-advance"' in page and 'id="undo"' in page
    for key in ("c", "e", "d", "u", "j", "k", "z"):
        assert f"<kbd>{key}</kbd>" in page


def audit_rows(page: str) -> list[str]:
    return re.findall(r'<td data-action="([a-z_]+)">', page)


def test_the_audit_log_page_lists_sign_ins_and_verdicts_with_filters(client_for, city):
    from tests.api.conftest import sign_in

    inspector = client_for("insp_a")
    assert inspector.get("/audit").status_code == 403
    assert 'id="nav-audit"' not in inspector.get("/flags").text
    inspector.post(f"/flags/{city.flags['A1']}/verdict", data={"action": "dismiss", "reason": "other",
                                                               "csrf": csrf_of(inspector)})
    stranger = client_for(None)
    sign_in(stranger, "insp_a", "wrong password")
    sup = client_for("sup")
    everything = sup.get("/audit", headers=EN).text
    assert {"sign_in", "sign_in_failed", "verdict"} <= set(audit_rows(everything))
    assert 'id="nav-audit"' in everything
    only = sup.get("/audit", params={"action": "verdict"}, headers=EN).text
    assert set(audit_rows(only)) == {"verdict"} and f'<td class="subject">flags {city.flags["A1"]}</td>' in only
    assert "<dt>verdict</dt><dd>Dismiss</dd><dt>reason</dt><dd>Other</dd>" in only  # the detail, as words
    mine = sup.get("/audit", params={"actor": "sup"}).text
    assert set(audit_rows(mine)) == {"sign_in"}
    assert audit_rows(sup.get("/audit", params={"date_to": "2000-01-01"}).text) == []
    assert sup.get("/audit", params={"action": "<b>"}).status_code == 422


def test_a_bulk_verdict_is_one_audit_entry_marked_bulk(client_for, city):
    sup = client_for("sup")
    ids = [str(city.flags["B1"]), str(city.flags["X1"])]
    sup.post("/flags/bulk-verdict", data={"action": "confirm", "csrf": csrf_of(sup), "ids": ids, "confirmed": "true"})
    page = sup.get("/audit", params={"action": "verdict"}, headers=EN).text
    subject = f'<td class="subject">flags {city.flags["B1"]}, {city.flags["X1"]}</td>'
    assert audit_rows(page) == ["verdict"] and subject in page and "<dt>bulk</dt><dd>yes</dd>" in page


def test_a_burst_links_the_burst_flags_of_its_counter_nearby(client_for, city):
    """The burst rule stores no member list: the page finds the burst flags at the same counter
    within the burst window (A1 and A2 at PH1/C1, 25 s apart; U1 at C9 is another counter)."""
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        for sid in ("A1", "A2", "U1"):
            session.add(FlagRow(settlement_id=sid, kind="burst", score=0.8, evidence={"items": [
                {"t": "2026-11-20T02:00:45+00:00", "seen": {"distinct_cards": 6}}]},
                reason="6 distinct cards settled at counter PH1/C1 within 5 min (threshold 6)"))
        session.flush()
        ids = {f.settlement_id: f.id for f in session.scalars(select(FlagRow).where(FlagRow.kind == "burst"))}
    engine.dispose()
    page = client_for("insp_a").get(f"/flags/{ids['A1']}", headers=EN).text
    assert "Every settlement involved (2)" in page
    assert f'<a href="/flags/{ids["A2"]}">A2</a>' in page and f'<a href="/flags/{ids["U1"]}">U1</a>' not in page
    assert "6 different cards paid at this counter within 5 min" in page
