"""The wall API for browsers: evidence as URLs (never storage paths) that the caller's credentials
fetch, local times, ``updated_since``, ``event: verdict``, declared security schemes, and CORS only
for allowlisted origins."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from database.engine import make_engine, session_factory, transaction
from database.models import FlagRow
from rxaudit.security import VerdictAction
from tests.api.test_case_file import judge

PAGE = "http://127.0.0.1:8765"


def flag_json(client_for, who: str, flag: int) -> dict:
    response = client_for(who).get(f"/api/v1/flags/{flag}")
    assert response.status_code == 200
    return response.json()


def test_flags_carry_evidence_urls_not_storage_paths(client_for, city):
    flag = flag_json(client_for, "key_a", city.flags["A1"])
    assert flag["keyframe_urls"] == [f"/flags/{flag['id']}/keyframes/0.jpg"]
    assert flag["clip_url"] == f"/flags/{flag['id']}/clip.mp4"
    assert all("keyframe" not in item and "clip" not in item for item in flag["evidence"])
    text = json.dumps(client_for("key_all").get("/api/v1/flags", params={"page_size": 500}).json())
    assert ".mp4#t=" not in text and "evidence/" not in text and '"keyframes/' not in text
    unverifiable = client_for("key_a").get("/api/v1/flags", params={"kind": "unverifiable"}).json()["items"]
    assert unverifiable and all(f["clip_url"] is None for f in unverifiable)  # no footage: no dead link


def test_times_are_local_iso_8601_with_offset(client_for, city):
    flag = flag_json(client_for, "key_a", city.flags["A1"])
    assert flag["settled_at"] == "2026-11-20T10:00:45+08:00"
    assert flag["created_at"].endswith("+08:00") and flag["updated_at"].endswith("+08:00")
    settlement = client_for("key_a").get("/api/v1/settlements/A1").json()
    assert settlement["settled_at"] == "2026-11-20T10:00:45+08:00"


@pytest.mark.parametrize("who", ["key_a", "insp_a", "sup", "key_all"])
def test_evidence_urls_open_with_the_callers_credentials(client_for, city, who):
    client = client_for(who)
    flag = client.get(f"/api/v1/flags/{city.flags['A1']}").json()
    frame = client.get(flag["keyframe_urls"][0])
    assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"
    clip = client.get(flag["clip_url"], headers={"Range": "bytes=0-99"})
    assert clip.status_code == 206 and len(clip.content) == 100


@pytest.mark.parametrize("who", ["key_b", "insp_b"])
def test_evidence_urls_do_not_open_for_others(client_for, city, who):
    flag = flag_json(client_for, "key_a", city.flags["A1"])
    client = client_for(who)
    assert client.get(flag["keyframe_urls"][0]).status_code == 404
    assert client.get(flag["clip_url"]).status_code == 404
    anonymous = client_for(None)
    assert anonymous.get(flag["keyframe_urls"][0], follow_redirects=False).status_code == 303


def test_updated_since(client_for, city):
    client = client_for("key_all")
    everything = client.get("/api/v1/flags", params={"page_size": 500}).json()
    newest = max(datetime.fromisoformat(f["updated_at"]) for f in everything["items"])
    since = (newest + timedelta(seconds=1)).isoformat()
    assert client.get("/api/v1/flags", params={"updated_since": since}).json()["total"] == 0
    time.sleep(1.1)
    judge(city, "insp_a", city.flags["A1"], "seen")
    changed = client.get("/api/v1/flags", params={"updated_since": since}).json()
    assert [f["id"] for f in changed["items"]] == [city.flags["A1"]] and changed["total"] == 1
    assert changed["items"][0]["review_status"] == "confirmed"
    assert client.get("/api/v1/flags", params={"updated_since": "2000-01-01T00:00:00+08:00"}
                      ).json()["total"] == everything["total"]
    assert client_for("key_b").get("/api/v1/flags", params={"updated_since": since}).json()["total"] == 0


@pytest.mark.parametrize("value", ["2026-11-20T10:00:00", "yesterday", "0001-01-01T00:00:00+00:00",
                                   "9999-12-31T00:00:00+00:00"])
def test_updated_since_needs_a_plausible_aware_time(client_for, value):
    assert client_for("key_a").get("/api/v1/flags", params={"updated_since": value}).status_code == 422


def _events(body: str) -> list[tuple[str, dict]]:
    out, kind = [], None
    for line in body.splitlines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            out.append((kind, json.loads(line[6:])))
    return out


@pytest.mark.parametrize("who, sees", [("key_a", True), ("key_b", False)])
def test_the_stream_sends_verdicts(city, who, sees):
    app = create_app(city.settings.model_copy(update={"sse_poll_s": 0.05}))
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {city.keys[who]}"
    flag = city.flags["A1"]
    thread = threading.Thread(target=lambda: (time.sleep(0.6), judge(city, "insp_a", flag, "",
                                                                      VerdictAction.DISMISS)))
    thread.start()
    body = client.get("/api/v1/events", params={"max_s": 2.0}).text
    thread.join()
    verdicts = [data for kind, data in _events(body) if kind == "verdict"]
    if sees:
        assert len(verdicts) == 1
        assert verdicts[0]["flag_id"] == flag and verdicts[0]["review_status"] == "dismissed"
        assert verdicts[0]["action"] == "dismiss" and verdicts[0]["at"].endswith("+08:00")
    else:
        assert verdicts == []


def test_openapi_declares_its_security_schemes(client_for):
    doc = client_for("key_a").get("/api/v1/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["apiKey"] == {"type": "http", "scheme": "bearer",
                                 "description": schemes["apiKey"]["description"]}
    assert schemes["session"]["in"] == "cookie" and schemes["session"]["name"] == "rxaudit_session"
    assert schemes["streamToken"]["in"] == "query"
    assert doc["security"] == [{"apiKey": []}, {"session": []}]
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert {"streamToken": []} in doc["paths"]["/api/v1/events"]["get"]["security"]
    assert {"streamToken": []} in doc["paths"]["/flags/{flag_id}/clip.mp4"]["get"]["security"]
    assert "security" not in doc["paths"]["/api/v1/flags"]["get"]  # the global one: key or session
    params = {p["name"] for p in doc["paths"]["/api/v1/flags"]["get"]["parameters"]}
    assert "updated_since" in params
    assert "/api/v1/stream-tokens" in doc["paths"]


def _preflight(client: TestClient, origin: str, path: str = "/api/v1/flags"):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                         "Access-Control-Request-Headers": "authorization"})


def test_cors_is_off_by_default(city):
    client = TestClient(create_app(city.settings))
    assert "access-control-allow-origin" not in _preflight(client, PAGE).headers
    assert "access-control-allow-origin" not in client.get("/health", headers={"Origin": PAGE}).headers


def test_cors_preflight_only_for_allowlisted_origins(city):
    client = TestClient(create_app(city.settings.model_copy(update={"cors_origins": [PAGE]})))
    ok = _preflight(client, PAGE)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == PAGE
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in ok.headers  # no cookies cross-origin
    for other in ("http://127.0.0.1:8766", "https://127.0.0.1:8765", "http://evil.example", "null"):
        refused = _preflight(client, other)
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    token_preflight = _preflight(client, PAGE, "/api/v1/stream-tokens")
    assert token_preflight.headers["access-control-allow-origin"] == PAGE
    simple = client.get("/health", headers={"Origin": PAGE})
    assert simple.headers["access-control-allow-origin"] == PAGE
    assert "access-control-allow-origin" not in client.get("/health", headers={"Origin": "http://x.example"}).headers


@pytest.mark.parametrize("bad", [["*"], ["http://a.example/"], ["http://a.example/path"], ["ftp://a.example"]])
def test_cors_origins_must_be_origins(bad, make_settings):
    from rxaudit.errors import ConfigError

    with pytest.raises(ConfigError, match="cors_origins"):
        make_settings(cors_origins=bad)


def test_times_inside_stored_evidence_are_local_too(client_for, city):
    flag = city.flags["A1"]
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:  # as a log with UTC times would store them
        row = session.get(FlagRow, flag)
        item = dict(row.evidence["items"][0], t="2026-11-20T02:00:45+00:00")
        item["seen"] = {**item["seen"], "camera_time": "2026-11-20T02:00:45.250000+00:00", "note": "10:00"}
        row.evidence = {"items": [item]}
    engine.dispose()
    got = flag_json(client_for, "key_a", flag)["evidence"][0]
    assert got["t"] == "2026-11-20T10:00:45+08:00" and got["seen"]["camera_time"] == "2026-11-20T10:00:45+08:00"
    assert got["seen"]["note"] == "10:00"
    with zipfile.ZipFile(io.BytesIO(client_for("key_a").get(f"/flags/{flag}/export.zip").content)) as zf:
        case = json.loads(zf.read(f"flag-{flag}-no_customer/case.json"))
    assert case["flag"]["evidence"][0]["t"] == "2026-11-20 10:00:45+08:00"
    assert case["flag"]["evidence"][0]["seen"]["camera_time"] == "2026-11-20 10:00:45+08:00"
