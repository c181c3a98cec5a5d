"""The pull consumer across a JetStream *server* restart: a private ``nats-server -js`` (Debian's, the
one the machine runs at 4222) on a port and store folder of its own, killed (SIGKILL) and started again
on the same store while the consumer runs, right after a settlement was committed and before its ack.
Every message is stored; those delivered again (the lost ack, and acks a killed server had not yet
written) are stored once: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli.pull import inbox_store
from database.models import LiveSettlement
from ingest.fields import IngestOptions
from ingest.jetstream import Consumer, PullOptions
from recorder.fake_camera import free_port
from tests.conftest import TEST_KEY
from tests.ingest.test_jetstream import inbox, pending, record, stored, until  # noqa: F401 - the inbox fixture

SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer:
    """One private JetStream server; ``kill()`` (SIGKILL), then ``start()`` again on the same store."""

    def __init__(self, store: Path) -> None:
        self.store, self.port = store, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                assert time.monotonic() < deadline, "nats-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server(tmp_path):
    if not os.path.exists(SERVER):
        if os.environ.get("CI"):
            pytest.fail("nats-server is not installed in CI")
        pytest.skip("nats-server not installed")
    srv = NatsServer(tmp_path / "jetstream")
    srv.start()
    yield srv
    srv.kill()


async def _publish(url: str, subject: str, *payloads: bytes, stream: str | None = None) -> None:
    """Publish, retrying while a restarted server is not serving JetStream yet."""
    import nats
    from nats.js.api import StorageType

    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
            js = nc.jetstream()
            if stream is not None:
                await js.add_stream(name=stream, subjects=[subject], storage=StorageType.FILE)
            for payload in payloads:
                await js.publish(subject, payload, timeout=2)
            await nc.close()
            return
        except Exception:  # noqa: BLE001 - the server still starting: try again
            assert asyncio.get_running_loop().time() < deadline, "could not publish"
            await asyncio.sleep(0.2)


async def _unacknowledged(url: str, stream: str, durable: str) -> int:
    """Messages the durable consumer has not had acknowledged on the server (pending + ack pending)."""
    try:
        return sum(await pending((stream,), durable, url=url))
    except Exception:  # noqa: BLE001 - the server still starting
        return -1


def test_a_server_restart_loses_nothing_and_doubles_nothing(server, inbox):
    stream, subject = "RXRESTART", "rxaudit.restart.settlements"
    settings, sessions = inbox
    store = inbox_store(settings, sessions)
    committed: list[str] = []

    def store_then_server_dies(messages) -> None:
        store(messages)  # committed to the inbox ...
        ids = [s.settlement_id for _, ss in messages for s in ss]
        committed.extend(ids)
        if "B1" in ids and not getattr(store_then_server_dies, "killed", False):
            store_then_server_dies.killed = True
            server.kill()  # ... and the server gone before the ack reaches it

    options = PullOptions(servers=server.url, stream=stream, subject=subject, durable="rxaudit", batch=5,
                          fetch_timeout_s=0.3, ack_wait_s=2.0, reconnect_min_s=0.1, reconnect_max_s=0.5)
    pull = Consumer(options, store=store_then_server_dies, card_key=TEST_KEY.encode(), ingest=IngestOptions())
    wanted = {f"A{i}" for i in range(10)} | {"B1"} | {f"C{i}" for i in range(10)}

    async def scenario() -> None:
        await _publish(server.url, subject, *(json.dumps(record(f"A{i}")).encode() for i in range(10)), stream=stream)
        task = asyncio.create_task(pull.run())
        await until(lambda: pull.counts["acked"] >= 10, timeout=30)
        await _publish(server.url, subject, json.dumps(record("B1")).encode())
        await until(lambda: getattr(store_then_server_dies, "killed", False), timeout=30)
        await asyncio.to_thread(server.start)  # the same store: the stream and the durable consumer kept
        await _publish(server.url, subject, *(json.dumps(record(f"C{i}")).encode() for i in range(10)))
        deadline = asyncio.get_running_loop().time() + 60
        while not (wanted <= set(stored(inbox)) and await _unacknowledged(server.url, stream, "rxaudit") == 0):
            assert asyncio.get_running_loop().time() < deadline, "not everything stored and acknowledged"
            await asyncio.sleep(0.2)
        pull.stop()
        await task

    asyncio.run(scenario())
    rows = stored(inbox)
    assert set(rows) == wanted and set(committed) == wanted  # nothing lost
    # at least once: B1's ack died with the server, and a kill -9 may also lose acks the server had not yet
    # written to its store, so some messages come again; each is stored once (the inbox row as first stored)
    assert all(rows[sid].amount == Decimal("9.50") for sid in wanted)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(LiveSettlement)) == len(wanted)
