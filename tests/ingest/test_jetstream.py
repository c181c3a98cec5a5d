"""The JetStream pull consumer against the real NATS server at 127.0.0.1:4222 (a stream of its own per
test, deleted after), storing into SQLite and PostgreSQL: acknowledged only after the commit, a
consumer gone before its ack gets the message again and stores it once, a failed store is retried,
a closed connection is made again, malformed messages are terminated with their reason logged."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select

from cli.pull import inbox_store
from database.engine import make_engine, migrate, session_factory
from database.models import LiveSettlement
from ingest.fields import IngestOptions
from ingest.jetstream import Consumer, PullOptions
from tests.conftest import TEST_KEY

NATS = os.environ.get("RXAUDIT_TEST_NATS_URL", "nats://127.0.0.1:4222")
CARD = "6222021234567890"


def nats_up() -> bool:
    host, port = NATS.removeprefix("nats://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def stream():
    if not nats_up():
        if os.environ.get("CI"):
            pytest.fail(f"NATS is not reachable at {NATS} in CI")
        pytest.skip("NATS not reachable")
    import nats
    from nats.js.api import StorageType

    name = f"RXTEST_{uuid.uuid4().hex[:10]}"
    subject = f"rxaudit.test.{name}.settlements"

    async def setup() -> None:
        nc = await nats.connect(NATS)
        await nc.jetstream().add_stream(name=name, subjects=[subject], storage=StorageType.MEMORY)
        await nc.close()

    async def teardown() -> None:
        nc = await nats.connect(NATS)
        await nc.jetstream().delete_stream(name)
        await nc.close()

    asyncio.run(setup())
    yield name, subject
    asyncio.run(teardown())


@pytest.fixture
def inbox(db_url, make_settings):
    engine = make_engine(db_url)
    migrate(engine)
    settings = make_settings(db_url=db_url)
    yield settings, session_factory(engine)
    engine.dispose()


def record(sid, **changes):
    return {"settlement_id": sid, "pharmacy_id": "P1", "counter_id": "C1", "settled_at": "2026-12-07T10:00:00+08:00",
            "card_id": CARD, "amount": "9.50", **changes}


def stored(inbox) -> dict[str, LiveSettlement]:
    with inbox[1]() as session:
        return {r.settlement_id: r for r in session.scalars(select(LiveSettlement))}


def consumer(stream, inbox, store: Callable | None = None, **options) -> Consumer:
    name, subject = stream
    settings, sessions = inbox
    pull = PullOptions(servers=NATS, stream=name, subject=subject, durable="rxaudit", fetch_timeout_s=0.3,
                       reconnect_min_s=0.1, **options)
    return Consumer(pull, store=store or inbox_store(settings, sessions), card_key=TEST_KEY.encode(),
                    ingest=IngestOptions())


async def publish(subject: str, *payloads: bytes) -> None:
    import nats

    nc = await nats.connect(NATS)
    js = nc.jetstream()
    for payload in payloads:
        await js.publish(subject, payload)
    await nc.close()


async def pending(stream, durable: str = "rxaudit", url: str = NATS) -> tuple[int, int]:
    """(messages not yet delivered, delivered but not acknowledged) of the durable consumer."""
    import nats

    nc = await nats.connect(url)
    info = await nc.jetstream().consumer_info(stream[0], durable)
    await nc.close()
    return info.num_pending, info.num_ack_pending


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_stored_then_acknowledged_malformed_terminated(stream, inbox, caplog):
    caplog.set_level(logging.INFO, logger="rxaudit.pull")
    messages = [json.dumps(record("N1")).encode(),  # one object
                json.dumps([record("N2"), record("N3", amount="bad"), record("N4")]).encode(),  # a bad one among good
                b"not json at all",
                json.dumps({"a": [1]}).encode(),  # an object with no usable record
                json.dumps("S1").encode(),
                json.dumps([record("N1")]).encode()]  # the same again: nothing changes

    async def scenario() -> Consumer:
        pull = consumer(stream, inbox)
        task = asyncio.create_task(pull.run())
        await publish(stream[1], *messages)
        await until(lambda: pull.counts["messages"] == len(messages))
        await until(lambda: pull.counts["acked"] + pull.counts["terminated"] == len(messages))
        pull.stop()
        await task
        assert await pending(stream) == (0, 0)
        return pull

    pull = asyncio.run(scenario())
    assert set(stored(inbox)) == {"N1", "N2", "N4"} and stored(inbox)["N1"].source == "nats"
    assert pull.counts["terminated"] == 3 and pull.counts["acked"] == 3
    text = caplog.text
    assert "record 1: amount 'xxx' is not a number" in text and "not JSON" in text
    assert "settlement object or an array" in text and "settlement_id is missing" in text
    assert CARD not in text and CARD[-6:] not in text


class Killed(BaseException):
    """The consumer's process dying: nothing after this runs."""


def test_a_consumer_killed_before_its_ack_gets_the_message_again_and_stores_it_once(stream, inbox):
    settings, sessions = inbox
    real = inbox_store(settings, sessions)

    def commit_then_die(messages) -> None:
        real(messages)
        raise Killed

    async def scenario() -> Consumer:
        first = consumer(stream, inbox, commit_then_die, ack_wait_s=1.0)
        await publish(stream[1], json.dumps([record("K1"), record("K2")]).encode())
        with pytest.raises(Killed):
            await first.run()
        assert first.counts["acked"] == 0 and set(stored(inbox)) == {"K1", "K2"}
        second = consumer(stream, inbox, ack_wait_s=1.0)
        task = asyncio.create_task(second.run())
        await until(lambda: second.counts["acked"] == 1)  # delivered again after ack_wait
        second.stop()
        await task
        assert await pending(stream) == (0, 0)
        return second

    second = asyncio.run(scenario())
    assert second.counts["settlements"] == 2
    assert set(stored(inbox)) == {"K1", "K2"}


def test_a_failed_store_is_delivered_again_and_nothing_is_lost(stream, inbox):
    settings, sessions = inbox
    real = inbox_store(settings, sessions)
    calls = []

    def down_once(messages) -> None:
        calls.append(len(messages))
        if len(calls) == 1:
            raise ConnectionError("database unreachable")
        real(messages)

    async def scenario() -> Consumer:
        pull = consumer(stream, inbox, down_once, retry_delay_s=0.3)
        task = asyncio.create_task(pull.run())
        await publish(stream[1], json.dumps(record("R1")).encode())
        await until(lambda: pull.counts["acked"] == 1)
        pull.stop()
        await task
        assert await pending(stream) == (0, 0)
        return pull

    pull = asyncio.run(scenario())
    assert pull.counts["retried"] == 1 and len(calls) == 2 and set(stored(inbox)) == {"R1"}


def test_a_connection_closed_under_the_consumer_is_made_again(stream, inbox):
    async def scenario() -> Consumer:
        pull = consumer(stream, inbox)
        task = asyncio.create_task(pull.run())
        await publish(stream[1], json.dumps(record("C1")).encode())
        await until(lambda: pull.counts["acked"] == 1)
        await pull.connection.close()  # as a lost server would leave it
        await publish(stream[1], json.dumps(record("C2")).encode())
        await until(lambda: pull.counts["acked"] == 2)
        pull.stop()
        await task
        return pull

    pull = asyncio.run(scenario())
    assert pull.counts["connections"] >= 2 and set(stored(inbox)) == {"C1", "C2"}


@pytest.mark.parametrize("changes", [{"batch": 0}, {"batch": 1001}, {"stream": "a b"}, {"durable": ""}])
def test_options_are_bounded(changes):
    values = {"servers": NATS, "stream": "S", "subject": "s.x", "durable": "d", **changes}
    with pytest.raises(ValueError):
        PullOptions(**values)
