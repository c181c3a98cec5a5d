"""Faster and safer decisions (issue 26), server side: the queue opens on open flags; a verdict is
saved at once and leads to the next OPEN flag in the queue's order and filters, whose page carries an
undo notice bound to its author for ``verdict_undo_s``; the undo restores the status before exactly
and is recorded. One verdict for a cluster; a bulk dismissal needs a reason; a bulk verdict can be
undone by its author only. Looking at evidence is recorded in the audit log."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from database import repository
from database.engine import make_engine, session_factory, transaction
from database.models import AuditLogEntry, FlagRow, Verdict
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind
from tests.api.conftest import T0, csrf_of, sign_in
from tests.factories import settlement

ZH = {"Accept-Language": "zh-CN"}


def db(city):
    engine = make_engine(city.settings.db_url)
    return engine, session_factory(engine)


def verdict_rows(city) -> list[Verdict]:
    engine, factory = db(city)
    with transaction(factory) as session:
        rows = list(session.scalars(select(Verdict).order_by(Verdict.id)))
        session.expunge_all()
    engine.dispose()
    return rows


def status_of(city, flag_id: int) -> str:
    engine, factory = db(city)
    with factory() as session:
        value = session.get_one(FlagRow, flag_id).review_status
    engine.dispose()
    return value


def audit_entries(city, action: str) -> list[AuditLogEntry]:
    engine, factory = db(city)
    with transaction(factory) as session:
        rows = list(session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == action)
                                    .order_by(AuditLogEntry.id)))
        session.expunge_all()
    engine.dispose()
    return rows


def add_flags(city, specs: list[tuple[str, str, str, float, str, dict]], cards: dict[str, str] | None = None) -> dict[str, int]:
    """(settlement id, pharmacy, counter, seconds after T0, kind, seen) -> flag ids by settlement id;
    ``cards``: a settlement's card (else one of its own)."""
    engine, factory = db(city)
    with transaction(factory) as session:
        run = repository.start_run(session, settlements_file="x", videos="v")
        for n, (sid, pharmacy, counter, sec, kind, _) in enumerate(specs):
            s = settlement(100 + n, settlement_id=sid, pharmacy=pharmacy, counter=counter, at=T0, seconds=sec,
                           card=(cards or {}).get(sid, f"CARD-{sid}"))
            repository.save_result(session, run_id=run, result=CheckResult(
                s, CheckStatus.FLAGGED, (Flag(sid, FlagKind(kind), 0.7, "test"),), {}))
        session.flush()
        ids = {}
        for sid, _, _, _, kind, seen in specs:
            flag = session.scalars(select(FlagRow).where(FlagRow.settlement_id == sid, FlagRow.kind == kind)).one()
            if seen:
                flag.evidence = {"items": [{"seen": seen}]}
            ids[sid] = flag.id
    engine.dispose()
    return ids


def verdict(client, flag_id: int, action: str = "confirm", **extra):
    data = {"action": action, "csrf": csrf_of(client), **extra}
    return client.post(f"/flags/{flag_id}/verdict", data=data, follow_redirects=False)


# ---- the queue opens on 待审核 ------------------------------------------------------------------

def test_the_queue_opens_on_open_flags_and_every_status_stays_one_choice_away(client_for, city):
    client = client_for("insp_a")
    a1 = city.flags["A1"]
    verdict(client, a1)
    page = client.get("/flags", headers=ZH).text
    assert f'<tr data-href="/flags/{a1}"' not in page  # decided: not on the opening queue
    assert f'<tr data-href="/flags/{city.flags["X1"]}"' not in page and "<tr data-href=" in page
    assert re.search(r'<option value="open" selected>待审核</option>', page)
    every = client.get("/flags", params={"status": "all"}).text
    assert f'<tr data-href="/flags/{a1}?status=all"' in every
    confirmed = client.get("/flags", params={"status": "confirmed"}).text
    assert f'<tr data-href="/flags/{a1}?status=confirmed"' in confirmed
    assert 'href="/export.zip?status=open" id="export-selection"' in client.get("/flags").text


# ---- auto-advance: the next OPEN flag ---------------------------------------------------------

def test_auto_advance_goes_to_the_next_open_flag_never_a_decided_one(client_for, city):
    ids = add_flags(city, [("N1", "PH1", "C1", 40, "no_customer", {}), ("N2", "PH1", "C1", 35, "no_customer", {}),
                           ("N3", "PH1", "C1", 30, "no_customer", {})])
    inspector, supervisor = client_for("insp_a"), client_for("sup")
    a1 = city.flags["A1"]  # newest first: A1 (45 s), N1, N2, N3, U1 (20 s)
    verdict(supervisor, ids["N1"], "dismiss", reason="other")  # decided by someone else meanwhile
    response = verdict(inspector, a1, advance="true", query="kind=no_customer&page=2")
    assert response.status_code == 303
    assert response.headers["location"] == f"/flags/{ids['N2']}?kind=no_customer"
    assert status_of(city, a1) == "confirmed"
    # in the queue's filters: with kind=no_customer U1 (unverifiable) is never reached
    verdict(inspector, ids["N2"], advance="true", query="kind=no_customer")
    last = verdict(inspector, ids["N3"], advance="true", query="kind=no_customer")
    assert last.headers["location"] == "/flags?kind=no_customer"  # none open left: the queue
    # past the end it goes round to the first open one above, skipping what was just decided
    verdict(supervisor, ids["N2"], "reopen")
    again = verdict(inspector, ids["N3"], advance="true", query="kind=no_customer")
    assert again.headers["location"] == f"/flags/{ids['N2']}?kind=no_customer"


def test_auto_advance_stays_in_the_reviewers_districts(client_for, city):
    inspector = client_for("insp_b")  # B1 is district B's only flag; A1 and X1 are newer or as new
    response = verdict(inspector, city.flags["B1"], advance="true")
    assert response.headers["location"] == "/flags"


# ---- the undo notice travels to the next page --------------------------------------------------

def test_the_next_page_carries_the_undo_notice_and_undo_restores_the_status_before(client_for, city):
    inspector, supervisor = client_for("insp_a"), client_for("sup")
    a1 = city.flags["A1"]
    verdict(supervisor, a1, "escalate")
    target = verdict(inspector, a1, "confirm", note="n", advance="true").headers["location"]
    page = inspector.get(target, headers=ZH).text
    notice = re.search(r'<div class="notice undo-notice" id="undo-notice".*?</div>', page, re.S).group(0)
    assert "已标记为确认" in notice and "撤销" in notice
    batch = int(re.search(r'action="/verdicts/(\d+)/undo"', notice).group(1))
    # another reviewer cannot take it back, and is not offered it
    assert f'action="/verdicts/{batch}/undo"' not in supervisor.get(target).text
    other = supervisor.post(f"/verdicts/{batch}/undo", data={"csrf": csrf_of(supervisor)}, follow_redirects=False)
    assert other.status_code == 404 and status_of(city, a1) == "confirmed"
    back = inspector.post(f"/verdicts/{batch}/undo", data={"csrf": csrf_of(inspector)}, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"/flags/{a1}"
    assert status_of(city, a1) == "escalated"  # as it was, not merely open
    rows = verdict_rows(city)
    assert [(v.action, v.undoes) for v in rows] == [("escalate", None), ("confirm", None), ("escalate", rows[1].id)]
    assert "已撤销" in inspector.get(f"/flags/{a1}", headers=ZH).text
    [entry] = audit_entries(city, "verdict_undo")
    assert entry.actor_name == "insp_a" and entry.detail["restored"] == [a1]
    twice = inspector.post(f"/verdicts/{batch}/undo", data={"csrf": csrf_of(inspector)}, headers=ZH,
                           follow_redirects=False)
    assert twice.status_code == 422 and "已经撤销" in twice.text and len(verdict_rows(city)) == 3


def test_undo_keeps_a_newer_verdict_and_ends_after_its_window(client_for, city, make_settings):
    inspector, supervisor = client_for("insp_a"), client_for("sup")
    a1 = city.flags["A1"]
    verdict(inspector, a1, "confirm")
    batch = verdict_rows(city)[-1].batch_id
    verdict(supervisor, a1, "escalate")  # a newer verdict by someone else
    inspector.post(f"/verdicts/{batch}/undo", data={"csrf": csrf_of(inspector)})
    assert status_of(city, a1) == "escalated"
    [entry] = audit_entries(city, "verdict_undo")
    assert entry.detail["kept"] == [a1] and entry.detail["restored"] == []
    u1 = next(v["id"] for v in client_for("key_a").get("/api/v1/flags").json()["items"] if v["kind"] == "unverifiable")
    verdict(inspector, u1, "confirm")
    late = verdict_rows(city)[-1]
    engine, factory = db(city)
    with transaction(factory) as session:  # given three minutes ago: past verdict_undo_s (120 s)
        session.execute(update(Verdict).where(Verdict.id == late.id)
                        .values(created_at=late.created_at - timedelta(seconds=180)))
    engine.dispose()
    assert 'id="undo-notice"' not in inspector.get("/flags").text
    refused = inspector.post(f"/verdicts/{late.batch_id}/undo", data={"csrf": csrf_of(inspector)},
                             headers=ZH, follow_redirects=False)
    assert refused.status_code == 422 and "撤销时间已过" in refused.text and status_of(city, u1) == "confirmed"


def test_the_undo_window_comes_from_settings(city, make_settings):
    settings = make_settings(db_url=city.settings.db_url, evidence_dir=city.settings.evidence_dir,
                             verdict_undo_s=1.0)
    client = TestClient(create_app(settings))
    sign_in(client, "insp_a")
    verdict(client, city.flags["A1"])
    batch = verdict_rows(city)[-1].batch_id
    import time
    time.sleep(1.2)
    late = client.post(f"/verdicts/{batch}/undo", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert late.status_code == 422 and status_of(city, city.flags["A1"]) == "confirmed"


# ---- one verdict for a cluster -----------------------------------------------------------------

def test_one_verdict_covers_the_open_flags_of_its_cluster_in_the_reviewers_districts(client_for, city):
    visit = {"settlements": ["P1", "P2", "P3", "P4"], "distinct_cards": 4, "track_id": 3}
    ids = add_flags(city, [("P1", "PH1", "C1", 50, "card_pooling", visit), ("P2", "PH1", "C1", 52, "card_pooling", visit),
                           ("P3", "PH1", "C1", 54, "card_pooling", visit), ("P4", "PH2", "C1", 56, "card_pooling", visit)])
    inspector, supervisor = client_for("insp_a"), client_for("sup")
    verdict(supervisor, ids["P3"], "escalate")  # decided already: left as it is
    page = inspector.get(f"/flags/{ids['P1']}", headers=ZH).text
    assert "对本组 2 条一并裁定" in page  # P1 and P2: P3 decided, P4 in district B
    assert 'name="cluster"' in page
    response = verdict(inspector, ids["P1"], "dismiss", reason="wrong_detection", cluster="true", note="one visit")
    assert response.status_code == 303
    assert [status_of(city, ids[s]) for s in ("P1", "P2", "P3", "P4")] == ["dismissed", "dismissed", "escalated", "open"]
    given = [v for v in verdict_rows(city) if v.user_id != verdict_rows(city)[0].user_id]
    assert sorted(v.flag_id for v in given) == sorted([ids["P1"], ids["P2"]])
    assert {(v.reason, v.note, v.batch_id) for v in given} == {("wrong_detection", "one visit", given[0].id)}
    [entry] = [e for e in audit_entries(city, "verdict") if e.actor_name == "insp_a"]
    assert entry.detail["cluster"] is True and sorted(entry.detail["flag_ids"]) == sorted([ids["P1"], ids["P2"]])
    # one undo takes the whole cluster verdict back
    inspector.post(f"/verdicts/{given[0].id}/undo", data={"csrf": csrf_of(inspector)})
    assert [status_of(city, ids[s]) for s in ("P1", "P2")] == ["open", "open"]
    # without the box ticked only the flag itself is decided
    verdict(inspector, ids["P1"], "confirm")
    assert status_of(city, ids["P2"]) == "open"


def test_a_burst_and_a_duplicate_chain_are_clusters(client_for, city):
    ids = add_flags(city, [("R1", "PH1", "C1", 100, "burst", {}), ("R2", "PH1", "C1", 160, "burst", {}),
                           ("R3", "PH1", "C2", 170, "burst", {}), ("R4", "PH1", "C1", 900, "burst", {}),
                           ("D2", "PH1", "C1", 300, "duplicate_settlement", {"duplicate_of": "D1"}),
                           ("D3", "PH1", "C1", 330, "duplicate_settlement", {"duplicate_of": "D2"}),
                           ("D9", "PH1", "C1", 340, "duplicate_settlement", {"duplicate_of": "D8"})],
                    cards={"D2": "CARD-D", "D3": "CARD-D"})
    inspector = client_for("insp_a")
    assert "对本组 2 条一并裁定" in inspector.get(f"/flags/{ids['R1']}", headers=ZH).text  # R2; not R3, R4
    # a duplicate chain: one card, one pharmacy, linked by duplicate_of (D9's card differs)
    assert "对本组 2 条一并裁定" in inspector.get(f"/flags/{ids['D3']}", headers=ZH).text
    assert 'id="cluster-offer"' not in inspector.get(f"/flags/{ids['D9']}").text


# ---- bulk: a dismissal needs a reason; the author may undo it ----------------------------------

def test_a_bulk_dismissal_needs_a_reason(client_for, city):
    client = client_for("sup")
    form = {"action": "dismiss", "csrf": csrf_of(client), "ids": [str(city.flags["A1"]), str(city.flags["B1"])]}
    for confirmed in ("", "true"):
        page = client.post("/flags/bulk-verdict", data={**form, "confirmed": confirmed},
                           headers={**ZH, "Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 422 and "批量排除需要填写理由" in page.text
    api = client.post("/flags/bulk-verdict", data={**form, "confirmed": "true"}, headers=ZH)
    assert api.status_code == 422 and "批量排除需要填写理由" in api.json()["detail"]
    assert verdict_rows(city) == []
    ok = client.post("/flags/bulk-verdict", data={**form, "reason": "clock_offset", "confirmed": "true"},
                     follow_redirects=False)
    assert ok.status_code == 303 and status_of(city, city.flags["B1"]) == "dismissed"


def test_a_bulk_verdict_is_undone_by_its_author_only(client_for, city):
    author, other = client_for("sup"), client_for("insp_a")
    a1, b1 = city.flags["A1"], city.flags["B1"]
    verdict(author, b1, "escalate")
    form = {"action": "confirm", "csrf": csrf_of(author), "ids": [str(a1), str(b1)], "confirmed": "true",
            "include_decided": "true"}
    author.post("/flags/bulk-verdict", data=form)
    batch = [v for v in verdict_rows(city) if v.bulk][0].batch_id
    queue = author.get("/flags", params={"status": "all"}, headers=ZH).text
    assert 'id="bulk-undo"' in queue and f'action="/verdicts/{batch}/undo"' in queue
    assert 'id="bulk-undo"' not in other.get("/flags").text
    refused = other.post(f"/verdicts/{batch}/undo", data={"csrf": csrf_of(other)}, follow_redirects=False)
    assert refused.status_code == 404 and status_of(city, a1) == "confirmed"
    done = author.post(f"/verdicts/{batch}/undo", data={"csrf": csrf_of(author), "query": "status=all"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/flags?status=all"
    assert (status_of(city, a1), status_of(city, b1)) == ("open", "escalated")
    assert 'id="bulk-undo"' not in author.get("/flags").text


def test_a_bulk_verdict_can_be_undone_after_the_single_window_within_its_own(client_for, city):
    author = client_for("sup")
    author.post("/flags/bulk-verdict", data={"action": "confirm", "csrf": csrf_of(author), "confirmed": "true",
                                             "ids": [str(city.flags["A1"])]})
    row = verdict_rows(city)[-1]
    engine, factory = db(city)
    with transaction(factory) as session:  # 10 minutes ago: past verdict_undo_s, within bulk_undo_s
        session.execute(update(Verdict).where(Verdict.id == row.id).values(created_at=row.created_at - timedelta(minutes=10)))
    engine.dispose()
    author.post(f"/verdicts/{row.batch_id}/undo", data={"csrf": csrf_of(author)})
    assert status_of(city, city.flags["A1"]) == "open"


# ---- looking at evidence is recorded -------------------------------------------------------------

def test_viewing_evidence_and_exporting_are_in_the_audit_log(client_for, city):
    client = client_for("insp_a")
    a1 = city.flags["A1"]
    client.get(f"/flags/{a1}")
    client.get(f"/flags/{a1}")  # a reload within the window: one entry
    for _ in range(3):  # a player reads the clip in several range requests
        assert client.get(f"/flags/{a1}/clip.mp4", headers={"Range": "bytes=0-99"}).status_code == 206
    assert client.get(f"/flags/{a1}/keyframes/0.jpg").status_code == 200
    assert client.get(f"/flags/{city.flags['B1']}/clip.mp4").status_code == 404  # not seen, not recorded
    views = audit_entries(city, "view_evidence")
    assert sorted(e.subject for e in views) == sorted([f"flag:{a1}:page", f"flag:{a1}:clip", f"flag:{a1}:keyframe:0"])
    assert {e.actor_name for e in views} == {"insp_a"}
    key = client_for("key_a")
    key.get(f"/flags/{a1}/keyframes/0.jpg")
    assert [e.actor_kind for e in audit_entries(city, "view_evidence")][-1] == "apikey"
    assert client.get(f"/flags/{a1}/export.zip").status_code == 200
    [export] = audit_entries(city, "export")
    assert export.actor_name == "insp_a" and export.detail["flag_ids"] == [a1]
    supervisor = client_for("sup")
    page = supervisor.get("/audit", params={"action": "view_evidence"}, headers=ZH).text
    assert "查看证据" in page and page.count('data-action="view_evidence"') == 4


# ---- the district filter is a list ---------------------------------------------------------------

@pytest.mark.parametrize(("user", "choices"), [("sup", ["A", "B"]), ("insp_a", ["A"])])
def test_the_district_filter_lists_the_districts_the_reviewer_may_see(client_for, city, user, choices):
    page = client_for(user).get("/flags", params={"district": choices[-1]}, headers=ZH).text
    select_ = re.search(r'<select name="district" id="district-filter">(.*?)</select>', page, re.S)
    assert select_, "the district filter is a list, not free text"
    options = re.findall(r'<option value="([^"]*)"', select_.group(1))
    assert options == ["", *choices]
    assert f'<option value="{choices[-1]}" selected>' in select_.group(1)
