from __future__ import annotations

import io
import json
import zipfile

import av
import pytest
from sqlalchemy import select

from database.engine import make_engine, session_factory, transaction
from database.models import FlagRow
from tests.api.conftest import csrf_of, sign_in


def test_health_is_the_only_open_data_route(client_for):
    client = client_for(None)
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/api/v1/flags").status_code == 401
    assert client.get("/api/v1/flags").headers["www-authenticate"] == "Bearer"


def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_it(client_for, app):
    from fastapi.testclient import TestClient
    client = TestClient(app)
    response = sign_in(client, "insp_a")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/flags").status_code == 200
    token = client.cookies.get("rxaudit_session")
    client.post("/logout", data={"csrf": csrf_of(client)})
    stale = TestClient(app, cookies={"rxaudit_session": token})
    assert stale.get("/flags", follow_redirects=False).status_code == 303


def test_expired_sessions_are_refused_and_cleared(app, city):
    from fastapi.testclient import TestClient
    from sqlalchemy import func, update

    from database.models import LoginSession, utcnow
    client = TestClient(app)
    sign_in(client, "insp_a")
    factory = session_factory(make_engine(city.settings.db_url))
    with transaction(factory) as session:
        session.execute(update(LoginSession).values(expires_at=utcnow()))
    assert client.get("/flags", follow_redirects=False).status_code == 303
    sign_in(TestClient(app), "insp_b")
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(LoginSession)) == 1


def test_wrong_password_then_rate_limit(app):
    from fastapi.testclient import TestClient
    client = TestClient(app)
    for _ in range(5):
        response = sign_in(client, "insp_a", "wrong password!")
        assert response.status_code == 303 and "error" in response.headers["location"]
    assert sign_in(client, "insp_a").status_code == 429  # even the right password, for a while


@pytest.mark.parametrize("csrf", ["", "forged"])
def test_forms_need_the_csrf_token(client_for, city, csrf):
    response = client_for("insp_a").post(f"/flags/{city.flags['A1']}/verdict",
                                         data={"action": "confirm", "csrf": csrf}, follow_redirects=False)
    assert response.status_code in (403, 422)


def test_verdict_is_recorded_in_history_and_status(client_for, city):
    client = client_for("insp_a")
    flag = city.flags["A1"]
    client.post(f"/flags/{flag}/verdict", data={"action": "escalate", "note": "looks staged", "csrf": csrf_of(client)})
    page = client.get(f"/flags/{flag}").text
    assert "looks staged" in page and "escalated" in page
    api = client_for("key_a").get(f"/api/v1/flags/{flag}").json()
    assert api["review_status"] == "escalated"


def test_verdict_with_corrected_boxes(client_for, city):
    client = client_for("insp_a")
    flag = city.flags["A1"]
    boxes = '[{"cls": "non_covered", "box": [10, 20, 60, 80]}, {"cls": "card", "box": [70, 20, 90, 40]}]'
    response = client.post(f"/flags/{flag}/verdict", follow_redirects=False,
                           data={"action": "confirm", "boxes": boxes, "csrf": csrf_of(client)})
    assert response.status_code == 303
    assert "2 corrected boxes" in client.get(f"/flags/{flag}").text
    bad = client.post(f"/flags/{flag}/verdict", follow_redirects=False,
                      data={"action": "confirm", "boxes": '[{"cls": "card", "box": [9, 9, 1, 1]}]',
                            "csrf": csrf_of(client)})
    assert bad.status_code == 422 and "x1 < x2" in bad.text


def test_only_supervisors_reopen(client_for, city):
    flag = city.flags["A1"]
    inspector = client_for("insp_a")
    token = csrf_of(inspector)
    inspector.post(f"/flags/{flag}/verdict", data={"action": "dismiss", "csrf": token})
    assert inspector.post(f"/flags/{flag}/verdict", data={"action": "reopen", "csrf": token},
                          follow_redirects=False).status_code == 403
    supervisor = client_for("sup")
    supervisor.post(f"/flags/{flag}/verdict", data={"action": "reopen", "note": "recheck", "csrf": csrf_of(supervisor)})
    assert client_for("key_a").get(f"/api/v1/flags/{flag}").json()["review_status"] == "open"


def test_bulk_verdict_applies_to_the_ticked_flags_once_confirmed(client_for, city):
    client = client_for("sup")
    before = client.get("/api/v1/flags", params={"page_size": 100}).json()["items"]
    form = {"action": "dismiss", "reason": "other", "note": "bulk", "query": "kind=unverifiable", "csrf": csrf_of(client),
            "ids": [str(f["id"]) for f in before if f["kind"] == "unverifiable"]}
    client.post("/flags/bulk-verdict", data=form)  # the confirmation page: nothing written yet
    assert {f["review_status"] for f in client.get("/api/v1/flags").json()["items"]} == {"open"}
    client.post("/flags/bulk-verdict", data={**form, "confirmed": "true"})
    flags = client.get("/api/v1/flags", params={"page_size": 100}).json()["items"]
    assert {f["review_status"] for f in flags if f["kind"] == "unverifiable"} == {"dismissed"}
    assert {f["review_status"] for f in flags if f["kind"] == "no_customer"} == {"open"}


def test_api_filters_are_typed(client_for):
    client = client_for("key_all")
    all_flags = client.get("/api/v1/flags").json()
    assert all_flags["total"] >= 4
    only = client.get("/api/v1/flags", params=[("kind", "no_customer"), ("kind", "burst")]).json()
    assert {f["kind"] for f in only["items"]} == {"no_customer"}
    assert client.get("/api/v1/flags", params={"kind": "no_such_kind"}).status_code == 422
    assert client.get("/api/v1/flags", params={"colour": "red"}).status_code == 422
    by_score = client.get("/api/v1/flags", params={"sort": "score"}).json()["items"]
    assert [f["score"] for f in by_score] == sorted((f["score"] for f in by_score), reverse=True)
    page2 = client.get("/api/v1/flags", params={"page_size": 2, "page": 2}).json()
    assert page2["page"] == 2 and len(page2["items"]) <= 2
    dated = client.get("/api/v1/flags", params={"date_from": "2026-11-21"}).json()
    assert dated["total"] == 0


def test_queue_page_filters_and_rejects_bad_input(client_for):
    client = client_for("sup")
    page = client.get("/flags", params={"kind": "no_customer", "min_score": "", "sort": "score"})
    assert page.status_code == 200 and "no_customer" in page.text
    assert client.get("/flags", params={"min_score": "high"}).status_code == 422


def test_flag_page_shows_record_video_keyframe_and_history(client_for, city):
    text = client_for("insp_a").get(f"/flags/{city.flags['A1']}").text
    for needle in ("A1", "No customer", "<video", "keyframes/0.jpg", "Verdicts", "CARD"[:0]):
        assert needle in text


def test_clip_is_h264_and_seekable(client_for, city):
    client = client_for("insp_a")
    url = f"/flags/{city.flags['A1']}/clip.mp4"
    full = client.get(url)
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    assert 9.0 <= float(full.headers["x-swipe-offset"]) <= 11.0
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and len(part.content) == 100
    assert part.headers["content-range"].startswith("bytes 100-199/")
    with av.open(io.BytesIO(full.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(stream)) >= 150  # ~20 s at 10 fps


def test_case_export_holds_records_keyframes_clip_and_history(client_for, city):
    client = client_for("insp_a")
    flag = city.flags["A1"]
    client.post(f"/flags/{flag}/verdict", data={"action": "confirm", "note": "for legal", "csrf": csrf_of(client)})
    with zipfile.ZipFile(io.BytesIO(client.get(f"/flags/{flag}/export.zip").content)) as zf:
        names = zf.namelist()
        folder = names[0].split("/")[0]
        case = json.loads(zf.read(f"{folder}/case.json"))
        assert {f"{folder}/keyframe-0.jpg", f"{folder}/clip.mp4", "index.json"} <= set(names)
    assert case["settlement"]["settlement_id"] == "A1"
    assert case["verdicts"][0]["note"] == "for legal" and case["verdicts"][0]["who"] == "insp_a"


def test_sse_pushes_new_flags(client_for, city):
    client = client_for("key_a")
    with transaction(session_factory(make_engine(city.settings.db_url))) as session:
        newest = max(session.scalars(select(FlagRow.id)))
    body = client.get("/api/v1/events", params={"after_id": 0, "max_s": 0.3}).text
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert {e["settlement_id"] for e in events} == {"A1", "U1"}  # district A only
    assert client.get("/api/v1/events", params={"after_id": newest, "max_s": 0.3}).text.count("event: flag") == 0


def test_stats_count_and_confirmed_rate(client_for, city):
    client = client_for("sup")
    token = csrf_of(client)
    client.post(f"/flags/{city.flags['A1']}/verdict", data={"action": "confirm", "csrf": token})
    client.post(f"/flags/{city.flags['B1']}/verdict", data={"action": "dismiss", "csrf": token})
    stats = client.get("/api/v1/stats").json()
    assert stats["by_district"]["A"] >= 1 and stats["by_kind"]["no_customer"] == 3
    assert stats["confirmed_rate"] == 0.5
    assert list(stats["by_day"]) == ["2026-11-20"]


def test_openapi_documents_the_wall_api_behind_auth(client_for):
    assert client_for(None).get("/api/v1/openapi.json").status_code == 401
    assert client_for(None).get("/openapi.json").status_code == 404
    assert client_for(None).get("/docs").status_code == 404
    spec = client_for("key_b").get("/api/v1/openapi.json").json()
    assert {"/api/v1/flags", "/api/v1/flags/{flag_id}", "/api/v1/settlements/{settlement_id}",
            "/api/v1/stats", "/api/v1/footfall", "/api/v1/events"} <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/api/v1/flags"]["get"]["parameters"]}
    assert {"kind", "status", "district", "date_from", "min_score", "sort", "page"} <= params


def test_wall_page_needs_a_user(client_for):
    assert client_for("sup").get("/wall").status_code == 200
    assert client_for(None).get("/wall", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("who, shown", [("sup", True), ("adm", True), ("insp_a", False)])
def test_the_queue_warns_of_flags_no_inspector_sees(client_for, who, shown):
    """PHX has no district in the city: its flags reach no inspector, and the queue of those who see
    every district says how many there are (an inspector cannot see them)."""
    client = client_for(who)
    page = client.get("/flags")
    without = client.get("/api/v1/stats").json()["by_district"].get("(none)", 0)
    assert ('id="without-district"' in page.text) is shown
    if shown:
        assert without > 0 and f"{without} flags are at pharmacies without a district" in page.text
