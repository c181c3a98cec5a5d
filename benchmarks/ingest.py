"""``rxaudit bench-ingest``: settlements per second through ``POST /api/v1/settlements`` on one server
process, exactly as ``rxaudit serve`` runs it.

1. A scratch database (a temporary SQLite file, or ``--db``): four pharmacies and one city-wide
   ingest key; the run's settlement ids carry a random prefix, so a database used before is fine.
2. ``rxaudit serve`` in a subprocess on 127.0.0.1 (a free port), with a random card-hash key.
3. ``--settlements`` records (1 to 3 item lines each, a traceability code on some) in batches of
   ``--batch``, made and serialised (gzip with ``--gzip``) before the clock starts, posted by
   ``--clients`` concurrent connections; each answer must be 202 with the whole batch stored.
4. The wall time, settlements/s, request latency p50/p95/max, the server process's CPU-s (user +
   system from /proc; PostgreSQL's own backends are not in it) and the rows found in the inbox
   afterwards; then the first batch once more, which must change nothing (all duplicates).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.sse import HOST, _free_port, _pct, _wait_up

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone(timedelta(hours=8)))
PHARMACIES = ("BI1", "BI2", "BI3", "BI4")
MAX_SETTLEMENTS, MAX_BATCH, MAX_CLIENTS = 1_000_000, 5000, 32
TARGET_PER_S = 2000


def _seed(url: str) -> str:
    """Bench pharmacies (when missing) and a new city-wide ingest key; returns the key."""
    from database.accounts import create_api_key
    from database.engine import make_engine, migrate, session_factory, transaction
    from database.models import Pharmacy

    engine = make_engine(url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        for k, pharmacy_id in enumerate(PHARMACIES):
            if session.get(Pharmacy, pharmacy_id) is None:
                session.add(Pharmacy(pharmacy_id=pharmacy_id, name=f"Bench {pharmacy_id}", district=f"D{k % 2}"))
        key = create_api_key(session, name="bench-ingest", districts=[], scope="ingest")[1]
    engine.dispose()
    return key


def records(n: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` settlement objects as a platform sends them (clear card ids, hashed by the server)."""
    out = []
    for i in range(n):
        lines = [{"item_code": f"I{(i + j) % 97}", "item_name": f"药品{(i + j) % 97}", "quantity": 1 + j,
                  "unit_price": f"{5 + (i + j) % 40}.50",
                  "trace_codes": [f"{i:012d}{j:08d}"] if i % 3 == 0 else []} for j in range(1 + i % 3)]
        out.append({"settlement_id": f"{prefix}{i}", "pharmacy_id": PHARMACIES[i % len(PHARMACIES)],
                    "counter_id": f"C{i % 3 + 1}", "settled_at": (T0 + timedelta(seconds=i // 10)).isoformat(),
                    "card_id": f"6222{i % 5000:012d}", "amount": f"{sum(1 + j for j in range(len(lines))) * 9.5:.2f}",
                    "items": lines, "operator": f"op{i % 7}"})
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _post_all(base: str, key: str, bodies: list[bytes], headers: dict[str, str], clients: int,
                    batch: int) -> tuple[list[float], list[str]]:
    import httpx

    latencies: list[float] = []
    problems: list[str] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120.0, headers=auth) as http:
            while not queue.empty():
                body = queue.get_nowait()
                t = time.perf_counter()
                response = await http.post("/api/v1/settlements", content=body)
                latencies.append((time.perf_counter() - t) * 1000)
                if response.status_code != 202 or response.json().get("stored") != batch:
                    problems.append(f"HTTP {response.status_code}: {response.text[:200]}")

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, problems


def _inbox_rows(url: str, prefix: str) -> int:
    from sqlalchemy import func, select

    from database.engine import make_engine, session_factory
    from database.models import LiveSettlement

    engine = make_engine(url)
    with session_factory(engine)() as session:
        n = session.scalar(select(func.count()).select_from(LiveSettlement)
                           .where(LiveSettlement.settlement_id.startswith(prefix)))
    engine.dispose()
    return int(n or 0)


def run_bench_ingest(*, settlements: int = 20000, batch: int = 500, clients: int = 2, use_gzip: bool = False,
                     db_url: str | None = None) -> dict[str, Any]:
    settlements = max(1, min(settlements, MAX_SETTLEMENTS))
    batch, clients = max(1, min(batch, MAX_BATCH)), max(1, min(clients, MAX_CLIENTS))
    settlements = max(batch, settlements - settlements % batch)  # whole batches
    prefix = f"BI{secrets.token_hex(4)}-"
    all_records = records(settlements, prefix)
    bodies = [json.dumps(all_records[k:k + batch], ensure_ascii=False).encode()
              for k in range(0, settlements, batch)]
    raw_bytes = sum(map(len, bodies))
    if use_gzip:
        bodies = [gzip.compress(b, compresslevel=5) for b in bodies]
    headers = {"Content-Encoding": "gzip"} if use_gzip else {}
    with tempfile.TemporaryDirectory(prefix="rxaudit-bench-ingest-") as tmp:
        url = db_url or f"sqlite:///{tmp}/bench.db"
        key = _seed(url)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RXAUDIT_")}
        env["RXAUDIT_CARD_HASH_KEY"] = secrets.token_urlsafe(24)
        env["RXAUDIT_INGEST_MAX_RECORDS"] = str(max(batch, 5000))
        log = Path(tmp) / "server.log"  # a file, not a pipe: a full pipe would stall the server
        with log.open("wb") as sink:
            server = subprocess.Popen(
                [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())", "serve",
                 "--db", url, "--evidence-dir", f"{tmp}/evidence", "--host", HOST, "--port", str(port)],
                cwd=tmp, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            base = f"http://{HOST}:{port}"
            _wait_up(base, server, log)
            cpu0, t0 = _cpu_s(server.pid), time.perf_counter()
            latencies, problems = asyncio.run(_post_all(base, key, bodies, headers, clients, batch))
            wall = time.perf_counter() - t0
            cpu = _cpu_s(server.pid) - cpu0
            _, replay = asyncio.run(_post_all(base, key, bodies[:1], headers, 1, 0))  # all duplicates: 0 stored
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)
        stored = _inbox_rows(url, prefix)
        errors_logged = log.read_text(errors="replace").count("ERROR:")
    return {
        "database": url.split(":", 1)[0], "settlements": settlements, "batch": batch, "clients": clients,
        "gzip": use_gzip, "request_mb": round(sum(map(len, bodies)) / 1e6, 2), "json_mb": round(raw_bytes / 1e6, 2),
        "wall_s": round(wall, 2), "settlements_per_s": round(settlements / wall, 1),
        "request_p50_ms": round(_pct(latencies, 0.5), 1), "request_p95_ms": round(_pct(latencies, 0.95), 1),
        "request_max_ms": round(max(latencies, default=0), 1),
        "server_cpu_s": round(cpu, 2), "server_cpu_ms_per_settlement": round(cpu * 1000 / settlements, 3),
        "server_cores_busy": round(cpu / wall, 2), "failed_requests": len(problems),
        "first_problem": problems[0] if problems else "", "rows_in_inbox": stored,
        "replay_changed_nothing": not replay and stored == settlements, "server_errors_logged": errors_logged,
    }


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    result = run_bench_ingest(settlements=args.settlements, batch=args.batch, clients=args.clients,
                              use_gzip=args.gzip, db_url=args.db)
    width = max(map(len, result)) + 2
    for key, value in result.items():
        print(f"{key:<{width}}{value}")
    met = (result["settlements_per_s"] >= TARGET_PER_S and not result["failed_requests"]
           and result["rows_in_inbox"] == result["settlements"] and result["replay_changed_nothing"]
           and not result["server_errors_logged"])
    print(f"target (>= {TARGET_PER_S} settlements/s, every one stored once): {'met' if met else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if met else 1


def register(sub) -> None:
    p = sub.add_parser("bench-ingest", help="settlements/s through POST /api/v1/settlements on one server process")
    p.add_argument("--settlements", type=int, default=20000, help=f"records posted (at most {MAX_SETTLEMENTS})")
    p.add_argument("--batch", type=int, default=500, help=f"records per request (at most {MAX_BATCH})")
    p.add_argument("--clients", type=int, default=2, help=f"concurrent connections (at most {MAX_CLIENTS})")
    p.add_argument("--gzip", action="store_true", help="send the bodies gzip-compressed")
    p.add_argument("--db", help="database URL (default: a temporary SQLite file); sqlite:///… or postgresql://…")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.set_defaults(func=cmd_bench_ingest)
