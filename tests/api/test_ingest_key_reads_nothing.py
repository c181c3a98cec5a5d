"""An ingest key reads nothing: every read route (pages, the API, the event stream, evidence, stream
tokens) refuses it, and the table below must name every GET route the app has, so a new read route
cannot slip past this test."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from database.accounts import create_api_key
from database.engine import make_engine, session_factory, transaction

OPEN = {"/health", "/login", "/", "/lang/{code}"}  # open without credentials (or a redirect to sign in)
READ_ROUTES = {  # every other GET route, with a real district-A object where it takes one
    "/api/v1/openapi.json": "/api/v1/openapi.json",
    "/api/v1/flags": "/api/v1/flags",
    "/api/v1/flags/{flag_id}": "/api/v1/flags/{flag}",
    "/api/v1/settlements/{settlement_id}": "/api/v1/settlements/A1",
    "/api/v1/stats": "/api/v1/stats",
    "/api/v1/footfall": "/api/v1/footfall",
    "/api/v1/pharmacies": "/api/v1/pharmacies",
    "/api/v1/cameras": "/api/v1/cameras",
    "/api/v1/cameras/{pharmacy_id}/{counter_id}/snapshot.jpg": "/api/v1/cameras/PH1/C1/snapshot.jpg",
    "/api/v1/events": "/api/v1/events?after_id=0&max_s=0.5",
    "/api/v1/live/status": "/api/v1/live/status",
    "/api/v1/live/pharmacies/{pharmacy_id}": "/api/v1/live/pharmacies/PH1",
    "/flags/{flag_id}/keyframes/{index}.jpg": "/flags/{flag}/keyframes/0.jpg",
    "/flags/{flag_id}/crops/{index}.jpg": "/flags/{flag}/crops/0.jpg",
    "/flags/{flag_id}/tamper/{span}/{label}.jpg": "/flags/{flag}/tamper/0/start.jpg",
    "/flags/{flag_id}/clip.mp4": "/flags/{flag}/clip.mp4",
    "/flags/{flag_id}/export.zip": "/flags/{flag}/export.zip",
    "/export.zip": "/export.zip",
    "/flags": "/flags",
    "/flags/{flag_id}": "/flags/{flag}",
    "/wall": "/wall",
    "/audit": "/audit",
    "/audit/conflicts": "/audit/conflicts",
    "/cameras": "/cameras",
    "/live/{pharmacy_id}": "/live/PH1",
}


def routes(app):
    """Every APIRoute of the app, through included routers."""
    def walk(entries):
        for entry in entries:
            if isinstance(entry, APIRoute):
                yield entry
            elif hasattr(entry, "original_router"):
                yield from walk(entry.original_router.routes)
    return list(walk(app.routes))


@pytest.fixture
def ingest_key(city):
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        key = create_api_key(session, name="platform", districts=[], scope="ingest")[1]
    engine.dispose()
    return key


def test_the_table_names_every_read_route(app):
    gets = {r.path for r in routes(app) if "GET" in r.methods}
    assert gets - OPEN <= set(READ_ROUTES), f"GET routes missing from READ_ROUTES: {gets - OPEN - set(READ_ROUTES)}"


@pytest.mark.parametrize("route", sorted(READ_ROUTES))
def test_every_read_route_refuses_an_ingest_key(app, city, ingest_key, route):
    if route not in {r.path for r in routes(app)}:
        pytest.skip(f"{route} is not a route of this app (yet)")
    client = TestClient(app)
    url = READ_ROUTES[route].format(flag=city.flags["A1"])
    response = client.get(url, headers={"Authorization": f"Bearer {ingest_key}"}, follow_redirects=False)
    assert response.status_code == 403, response.text[:200]
    assert "A1" not in response.text and "East" not in response.text


WRITE_ROUTES = [("POST", "/api/v1/stream-tokens", {"json": {}}),
                ("POST", "/flags/{flag}/verdict", {"data": {"action": "confirm", "csrf": "x"}}),
                ("POST", "/flags/bulk-verdict", {"data": {"action": "confirm", "ids": "1", "csrf": "x"}})]


@pytest.mark.parametrize("method, route, body", WRITE_ROUTES, ids=[r for _, r, _ in WRITE_ROUTES])
def test_nor_may_it_mint_stream_tokens_or_give_verdicts(app, city, ingest_key, method, route, body):
    client = TestClient(app)
    response = client.request(method, route.format(flag=city.flags["A1"]), **body,
                              headers={"Authorization": f"Bearer {ingest_key}"}, follow_redirects=False)
    assert response.status_code == 403


def test_a_read_key_still_reads(client_for, city):
    assert client_for("key_all").get("/api/v1/flags").status_code == 200
