"""``POST /api/v1/settlements`` on SQLite and PostgreSQL: ingest keys only, district-scoped, gzip,
bounded, per-record errors, idempotent, stored (committed) before the 202."""

from __future__ import annotations

import gzip
import json
import logging
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from database.accounts import add_user, create_api_key, revoke_api_key
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import LiveSettlement, Pharmacy, SettlementConflictRow
from rxaudit.security import Role
from tests.api.conftest import PASSWORD, sign_in

CARD = "6222021234567890"
URL = "/api/v1/settlements"


def record(sid="S1", pharmacy="P1", **changes):
    return {"settlement_id": sid, "pharmacy_id": pharmacy, "counter_id": "C1",
            "settled_at": "2026-12-07T10:00:00+08:00", "card_id": CARD, "amount": "12.50",
            "items": [{"item_code": "I1", "item_name": "药", "quantity": 1, "unit_price": "12.50",
                       "trace_codes": ["8" * 20]}], **changes}


@pytest.fixture
def site(db_url, make_settings):
    settings = make_settings(db_url=db_url, ingest_max_bytes=64 * 1024, ingest_max_records=50)
    engine = make_engine(db_url)
    migrate(engine)
    keys = {}
    with transaction(session_factory(engine)) as session:
        session.add_all([Pharmacy(pharmacy_id="P1", name="East", district="A"),
                         Pharmacy(pharmacy_id="P2", name="West", district="B")])
        keys["ingest"] = create_api_key(session, name="platform", districts=[], scope="ingest")[1]
        keys["ingest_a"] = create_api_key(session, name="platform-a", districts=["A"], scope="ingest")[1]
        keys["read"] = create_api_key(session, name="wall", districts=[])[1]
        row, keys["revoked"] = create_api_key(session, name="old", districts=[], scope="ingest")
        session.flush()
        revoke_api_key(session, key_id=row.id)
        add_user(session, name="sup", role=Role.SUPERVISOR, password=PASSWORD, districts=[])
    app = create_app(settings)
    yield app, keys, session_factory(engine)
    app.state.engine.dispose()
    engine.dispose()


def post(site, who, body, headers=None):
    app, keys, _ = site
    client = TestClient(app)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(URL, content=content, headers={"Authorization": f"Bearer {keys[who]}",
                                                      "Content-Type": "application/json", **(headers or {})})


def inbox(site):
    with site[2]() as session:
        return {r.settlement_id: r for r in session.scalars(select(LiveSettlement))}


def test_stored_and_committed_before_202(site):
    response = post(site, "ingest", [record("S1"), record("S2", "P2")])
    assert response.status_code == 202
    assert response.json() == {"received": 2, "stored": 2, "duplicates": 0, "conflicts": [], "errors": []}
    stored = inbox(site)  # another connection: the rows are committed
    assert set(stored) == {"S1", "S2"} and stored["S1"].source == "api" and stored["S1"].state == "pending"
    assert CARD not in stored["S1"].card_hash and len(stored["S1"].card_hash) == 64


def test_a_bad_record_names_its_index_and_field_and_the_others_are_accepted(site):
    body = [record("S1"), record("S2", amount="12,5"), "not an object",
            record("S4", items=[{"item_code": "I1", "quantity": "x", "unit_price": 1}]), record("S5")]
    response = post(site, "ingest", body)
    assert response.status_code == 202
    answer = response.json()
    assert answer["stored"] == 2 and set(inbox(site)) == {"S1", "S5"}
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [(1, "amount"), (2, None), (3, "items[0].quantity")]
    assert CARD not in response.text


def test_nothing_usable_is_422_with_the_same_answer(site):
    response = post(site, "ingest", [record(amount="x")])
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "amount"
    assert inbox(site) == {}


def test_the_same_batch_again_changes_nothing_and_a_different_record_is_a_conflict(site):
    assert post(site, "ingest", [record("S1"), record("S2")]).status_code == 202
    before = {sid: (r.received_at, r.amount) for sid, r in inbox(site).items()}
    again = post(site, "ingest", [record("S1", amount=12.5), record("S2", amount="13.00"), record("S3")])
    assert again.status_code == 202
    assert again.json() == {"received": 3, "stored": 1, "duplicates": 1, "errors": [],
                            "conflicts": [{"index": 1, "settlement_id": "S2", "fields": ["amount"]}]}
    after = inbox(site)
    assert {sid: (r.received_at, r.amount) for sid, r in after.items() if sid != "S3"} == before
    assert after["S2"].amount == Decimal("12.50")
    with site[2]() as session:
        (conflict,) = session.scalars(select(SettlementConflictRow))
        assert (conflict.settlement_id, conflict.line, conflict.fields) == ("S2", 1, "amount")
        assert conflict.source == "POST /api/v1/settlements (key platform)"


def test_gzip_is_accepted(site):
    body = gzip.compress(json.dumps([record("S1"), record("S2")]).encode())
    response = post(site, "ingest", body, {"Content-Encoding": "gzip"})
    assert response.status_code == 202 and response.json()["stored"] == 2


REFUSED = {
    "body over ingest_max_bytes": (b"[" + b" " * (64 * 1024) + b"]", {}, 413),
    "gzip bomb": (gzip.compress(b"[" + b" " * (50 * 1024 * 1024) + b"]"), {"Content-Encoding": "gzip"}, 413),
    "more than ingest_max_records": (json.dumps([record(f"S{k}") for k in range(51)]).encode(), {}, 413),
    "not JSON": (b"settlement_id,amount\nS1,1\n", {}, 422),
    "an object, not an array": (json.dumps(record()).encode(), {}, 422),
    "broken gzip": (b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 422),
    "truncated gzip": (gzip.compress(json.dumps([record()]).encode())[:-10], {"Content-Encoding": "gzip"}, 422),
    "another encoding": (json.dumps([record()]).encode(), {"Content-Encoding": "br"}, 422),
}


@pytest.mark.parametrize("body, headers, status", REFUSED.values(), ids=REFUSED.keys())
def test_refused_bodies_store_nothing(site, body, headers, status):
    response = post(site, "ingest", body, headers)
    assert response.status_code == status, response.text
    assert inbox(site) == {}


SCOPE = {
    # key, pharmacy: stored?
    "district key, own district": ("ingest_a", "P1", True),
    "district key, other district": ("ingest_a", "P2", False),
    "district key, unknown pharmacy": ("ingest_a", "PX", False),
    "city key, any pharmacy": ("ingest", "P2", True),
    "city key, unknown pharmacy": ("ingest", "PX", True),
}


@pytest.mark.parametrize("who, pharmacy, stored", SCOPE.values(), ids=SCOPE.keys())
def test_a_key_with_districts_posts_only_its_districts_pharmacies(site, who, pharmacy, stored):
    response = post(site, who, [record("S1", "P1"), record("S9", pharmacy)])
    assert response.status_code == 202
    assert ("S9" in inbox(site)) is stored
    errors = response.json()["errors"]
    assert errors == ([] if stored else [{"index": 1, "field": "pharmacy_id",
                                          "reason": "pharmacy_id is not a pharmacy of this key's districts"}])


@pytest.mark.parametrize("who, status", [("read", 403), ("revoked", 401), ("nobody", 401), ("user", 403)])
def test_only_ingest_keys_may_post(site, who, status):
    app, keys, _ = site
    client = TestClient(app)
    headers = {}
    if who == "user":
        assert sign_in(client, "sup").status_code == 303
    elif who in keys:
        headers["Authorization"] = f"Bearer {keys[who]}"
    response = client.post(URL, json=[record()], headers=headers)
    assert response.status_code == status
    assert inbox(site) == {}


def test_card_ids_are_never_logged(site, caplog):
    caplog.set_level(logging.DEBUG)
    post(site, "ingest", [record("S1"), record("S2", amount="bad"), record("S1", amount="1")])
    assert CARD not in caplog.text and CARD[-8:] not in caplog.text


def test_a_streamed_body_without_length_is_bounded_too(site):
    app, keys, _ = site

    def chunks():
        for _ in range(100):
            yield b" " * 1024

    response = TestClient(app).post(URL, content=chunks(), headers={"Authorization": f"Bearer {keys['ingest']}"})
    assert response.status_code == 413 and inbox(site) == {}


def test_the_api_document_describes_the_body_and_the_key(site):
    app, keys, _ = site
    client = TestClient(app)  # an ingest key reads nothing, the document included: a read key reads it
    doc = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {keys['read']}"}).json()
    operation = doc["paths"][URL]["post"]
    assert operation["security"] == [{"apiKey": []}]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["type"] == "array" and "card_id" in schema["items"]["required"]
