"""``rxaudit push-settlements``' client against the real ``POST /api/v1/settlements`` (uvicorn, as ``rxaudit
serve`` runs it): a bundle's settlements land in the live inbox time-shifted, card ids hashed; pushed again
they are duplicates, not new rows; a server restarted in the middle of a push loses and doubles nothing
(the client retries the batch the restart refused)."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from api.app import create_app
from database.accounts import create_api_key
from database.engine import make_engine, session_factory, transaction
from database.models import LiveSettlement
from ingest.push_client import Pusher
from sample_footage.replay import Replay, read_bundle
from tests.api.conftest import free_port, running
from tests.cli.test_push_settlements import bundle


@contextmanager
def serving(app, port: int):
    """As tests.api.conftest.running, on a given port (the same port again after a restart)."""
    import uvicorn

    from api.server import server_config

    srv = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def ingest_key(settings) -> str:
    with transaction(session_factory(make_engine(settings.db_url))) as session:
        return create_api_key(session, name="platform", districts=[], scope="ingest")[1]


def inbox(settings) -> list[LiveSettlement]:
    with session_factory(make_engine(settings.db_url))() as session:
        return list(session.scalars(select(LiveSettlement).order_by(LiveSettlement.settlement_id)))


def test_bundle_pushed_into_the_inbox(city, tmp_path):
    key = ingest_key(city.settings)
    log = read_bundle(bundle(tmp_path, [0, 5, 10]))
    start = datetime.now(UTC).replace(microsecond=0)
    replay = Replay.plan(log.settlements[0].at, start)
    timed = [(start, replay.shifted(s)[1]) for s in log.settlements]  # all due now
    with running(create_app(city.settings)) as url:
        stats = Pusher(url, key, log=lambda _: None).push_timed(timed)
        assert (stats.posted, stats.stored, stats.rejected) == (3, 3, 0)
        again = Pusher(url, key, gzip_body=True, log=lambda _: None)
        again.post([r for _, r in timed])
        assert (again.stats.stored, again.stats.duplicates) == (0, 3)
    rows = inbox(city.settings)
    assert [r.settlement_id for r in rows] == ["S0", "S1", "S2"]
    assert [r.settled_at for r in rows] == [start, start + timedelta(seconds=5), start + timedelta(seconds=10)]
    assert {r.card_hash for r in rows}.isdisjoint({f"6222000000000{k:03d}" for k in range(3)})  # hashed at the door
    assert "81274178413559544585" in json.dumps(rows[0].items)  # the bill's lines kept with their codes


def test_a_server_restart_mid_push_loses_and_doubles_nothing(city, tmp_path):
    key = ingest_key(city.settings)
    log = read_bundle(bundle(tmp_path, [0, 1, 2, 3]))
    port = free_port()
    start = datetime.now(UTC)
    replay = Replay.plan(log.settlements[0].at, start)
    records = [replay.shifted(s)[1] for s in log.settlements]
    app = create_app(city.settings)
    with serving(app, port) as url:
        pusher = Pusher(url, key, backoff_s=(0.2, 1.0), log=lambda _: None)
        pusher.post(records[:2])
    # the server is down: the next batch is retried until it is back
    sent = threading.Thread(target=pusher.post, args=(records[1:],))
    sent.start()
    time.sleep(1.0)
    with serving(create_app(city.settings), port):
        sent.join(30)
    assert not sent.is_alive()
    assert pusher.stats.retries >= 1 and pusher.stats.stored == 4 and pusher.stats.duplicates == 1
    rows = inbox(city.settings)
    assert [r.settlement_id for r in rows] == ["S0", "S1", "S2", "S3"]
