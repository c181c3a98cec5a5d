"""``rxaudit push-settlements``: a bundle's settlements time-shifted onto the wall clock (first swipe now,
idle stretches optionally cut, speed), posted as they fall due to a real HTTP server, retried on 5xx and
connection errors, never retried on a refused key."""

from __future__ import annotations

import gzip
import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cli.main import main
from ingest.push_client import Pusher
from rxaudit.errors import AuthError
from sample_footage.replay import Replay, read_bundle
from tests.api.conftest import running

TZ = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 12, 9, 0, 0, tzinfo=TZ)


def bundle(root: Path, offsets_s: list[float]) -> Path:
    lines = ["settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount,operator"]
    for k, s in enumerate(offsets_s):
        at = (DAY + timedelta(seconds=s)).isoformat(timespec="milliseconds")
        lines.append(f"S{k},PH1,C1,{at},6222000000000{k:03d},9.50,OP1")
    lines.insert(2, "BAD1,PH1,C1,yesterday at noon,1,12.00,OP1")
    (root / "settlements.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "settlement_items.csv").write_text(
        "settlement_id,item_code,item_name,quantity,unit_price,trace_codes\n"
        "S0,86900001,阿莫西林胶囊,1,9.50,81274178413559544585;81274178413559544586\n", encoding="utf-8")
    return root


def test_bundle_records_and_the_shift(tmp_path):
    log = read_bundle(bundle(tmp_path, [30, 0, 10]))
    assert [s.record["settlement_id"] for s in log.settlements] == ["S1", "S2", "S0"]  # swipe order
    assert [(k.line, k.reason) for k in log.skipped] == [(3, "settled_at is not an ISO 8601 time")]
    s0 = log.settlements[2].record
    assert s0["card_id"] == "6222000000000000" and s0["operator"] == "OP1"
    assert s0["items"] == [{"item_code": "86900001", "item_name": "阿莫西林胶囊", "quantity": "1",
                            "unit_price": "9.50", "trace_codes": ["81274178413559544585", "81274178413559544586"]}]
    now = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
    replay = Replay.plan(log.settlements[0].at, now)
    when, record = replay.shifted(log.settlements[2])
    assert when == now + timedelta(seconds=30)
    assert record["settled_at"] == "2026-12-07T20:00:30.000+08:00"  # the bundle's offset kept
    assert log.settlements[2].record["settled_at"].startswith("2026-11-12")  # the bundle's own untouched
    assert replay.bundle(when) == log.settlements[2].at
    fast = Replay.plan(log.settlements[0].at, now, speed=2)
    assert fast.wall(DAY + timedelta(seconds=30)) == now + timedelta(seconds=15)


def test_idle_stretches_are_cut_and_footage_stays_aligned():
    busy = [(DAY, DAY + timedelta(seconds=60)), (DAY + timedelta(hours=2), DAY + timedelta(hours=2, seconds=60))]
    now = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
    replay = Replay.plan(DAY + timedelta(seconds=20), now, max_idle_s=30, busy=busy)
    # inside the first busy span: a plain shift
    assert replay.wall(DAY + timedelta(seconds=50)) == now + timedelta(seconds=30)
    # the two hours without anything last 30 s: the second span starts 40 + 30 s after the first swipe
    second = DAY + timedelta(hours=2)
    assert replay.wall(second) == now + timedelta(seconds=70)
    assert replay.wall(second + timedelta(seconds=12)) == now + timedelta(seconds=82)
    assert replay.bundle(now + timedelta(seconds=82)) == second + timedelta(seconds=12)  # the camera's picture
    assert Replay.plan(DAY, now, max_idle_s=3 * 3600, busy=busy).wall(second) == now + timedelta(hours=2)


class FakeIngest:
    """A tiny stand-in for POST /api/v1/settlements: answers ``script`` in turn (then 202), keeps bodies."""

    def __init__(self, script: list[int]) -> None:
        self.script, self.bodies, self.times, self.lock = list(script), [], [], threading.Lock()
        self.app = FastAPI()

        @self.app.post("/api/v1/settlements")
        async def post(request: Request):
            raw = await request.body()
            if request.headers.get("content-encoding") == "gzip":
                raw = gzip.decompress(raw)
            with self.lock:
                status = self.script.pop(0) if self.script else 202
                self.times.append(datetime.now(UTC))
                auth = request.headers.get("authorization")
                if status == 202:
                    self.bodies.append((auth, json.loads(raw)))
            records = json.loads(raw)
            if status == 202:
                return JSONResponse({"received": len(records), "stored": len(records), "duplicates": 0,
                                     "conflicts": [], "errors": []}, status_code=202)
            return JSONResponse({"detail": "nope"}, status_code=status)


def test_retries_5xx_then_delivers_once(tmp_path):
    fake = FakeIngest([503, 500])
    with running(fake.app) as url:
        pusher = Pusher(url, "KEY1", backoff_s=(0.05, 0.2), log=lambda _: None)
        pusher.post([{"settlement_id": "S1"}])
    assert [b for _, b in fake.bodies] == [[{"settlement_id": "S1"}]]
    assert fake.bodies[0][0] == "Bearer KEY1"
    assert pusher.stats.retries == 2 and pusher.stats.posted == 1 and pusher.stats.stored == 1


def test_connection_refused_is_retried_then_gives_up(tmp_path):
    from tests.api.conftest import free_port

    pusher = Pusher(f"http://127.0.0.1:{free_port()}", "K", backoff_s=(0.05, 0.1), max_retry_s=0.5,
                    log=lambda _: None)
    with pytest.raises(ConnectionError, match="not confirmed"):
        pusher.post([{"settlement_id": "S1"}])
    assert pusher.stats.retries >= 2


def test_a_refused_key_stops_at_once(tmp_path):
    fake = FakeIngest([403])
    with running(fake.app) as url:
        pusher = Pusher(url, "READ-KEY", backoff_s=(0.05, 0.1), log=lambda _: None)
        with pytest.raises(AuthError, match="--scope ingest"):
            pusher.post([{"settlement_id": "S1"}])
    assert pusher.stats.retries == 0 and "READ-KEY" not in str(pusher.stats.summary())


def test_cli_pushes_in_real_time(tmp_path, capsys):
    root = bundle(tmp_path, [0, 0.6, 1.2])
    fake = FakeIngest([502])
    with running(fake.app) as url:
        start = datetime.now(UTC) + timedelta(seconds=0.5)
        assert main(["push-settlements", "--url", url, "--key", "K", "--bundle", str(root),
                     "--start", start.isoformat(), "--gzip"]) == 0
    sent = [r for _, body in fake.bodies for r in body]
    assert [r["settlement_id"] for r in sent] == ["S0", "S1", "S2"]
    for k, r in enumerate(sent):
        shifted = datetime.fromisoformat(r["settled_at"])
        assert abs((shifted - (start + timedelta(seconds=0.6 * k))).total_seconds()) < 0.002
    # each posted when due (none early), the first once after a 502
    assert fake.times[0] >= start and fake.times[-1] >= start + timedelta(seconds=1.2)
    out = capsys.readouterr()
    assert "posted 3: 3 stored" in out.out and "line 3: settled_at is not an ISO 8601 time" in out.err
