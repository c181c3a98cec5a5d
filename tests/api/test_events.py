"""The live feed ``/api/v1/events``: every flag exactly once in id order, district-scoped, ended
when its credential goes, and many open streams hold no database connection or thread."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import anyio
import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from database.accounts import close_session, revoke_api_key
from database.engine import make_engine, session_factory, transaction
from database.models import ApiKey, FlagRow, SettlementRow
from tests.api.conftest import T0, sign_in


def fast_app(city, poll_s: float = 0.05):
    return create_app(city.settings.model_copy(update={"sse_poll_s": poll_s}))


def newest_id(city) -> int:
    engine = make_engine(city.settings.db_url)
    with session_factory(engine)() as session:
        newest = session.scalar(select(func.max(FlagRow.id))) or 0
    engine.dispose()
    return newest


def add_flags(city, n: int, *, pharmacy: str = "PH1", prefix: str = "N") -> list[int]:
    """``n`` flags whose settlements are *later* the higher their id (the old feed, ordered by
    settlement time, jumped its cursor past all but the newest 200)."""
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        session.add_all(SettlementRow(settlement_id=f"{prefix}{i}", pharmacy_id=pharmacy, counter_id="C1",
                                      settled_at=T0 + timedelta(minutes=i), card_hash="0" * 64,
                                      amount=Decimal("1.00"), items={}, extra={}) for i in range(n))
        session.flush()
        rows = [FlagRow(settlement_id=f"{prefix}{i}", kind="burst", score=0.5, reason="test", evidence={})
                for i in range(n)]
        session.add_all(rows)
        session.flush()
        ids = [r.id for r in rows]
    engine.dispose()
    return ids


def flag_ids(body: str) -> list[int]:
    return [json.loads(line[6:])["id"] for line in body.splitlines() if line.startswith("data: {\"id\"")]


def test_a_backlog_is_replayed_whole_in_id_order(client_for, city):
    start = newest_id(city)
    ids = add_flags(city, 450)
    body = client_for("key_all").get("/api/v1/events", params={"after_id": start, "max_s": 0.5}).text
    assert flag_ids(body) == ids


@contextmanager
def serve(app):
    """The app on a real uvicorn, on a free loopback port, in a thread of this process."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def live(app, key: str | None, write, until, *, max_s: float = 6.0, cookies=None) -> list[dict]:
    """Open a stream on a real server; once it is subscribed, run ``write()`` (in a thread), then
    collect events (flags, and ``{"end": reason}``) until ``until(events)`` or the stream ends."""
    async def run(base: str) -> list[dict]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx.AsyncClient(base_url=base, headers=headers, cookies=cookies, timeout=30) as client:
            async with client.stream("GET", "/api/v1/events", params={"max_s": max_s}) as response:
                lines = response.aiter_lines()
                async for line in lines:
                    if line.startswith("retry:"):  # sent once the stream is subscribed
                        break
                await asyncio.to_thread(write)
                events: list[dict] = []
                kind = None
                async for line in lines:
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                        events.append({"end": data["reason"]} if kind == "end" else data)
                        if until(events):
                            break
                return events

    with serve(app) as base:
        return asyncio.run(run(base))


def test_flags_arriving_between_polls_are_all_delivered_once_in_order(city):
    batches: list[list[int]] = []

    def write():
        batches.append(add_flags(city, 450, prefix="LA"))  # district A
        add_flags(city, 30, pharmacy="PH2", prefix="LB")  # district B: not for this key
        batches.append(add_flags(city, 250, prefix="LC"))

    events = live(fast_app(city, poll_s=0.3), city.keys["key_a"], write,
                  lambda ev: ev[-1]["id"] >= batches[-1][-1])
    assert [e["id"] for e in events] == batches[0] + batches[1]


def _flag_with_id(city, flag_id: int, settlement_id: str) -> None:
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        session.add(SettlementRow(settlement_id=settlement_id, pharmacy_id="PH1", counter_id="C1",
                                  settled_at=T0, card_hash="0" * 64, amount=Decimal("1.00"), items={}, extra={}))
        session.flush()
        session.add(FlagRow(id=flag_id, settlement_id=settlement_id, kind="burst", score=0.5, reason="t",
                            evidence={}))
    engine.dispose()


def test_a_flag_committed_after_a_higher_id_is_not_skipped(city):
    """Two writers: the one holding the lower id commits last (PostgreSQL hands ids out at insert)."""
    n = newest_id(city)

    def write():
        _flag_with_id(city, n + 2, "LATE2")
        time.sleep(0.5)  # a few polls see the gap
        _flag_with_id(city, n + 1, "LATE1")

    events = live(fast_app(city), city.keys["key_all"], write, lambda ev: len(ev) == 2, max_s=3)
    assert [e["id"] for e in events] == [n + 1, n + 2]


def test_a_gap_that_never_fills_holds_the_feed_only_a_while(city, monkeypatch):
    monkeypatch.setattr("api.events.GAP_GRACE_S", 0.4)  # a rolled-back id
    n = newest_id(city)
    events = live(fast_app(city), city.keys["key_all"], lambda: _flag_with_id(city, n + 2, "AFTERGAP"),
                  lambda ev: len(ev) == 1, max_s=3)
    assert [e["id"] for e in events] == [n + 2]


def test_district_scoping_holds_for_live_events(city):
    def write():
        add_flags(city, 5, prefix="DA")
        add_flags(city, 3, pharmacy="PH2", prefix="DB")

    events = live(fast_app(city), city.keys["key_b"], write, lambda ev: len(ev) == 3)
    assert [e["settlement_id"] for e in events] == ["DB0", "DB1", "DB2"]


def test_last_event_id_resumes_where_the_stream_left_off(client_for, city):
    start = newest_id(city)
    ids = add_flags(city, 10)
    client = client_for("key_all")
    body = client.get("/api/v1/events", params={"after_id": 0, "max_s": 0.3},
                      headers={"Last-Event-ID": str(ids[3])}).text
    assert flag_ids(body) == ids[4:]
    assert flag_ids(client.get("/api/v1/events", params={"after_id": start, "max_s": 0.3}).text) == ids


@pytest.mark.parametrize("value", ["-1", "9223372036854775808", "abc"])
def test_bad_cursors_are_422(client_for, value):
    assert client_for("key_all").get("/api/v1/events", params={"after_id": value}).status_code == 422


def _revoke_key(city) -> None:
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.name == "wall-a"))
        revoke_api_key(session, key_id=key_id)
    engine.dispose()


def _sign_out(city, token: str) -> None:
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        close_session(session, token=token)
    engine.dispose()


@pytest.mark.parametrize("who", ["key", "session"])
def test_an_open_stream_ends_when_its_credential_goes(city, who):
    app = fast_app(city)
    client = TestClient(app)
    if who == "key":
        key, cookies, gone = city.keys["key_a"], None, lambda: _revoke_key(city)
        client.headers["Authorization"] = f"Bearer {key}"
    else:
        assert sign_in(client, "insp_a").status_code == 303
        token = client.cookies.get("rxaudit_session")
        key, cookies, gone = None, {"rxaudit_session": token}, lambda: _sign_out(city, token)
    started = time.monotonic()
    events = live(app, key, gone, lambda ev: False, max_s=8, cookies=cookies)
    assert time.monotonic() - started < 6
    assert events == [{"end": "credential revoked or signed out"}]
    assert client.get("/api/v1/events", params={"max_s": 0.2}).status_code == 401


def test_many_open_streams_hold_no_connection_or_thread_and_the_api_stays_fast(city):
    app = fast_app(city, poll_s=0.2)

    @app.get("/test/threads-in-use")
    async def threads_in_use() -> int:  # worker threads borrowed right now (sync routes, polls)
        return int(anyio.to_thread.current_default_thread_limiter().borrowed_tokens)

    n = 50
    headers = {"Authorization": f"Bearer {city.keys['key_all']}"}

    async def scenario(base: str) -> tuple[list[list[int]], list[float], int, list[int], list[int]]:
        received: list[list[int]] = [[] for _ in range(n)]
        opened = asyncio.Event()
        open_count = 0

        async def listen(client: httpx.AsyncClient, k: int) -> None:
            nonlocal open_count
            async with client.stream("GET", "/api/v1/events", params={"max_s": 60}) as response:
                assert response.status_code == 200
                open_count += 1
                if open_count == n:
                    opened.set()
                async for line in response.aiter_lines():
                    if line.startswith("data: {\"id\""):
                        received[k].append(json.loads(line[6:])["id"])
                        if len(received[k]) == 3:
                            return

        limits = httpx.Limits(max_connections=n + 10)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
            streams = [asyncio.create_task(listen(client, k)) for k in range(n)]
            await asyncio.wait_for(opened.wait(), 20)
            await asyncio.sleep(0.3)
            checked_out = app.state.engine.pool.checkedout()
            threads = [(await client.get("/test/threads-in-use")).json() for _ in range(5)]
            latencies = []
            for _ in range(10):
                t = time.perf_counter()
                assert (await client.get("/api/v1/stats")).status_code == 200
                latencies.append(time.perf_counter() - t)
            ids = await asyncio.to_thread(add_flags, city, 3)
            await asyncio.wait_for(asyncio.gather(*streams), 30)
        return received, latencies, checked_out, threads, ids

    with serve(app) as base:
        received, latencies, checked_out, threads, ids = asyncio.run(scenario(base))
    assert all(r == ids for r in received)  # every stream, every new flag, once
    assert checked_out <= 1  # at most the poller's, during a poll
    assert max(threads) <= 1  # no thread per stream (at most the poller's)
    assert max(latencies) < 2.0, latencies


def test_a_subscriber_that_does_not_read_is_ended_not_buffered_forever():
    from api.events import Credential, Ended, FlagEvent, Subscriber
    from rxaudit.security import Principal

    async def scenario():
        sub = Subscriber(Principal("apikey", 1, "k", None, frozenset({"A"})), Credential("apikey", "1"),
                         start=10, live_from=10, max_queue=2)
        for i, district in ((9, "A"), (11, "B"), (12, "A"), (13, "A"), (14, "A")):
            sub.offer(FlagEvent(i, district, "{}"))
        return [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]

    items = asyncio.run(scenario())
    assert [i.id for i in items[:2]] == [12, 13]  # not 9 (replayed), not 11 (district B)
    assert items[2:] == [Ended("too far behind; reconnect to catch up")]
