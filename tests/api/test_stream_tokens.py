"""Stream tokens: short-lived, signed, scoped like their caller (districts, key or session), voided
with it, accepted by the live feed and the evidence files only."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.stream_tokens import MAX_TTL_S, BadToken, issue, verify
from database.accounts import close_session, revoke_api_key
from database.engine import make_engine, session_factory, transaction
from database.models import ApiKey, LoginSession
from rxaudit.security import Principal, digest
from tests.api.conftest import sign_in


def token_for(client: TestClient, **body) -> dict:
    response = client.post("/api/v1/stream-tokens", json=body or None)
    assert response.status_code == 201, response.text
    return response.json()


def csrf_of_session(city, client: TestClient) -> str:
    """The CSRF token the session's pages carry (read from the database, not scraped)."""
    engine = make_engine(city.settings.db_url)
    with session_factory(engine)() as session:
        csrf = session.get(LoginSession, digest(client.cookies.get("rxaudit_session"))).csrf_token
    engine.dispose()
    return csrf


def sse(client: TestClient, **params) -> str:
    return client.get("/api/v1/events", params={"after_id": 0, "max_s": 0.3, **params}).text


def test_a_key_gets_a_token_scoped_like_itself(client_for, city):
    body = token_for(client_for("key_a"))
    assert body["expires_in"] == MAX_TTL_S and body["districts"] == ["A"]
    assert body["expires_at"].endswith("+08:00")
    anonymous = TestClient(create_app(city.settings))
    text = sse(anonymous, token=body["token"])
    assert "event: flag" in text and '"settlement_id": "A1"' in text and '"B1"' not in text
    flag_a, flag_b = city.flags["A1"], city.flags["B1"]
    frame = anonymous.get(f"/flags/{flag_a}/keyframes/0.jpg", params={"token": body["token"]})
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
    assert anonymous.get(f"/flags/{flag_a}/clip.mp4", params={"token": body["token"]}).status_code == 200
    assert anonymous.get(f"/flags/{flag_b}/keyframes/0.jpg", params={"token": body["token"]}).status_code == 404
    city_wide = token_for(client_for("key_all"))
    assert city_wide["districts"] is None and '"B1"' in sse(anonymous, token=city_wide["token"])


def test_tokens_open_only_the_feed_and_evidence(client_for, city):
    tok = token_for(client_for("key_all"))["token"]
    anonymous = TestClient(create_app(city.settings))
    flag = city.flags["A1"]
    for url in ("/api/v1/flags", f"/api/v1/flags/{flag}", "/api/v1/stats"):
        assert anonymous.get(url, params={"token": tok}).status_code == 401, url
    for url in (f"/flags/{flag}/export.zip", "/export.zip", f"/flags/{flag}"):  # pages: to the sign-in form
        response = anonymous.get(url, params={"token": tok}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), url
    assert anonymous.post("/api/v1/stream-tokens", params={"token": tok}).status_code == 401  # no renewal
    assert anonymous.get("/api/v1/events", params={"max_s": 0.2}).status_code == 401


def test_a_session_needs_its_csrf_token(city):
    client = TestClient(create_app(city.settings))
    assert sign_in(client, "insp_b").status_code == 303
    assert client.post("/api/v1/stream-tokens").status_code == 403  # a cross-site form cannot
    assert client.post("/api/v1/stream-tokens", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    response = client.post("/api/v1/stream-tokens", headers={"X-CSRF-Token": csrf_of_session(city, client)})
    assert response.status_code == 201 and response.json()["districts"] == ["B"]
    anonymous = TestClient(create_app(city.settings))
    text = sse(anonymous, token=response.json()["token"])
    assert '"B1"' in text and '"A1"' not in text


@pytest.mark.parametrize("ttl", [0, 9, 301, 3600])
def test_lifetime_is_at_most_five_minutes(client_for, ttl):
    assert client_for("key_a").post("/api/v1/stream-tokens", json={"ttl_s": ttl}).status_code == 422


def test_expired_forged_and_mangled_tokens_are_refused(city, client_for):
    settings = city.settings
    who = Principal("apikey", 1, "wall-a", None, frozenset({"A"}))
    expired, _ = issue(settings, who, kind="apikey", ref="1", ttl_s=60, now=time.time() - 61)
    good, expires = issue(settings, who, kind="apikey", ref="1", ttl_s=60)
    assert verify(settings, good).districts == ("A",) and expires <= time.time() + 60
    other = settings.model_copy(update={"card_hash_key": type(settings.card_hash_key)("another-key-0123456789")})
    forged, _ = issue(other, Principal("apikey", 1, "x", None, None), kind="apikey", ref="1", ttl_s=60)
    body, _, sig = good.partition(".")
    widened = issue(settings, Principal("apikey", 1, "x", None, None), kind="apikey", ref="1", ttl_s=60)[0]
    spliced = widened.partition(".")[0] + "." + sig  # every district, with the narrow token's signature
    for bad in (expired, forged, spliced, body, good + "x", "a.b", ""):
        with pytest.raises(BadToken):
            verify(settings, bad)
    anonymous = TestClient(create_app(settings))
    for bad in (expired, forged, spliced, "a.b", "ü"):
        assert anonymous.get("/api/v1/events", params={"token": bad, "max_s": 0.2}).status_code in (401, 422)
        assert anonymous.get(f"/flags/{city.flags['A1']}/keyframes/0.jpg",
                             params={"token": bad}).status_code in (401, 422)
    assert anonymous.get("/api/v1/events", params={"token": "x" * 5000}).status_code == 422


def test_a_token_narrows_to_what_its_key_sees_now(city, client_for):
    """A token names its key; if the key's districts shrink, so does what the token opens."""
    tok = token_for(client_for("key_all"))["token"]
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        session.scalar(select(ApiKey).where(ApiKey.name == "wall-city")).districts = {"districts": ["B"]}
    engine.dispose()
    text = sse(TestClient(create_app(city.settings)), token=tok)
    assert '"B1"' in text and '"A1"' not in text


def _later(seconds: float, fn) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), fn()), daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("who", ["key", "session"])
def test_revoking_the_key_or_signing_out_ends_token_streams_and_voids_tokens(city, client_for, who):
    engine = make_engine(city.settings.db_url)
    if who == "key":
        tok = token_for(client_for("key_a"))["token"]

        def gone() -> None:
            with transaction(session_factory(engine)) as session:
                revoke_api_key(session, key_id=session.scalar(select(ApiKey.id).where(ApiKey.name == "wall-a")))
    else:
        client = TestClient(create_app(city.settings))
        assert sign_in(client, "insp_a").status_code == 303
        cookie = client.cookies.get("rxaudit_session")
        tok = client.post("/api/v1/stream-tokens",
                          headers={"X-CSRF-Token": csrf_of_session(city, client)}).json()["token"]

        def gone() -> None:
            with transaction(session_factory(engine)) as session:
                close_session(session, token=cookie)
    anonymous = TestClient(create_app(city.settings.model_copy(update={"sse_poll_s": 0.05})))
    thread = _later(0.5, gone)
    started = time.monotonic()
    text = anonymous.get("/api/v1/events", params={"token": tok, "max_s": 8}).text
    thread.join()
    engine.dispose()
    assert time.monotonic() - started < 5 and "event: end" in text
    assert anonymous.get("/api/v1/events", params={"token": tok, "max_s": 0.2}).status_code == 401
    assert anonymous.get(f"/flags/{city.flags['A1']}/keyframes/0.jpg", params={"token": tok}).status_code == 401
