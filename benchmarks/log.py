"""``rxaudit bench-log``: the log path at city scale, and the wall API on what it wrote.

1. A synthetic month of settlements (deterministic seed): ~400 pharmacies in 16 districts, 1-4
   counters each, business-hours traffic with some off-hours, cards that come back, a few bursts
   and duplicate charges. Written in time order, as exports are.
2. The real audit path (``audit.pipeline.audit``) in a subprocess of its own (so its peak RSS is
   the audit's alone) against a video store with no footage: every settlement goes through the log
   rules and is ``unverifiable`` for video.
3. The API (``create_app`` under Starlette's TestClient) on that database: p50/p95 of the wall's
   reads, the first request of each (cold: a fresh app and engine) and repeats (warm).
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.audit import peak_rss_mb

TZ = timezone(timedelta(hours=8))
MONTH_START = datetime(2026, 10, 1, tzinfo=TZ)
DAYS = 30
DISTRICTS = 16
AMOUNTS = ("8.50", "12.00", "15.80", "19.90", "23.40", "28.00", "35.60", "42.00", "56.30", "68.00",
           "75.50", "88.00", "96.20", "120.00", "158.00", "199.00", "248.50")
HEADER = ("settlement_id", "pharmacy_id", "counter_id", "settled_at", "card_id", "amount", "operator")


def _card(rng: random.Random, n_cards: int) -> str:
    # a few regulars come back often, most cards a handful of times in a month
    k = min(n_cards - 1, int(rng.paretovariate(1.2)) - 1 + rng.randrange(n_cards) // 3)
    return f"62220{k:014d}"


def generate_log(out: Path, rows: int, seed: int = 7, pharmacies: int = 400) -> dict[str, Any]:
    """Write ``out`` (settlements.csv) and ``pharmacies.csv`` beside it; returns what was planted."""
    rng = random.Random(seed)
    counters = {f"P{p:04d}": rng.randint(1, 4) for p in range(1, pharmacies + 1)}
    weight = {p: rng.uniform(0.3, 2.0) for p in counters}
    names = list(counters)
    cum = []
    total = 0.0
    for p in names:
        total += weight[p]
        cum.append(total)
    n_cards = max(10, rows // 5)
    events: list[tuple[float, str, str, str, str]] = []
    planted = {"bursts": 0, "duplicates": 0, "off_hours": 0}
    span_s = DAYS * 86400
    while len(events) < rows:
        p = names[min(len(names) - 1, _bisect(cum, rng.random() * total))]
        counter = f"C{rng.randint(1, counters[p])}"
        day = rng.randrange(DAYS)
        if rng.random() < 0.02:  # off-hours: before 08:00 or after 21:00 local
            hour = rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 21, 22, 23))
            planted["off_hours"] += 1
        else:
            hour = 8 + int(rng.triangular(0, 13, 5))
        t = day * 86400 + hour * 3600 + rng.randrange(3600)
        card, amount = _card(rng, n_cards), rng.choice(AMOUNTS)
        r = rng.random()
        if r < 0.002 and len(events) + 8 <= rows:  # a burst: many cards at one counter in minutes
            planted["bursts"] += 1
            for k in range(rng.randint(6, 8)):
                events.append((t + k * 30, p, counter, _card(rng, n_cards), rng.choice(AMOUNTS)))
            continue
        events.append((t, p, counter, card, amount))
        if r < 0.01 and len(events) < rows:  # charged twice
            planted["duplicates"] += 1
            events.append((t + rng.randint(5, 90), p, counter, card, amount))
    events.sort()
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for n, (t, p, counter, card, amount) in enumerate(events[:rows]):
            at = MONTH_START + timedelta(seconds=min(t, span_s - 1))
            writer.writerow((f"S{n:08d}", p, counter, at.isoformat(), card, amount, f"OP{n % 37}"))
    with out.with_name("pharmacies.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("pharmacy_id", "name", "district"))
        for k, p in enumerate(names):
            writer.writerow((p, f"Pharmacy {p}", f"D{k % DISTRICTS + 1:02d}"))
    return {"rows": rows, "pharmacies": pharmacies, **planted}


def _bisect(cum: list[float], x: float) -> int:
    lo, hi = 0, len(cum)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def audit_in_subprocess(log: Path, videos: Path, db_url: str, evidence_dir: Path, card_key: str
                        ) -> dict[str, Any]:
    """:func:`measure_audit` in a fresh process, so that its peak RSS is the audit's own."""
    args = json.dumps([str(log), str(videos), db_url, str(evidence_dir), card_key])
    code = ("import json, sys; from benchmarks.log import measure_audit; "
            "print(json.dumps(measure_audit(*json.loads(sys.argv[1]))))")
    proc = subprocess.run([sys.executable, "-c", code, args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"audit subprocess failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_audit(settlements: str, videos: str, db_url: str, evidence_dir: str, card_key: str) -> dict[str, Any]:
    """Runs in the subprocess: one audit in this process, its wall time and peak RSS."""
    from audit.pipeline import audit
    from rxaudit.settings import load_settings

    settings = load_settings(db_url=db_url, evidence_dir=evidence_dir, card_hash_key=card_key)
    rss0 = peak_rss_mb()
    started, cpu0 = time.perf_counter(), time.process_time()
    report = audit(settings, settlements_file=Path(settlements), videos=videos)
    wall = time.perf_counter() - started
    return {"wall_s": round(wall, 1), "cpu_s": round(time.process_time() - cpu0, 1),
            "peak_rss_mb": round(peak_rss_mb(), 0),
            "rss_before_audit_mb": round(rss0, 0), "summary": report.summary,
            "rows_per_s": round(report.summary["rows_read"] / wall, 0)}


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": round(p95 * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def api_paths(district: str) -> dict[str, str]:
    return {
        "flags_first_page": "/api/v1/flags",
        "flags_district_kind": f"/api/v1/flags?district={district}&kind=burst",
        "flags_district_unverifiable": f"/api/v1/flags?district={district}&kind=unverifiable",
        "flags_deep_page": "/api/v1/flags?page=2000",
        "flags_by_score": "/api/v1/flags?sort=score",
        "stats": "/api/v1/stats",
        "stats_district_kind": f"/api/v1/stats?district={district}&kind=off_hours",
        "footfall": "/api/v1/footfall",
        "footfall_district_week": f"/api/v1/footfall?district={district}&date_from=2026-10-05&date_to=2026-10-11",
    }


def measure_api(settings, pharmacies_csv: Path, repeats: int = 20) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from database.accounts import create_api_key, load_pharmacies
    from database.engine import make_engine, migrate, session_factory, transaction

    engine = make_engine(settings.db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        load_pharmacies(session, path=pharmacies_csv)
        key = create_api_key(session, name="bench-wall", districts=[])[1]
    engine.dispose()
    out: dict[str, Any] = {}
    for name, path in api_paths("D03").items():
        app = create_app(settings, migrate_db=False)  # a fresh app and engine: the first call is cold
        with TestClient(app) as client:
            client.headers["Authorization"] = f"Bearer {key}"
            t0 = time.perf_counter()
            first = client.get(path)
            cold = time.perf_counter() - t0
            if first.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {first.status_code} {first.text[:200]}")
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                client.get(path).raise_for_status()
                times.append(time.perf_counter() - t0)
            body = first.json()
            size = body.get("total") if isinstance(body, dict) else len(body)
        app.state.engine.dispose()
        out[name] = {"path": path, "cold_ms": round(cold * 1000, 1), **_percentiles(times), "n": size}
    return out


def run_bench_log(*, rows: int, db_url: str | None = None, seed: int = 7, workdir: Path | None = None,
                  repeats: int = 20, api: bool = True, audit: bool = True, report=None) -> dict[str, Any]:
    """``audit=False``: only the API, on the database an earlier run left in ``workdir``.
    ``report``: called with the result so far after the audit (so an API failure loses nothing)."""
    import secrets

    from rxaudit.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="rxaudit-bench-log-") as tmp:
        folder = Path(workdir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "settlements.csv"
        url = db_url or f"sqlite:///{folder.resolve()}/bench.db"
        key = secrets.token_hex(16)
        result: dict[str, Any] = {"rows": rows, "seed": seed, "db": url.split("://")[0]}
        if audit:
            t0 = time.perf_counter()
            result["generated"] = generate_log(log, rows, seed)
            result["generate_s"] = round(time.perf_counter() - t0, 1)
            videos = folder / "videos"  # a store with no footage at all
            videos.mkdir(exist_ok=True)
            result["audit"] = audit_in_subprocess(log, videos, url, folder / "evidence", key)
            if report is not None:
                report(result)
        elif not log.exists():
            raise RuntimeError(f"{folder}: no settlements.csv of an earlier run (run once with the audit)")
        if api:
            settings = load_settings(db_url=url, evidence_dir=str(folder / "evidence"), card_hash_key=key)
            result["api"] = measure_api(settings, log.with_name("pharmacies.csv"), repeats)
        return result


def print_audit(result: dict[str, Any]) -> None:
    a = result["audit"]
    s = a["summary"]
    print(f"log: {result['rows']} rows (seed {result['seed']}), {result['db']}; generated in {result['generate_s']} s")
    print(f"audit: {a['wall_s']} s wall ({a['cpu_s']} s CPU), {a['rows_per_s']:.0f} rows/s, peak RSS "
          f"{a['peak_rss_mb']:.0f} MB; audited {s['audited']}, rejected {s['rejected']}, unverifiable "
          f"{s['unverifiable']}, flags {json.dumps(s['flags_by_kind'])}", flush=True)


def print_api(result: dict[str, Any]) -> None:
    for name, m in result.get("api", {}).items():
        print(f"  {name:<30} cold {m['cold_ms']:>8.1f} ms  p50 {m['p50_ms']:>7.1f} ms  "
              f"p95 {m['p95_ms']:>7.1f} ms  (n={m['n']})")


def cmd_bench_log(args) -> int:
    def save(result: dict[str, Any]) -> None:
        if args.json:
            args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")

    def after_audit(result: dict[str, Any]) -> None:
        print_audit(result)
        save(result)

    result = run_bench_log(rows=args.rows, db_url=args.db, seed=args.seed, workdir=args.workdir,
                           repeats=args.repeats, api=not args.no_api, audit=not args.api_only,
                           report=after_audit)
    print_api(result)
    save(result)
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench-log", help="the log path at scale: audit time, peak RSS, API p50/p95")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--db", help="database URL (default: a SQLite file in the work folder)")
    p.add_argument("--workdir", type=Path, help="keep the log and database here (default: a temp folder)")
    p.add_argument("--repeats", type=int, default=20, help="warm requests per API path")
    p.add_argument("--no-api", action="store_true", help="only the audit")
    p.add_argument("--api-only", action="store_true", help="only the API, on --workdir's earlier run")
    p.add_argument("--json", type=Path)
    p.set_defaults(func=cmd_bench_log)
