"""``rxaudit bench-sse``: many wall screens on one server process.

1. A scratch database (a temporary SQLite file, or ``--db``, which must hold no flags): pharmacies in
   four districts, ``--flags`` flags, one city-wide API key and one per district.
2. ``rxaudit serve`` in a subprocess on 127.0.0.1 (a free port), polling every ``--poll`` seconds.
3. ``--streams`` open ``/api/v1/events`` streams (httpx, one asyncio loop), keys in turn.
4. For ``--seconds``: ``/api/v1/stats`` and ``/health`` one after the other (latency p50/p95/max),
   while ``--new-flags`` flags are written in a few transactions; every stream must get exactly the
   new flags of its districts, in id order (delivery latency from commit to arrival).
5. The server's RSS and thread count, then everything is closed. Loopback only, bounded in count
   and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
DISTRICTS = ("D1", "D2", "D3", "D4")
PHARMACIES_PER_DISTRICT = 5
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone(timedelta(hours=8)))
MAX_STREAMS, MAX_SECONDS = 2000, 300


@dataclass
class Stream:
    districts: frozenset[str] | None
    opened: float | None = None
    received: list[tuple[int, float]] = field(default_factory=list)  # (flag id, arrival time)
    ended: str | None = None


def _seed(url: str, flags: int) -> dict[str, Any]:
    """Pharmacies, ``flags`` flags and the keys; returns {"keys": [(key, districts|None)], ...}."""
    from sqlalchemy import func, select

    from database.accounts import create_api_key
    from database.engine import make_engine, migrate, session_factory, transaction
    from database.models import FlagRow, Pharmacy
    from rxaudit.errors import InputError

    engine = make_engine(url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        if session.scalar(select(func.count()).select_from(FlagRow)):
            raise InputError("bench-sse needs a scratch database without flags (leave out --db)")
        session.add_all(Pharmacy(pharmacy_id=f"BP{d}{k}", name=f"Bench {d}-{k}", district=district)
                        for d, district in enumerate(DISTRICTS) for k in range(PHARMACIES_PER_DISTRICT))
        keys = [(create_api_key(session, name="bench-city", districts=[])[1], None)]
        keys += [(create_api_key(session, name=f"bench-{d}", districts=[d])[1], frozenset([d]))
                 for d in DISTRICTS]
    engine.dispose()
    _add_flags(url, flags, prefix="BS")
    return {"keys": keys}


def _add_flags(url: str, n: int, *, prefix: str) -> list[tuple[int, str]]:
    """``n`` flags over the bench pharmacies in one transaction; returns [(id, district)]."""
    from database.engine import make_engine, session_factory, transaction
    from database.models import FlagRow, SettlementRow

    engine = make_engine(url)
    pharmacies = [(f"BP{d}{k}", district) for d, district in enumerate(DISTRICTS)
                  for k in range(PHARMACIES_PER_DISTRICT)]
    with transaction(session_factory(engine)) as session:
        # round the districts: flag i goes to district i % 4
        where = [pharmacies[(i * PHARMACIES_PER_DISTRICT + i // len(DISTRICTS)) % len(pharmacies)]
                 for i in range(n)]
        session.add_all(SettlementRow(settlement_id=f"{prefix}{i}", pharmacy_id=p, counter_id="C1",
                                      settled_at=T0 + timedelta(seconds=i), card_hash="0" * 64,
                                      amount=Decimal("9.90"), items={}, extra={}) for i, (p, _) in enumerate(where))
        session.flush()
        rows = [FlagRow(settlement_id=f"{prefix}{i}", kind="burst", score=0.5, reason="bench", evidence={})
                for i in range(n)]
        session.add_all(rows)
        session.flush()
        out = [(r.id, district) for r, (_, district) in zip(rows, where)]
    engine.dispose()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _listen(client, stream: Stream, key: str, ready: asyncio.Event, counter: list[int],
                  total: int, max_s: float) -> None:
    import httpx

    try:
        async with client.stream("GET", "/api/v1/events", params={"max_s": max_s},
                                 headers={"Authorization": f"Bearer {key}"}) as response:
            if response.status_code != 200:
                stream.ended = f"HTTP {response.status_code}"
                return
            stream.opened = time.perf_counter()
            counter[0] += 1
            if counter[0] == total:
                ready.set()
            async for line in response.aiter_lines():
                if line.startswith('data: {"id"'):
                    stream.received.append((json.loads(line[6:])["id"], time.time()))
                elif line.startswith("event: end"):
                    stream.ended = "ended by server"
    except (httpx.HTTPError, OSError) as exc:
        stream.ended = f"{type(exc).__name__}: {exc}"


async def _run_load(base: str, keys: list[tuple[str, frozenset[str] | None]], url: str, *, streams: int,
                    seconds: float, new_flags: int, poll_s: float, server_pid: int) -> dict[str, Any]:
    import httpx

    subs = [Stream(keys[k % len(keys)][1]) for k in range(streams)]
    ready, counter = asyncio.Event(), [0]
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    timeout = httpx.Timeout(30.0, read=None)
    t_open = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as sse, \
            httpx.AsyncClient(base_url=base, timeout=30.0,
                              headers={"Authorization": f"Bearer {keys[0][0]}"}) as api:
        tasks = [asyncio.create_task(_listen(sse, s, keys[k % len(keys)][0], ready, counter, streams,
                                             seconds + 60)) for k, s in enumerate(subs)]
        try:
            await asyncio.wait_for(ready.wait(), 60)
        except TimeoutError:
            pass
        open_s = time.perf_counter() - t_open
        written: list[tuple[int, str, float]] = []  # (id, district, commit time)

        def writer() -> None:
            batches = 5
            for b in range(batches):
                time.sleep(seconds / (batches + 1))
                part = new_flags // batches + (1 if b < new_flags % batches else 0)
                rows = _add_flags(url, part, prefix=f"BN{b}-")
                now = time.time()
                written.extend((i, d, now) for i, d in rows)

        write_thread = threading.Thread(target=writer)
        write_thread.start()
        stats_ms: list[float] = []
        health_ms: list[float] = []
        status: dict[str, int] = {}
        end = time.perf_counter() + seconds
        errors = 0
        while time.perf_counter() < end:
            for path, into in (("/api/v1/stats", stats_ms), ("/health", health_ms)):
                t = time.perf_counter()
                try:
                    ok = (await api.get(path)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                into.append((time.perf_counter() - t) * 1000)
                errors += not ok
            status = _proc_status(server_pid) or status
            await asyncio.sleep(0.05)
        await asyncio.to_thread(write_thread.join)
        await asyncio.sleep(2 * poll_s + 0.5)  # a poll or two for the last batch
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    commit = {i: t for i, _, t in written}
    exact, latencies = 0, []
    for s in subs:
        expected = [i for i, d, _ in written if s.districts is None or d in s.districts]
        got = [i for i, _ in s.received]
        exact += s.opened is not None and got == expected
        latencies += [(t - commit[i]) * 1000 for i, t in s.received if i in commit]
    return {
        "streams": streams, "streams_open": sum(s.opened is not None for s in subs),
        "open_all_s": round(open_s, 2), "seconds": seconds,
        "stats_requests": len(stats_ms), "stats_p50_ms": round(_pct(stats_ms, 0.5), 1),
        "stats_p95_ms": round(_pct(stats_ms, 0.95), 1), "stats_max_ms": round(max(stats_ms, default=0), 1),
        "health_p95_ms": round(_pct(health_ms, 0.95), 1), "api_errors": errors,
        "new_flags": len(written), "streams_exactly_once_in_order": exact,
        "delivery_p50_ms": round(_pct(latencies, 0.5), 1), "delivery_p95_ms": round(_pct(latencies, 0.95), 1),
        "streams_ended_early": sum(s.ended is not None for s in subs),
        "server_rss_mb": round(status.get("VmRSS", 0) / 1024, 1),
        "server_peak_rss_mb": round(status.get("VmHWM", 0) / 1024, 1), "server_threads": status.get("Threads"),
    }


def run_bench_sse(*, streams: int = 500, seconds: float = 20.0, flags: int = 2000, new_flags: int = 100,
                  poll_s: float = 2.0, db_url: str | None = None) -> dict[str, Any]:
    streams, seconds = max(1, min(streams, MAX_STREAMS)), max(1.0, min(seconds, MAX_SECONDS))
    with tempfile.TemporaryDirectory(prefix="rxaudit-bench-sse-") as tmp:
        url = db_url or f"sqlite:///{tmp}/bench.db"
        seeded = _seed(url, flags)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RXAUDIT_")}
        env["RXAUDIT_SSE_POLL_S"] = str(poll_s)
        log = Path(tmp) / "server.log"  # a file, not a pipe: a full pipe would stall the server
        with log.open("wb") as sink:
            server = subprocess.Popen(
                [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())", "serve",
                 "--db", url, "--evidence-dir", f"{tmp}/evidence", "--host", HOST, "--port", str(port)],
                cwd=tmp, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            base = f"http://{HOST}:{port}"
            _wait_up(base, server, log)
            result = asyncio.run(_run_load(base, seeded["keys"], url, streams=streams, seconds=seconds,
                                           new_flags=new_flags, poll_s=poll_s, server_pid=server.pid))
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)
        result["server_errors_logged"] = log.read_text(errors="replace").count("ERROR:")
    return {"flags_in_db": flags, "poll_s": poll_s, "database": url.split(":", 1)[0], **result}


def _wait_up(base: str, server: subprocess.Popen, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start within 60 s")


def cmd_bench_sse(args: argparse.Namespace) -> int:
    result = run_bench_sse(streams=args.streams, seconds=args.seconds, flags=args.flags,
                           new_flags=args.new_flags, poll_s=args.poll, db_url=args.db)
    width = max(map(len, result)) + 2
    for key, value in result.items():
        print(f"{key:<{width}}{value}")
    met = result["streams_open"] == result["streams"] and result["stats_p95_ms"] < 200 \
        and result["streams_exactly_once_in_order"] == result["streams"] and not result["api_errors"] \
        and not result["server_errors_logged"]
    print(f"target (all streams open and exact, /api/v1/stats p95 < 200 ms): {'met' if met else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if met else 1


def register(sub) -> None:
    p = sub.add_parser("bench-sse", help="open N /api/v1/events streams on a local server; API latency meanwhile")
    p.add_argument("--streams", type=int, default=500, help=f"open streams (at most {MAX_STREAMS})")
    p.add_argument("--seconds", type=float, default=20.0, help=f"measuring time (at most {MAX_SECONDS})")
    p.add_argument("--flags", type=int, default=2000, help="flags in the database beforehand")
    p.add_argument("--new-flags", dest="new_flags", type=int, default=100, help="flags written meanwhile")
    p.add_argument("--poll", type=float, default=2.0, help="the server's sse_poll_s")
    p.add_argument("--db", help="a scratch database URL without flags (default: a temporary SQLite file)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.set_defaults(func=cmd_bench_sse)
