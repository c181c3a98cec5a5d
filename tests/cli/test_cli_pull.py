"""``rxaudit pull`` as users run it: a process consuming a JetStream stream into the inbox, killed
with -9 and started again (nothing lost, nothing doubled), stopped cleanly with SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from database.engine import make_engine, migrate, session_factory
from database.models import LiveSettlement
from tests.conftest import TEST_KEY
from tests.ingest.test_jetstream import NATS, pending, publish, record, stream  # noqa: F401 - fixture


def start(db_url, name, subject, tmp_path, log):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RXAUDIT_")}, "RXAUDIT_CARD_HASH_KEY": TEST_KEY}
    return subprocess.Popen([sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())", "pull",
                             "--nats", NATS, "--stream", name, "--subject", subject, "--durable", "cli",
                             "--ack-wait", "1", "--db", db_url], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def rows(db_url) -> int:
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        n = session.scalar(select(func.count()).select_from(LiveSettlement))
    engine.dispose()
    return n


def wait_rows(db_url, n, proc, log_path, timeout=30.0) -> None:
    deadline = time.monotonic() + timeout
    while rows(db_url) < n:
        assert proc.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)


def test_pull_killed_and_started_again(stream, db_url, tmp_path):  # noqa: F811 - the fixture
    name, subject = stream
    migrate(make_engine(db_url))
    log_path = tmp_path / "pull.log"
    with log_path.open("wb") as log:
        proc = start(db_url, name, subject, tmp_path, log)
        asyncio.run(publish(subject, json.dumps([record("P1"), record("P2")]).encode()))
        wait_rows(db_url, 2, proc, log_path)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        asyncio.run(publish(subject, json.dumps(record("P3")).encode(), json.dumps(record("P1")).encode()))
        proc = start(db_url, name, subject, tmp_path, log)
        wait_rows(db_url, 3, proc, log_path)
        deadline = time.monotonic() + 20
        while asyncio.run(pending(stream, "cli")) != (0, 0):
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    text = log_path.read_text()
    assert rows(db_url) == 3 and "stored and acknowledged" in text and TEST_KEY not in text
    assert "6222021234567890" not in text
