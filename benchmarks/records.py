"""``rxaudit bench-records``: the log *and* the records at city scale through one audit.

The month of ``bench-log`` (``benchmarks.log.generate_log``: 1 M settlements, 400 pharmacies)
plus, beside it, what issue 13 adds: ``settlement_items.csv`` (about 3 lines per settlement, each
covered unit with its 20-digit traceability code), ``purchases.csv`` (deliveries), ``stock.csv``
(a count per pharmacy and item before the month) and pharmacy coordinates. A few shortfalls,
reused codes and card conflicts are planted. The audit (every log and records rule, ingest and
database included) runs in a subprocess of its own, measured by ``bench_log.measure_audit``.
"""

from __future__ import annotations

import csv
import json
import random
import secrets
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.log import MONTH_START, audit_in_subprocess, generate_log

ITEMS = 300  # distinct drug codes in the city
ITEM_HEADER = ("settlement_id", "item_code", "item_name", "quantity", "unit_price", "trace_codes")


def write_records(folder: Path, *, purchase_lines: int, seed: int) -> dict[str, int]:
    """Items, purchases, stock counts and coordinates beside ``folder/settlements.csv``."""
    rng = random.Random(seed + 13)
    sold: Counter[tuple[str, str]] = Counter()
    planted = Counter()
    serial = 0
    last_code: str | None = None
    with (folder / "settlements.csv").open(encoding="utf-8", newline="") as src, \
            (folder / "settlement_items.csv").open("w", encoding="utf-8", newline="") as out:
        reader, writer = csv.reader(src), csv.writer(out)
        next(reader)
        writer.writerow(ITEM_HEADER)
        for row in reader:
            sid, pharmacy = row[0], row[1]
            for _ in range(rng.choice((1, 2, 3, 3, 4, 5))):  # 3 lines per settlement on average
                item = f"869{rng.randrange(ITEMS):05d}"
                quantity = rng.choice((1, 1, 1, 2))
                codes = []
                for _ in range(quantity):
                    serial += 1
                    codes.append(f"8{serial:019d}")
                if last_code is not None and rng.random() < 0.0002:  # a box sold again
                    codes[0] = last_code
                    planted["reused_codes"] += 1
                last_code = codes[-1]
                sold[(pharmacy, item)] += quantity
                writer.writerow((sid, item, f"药品{item}", quantity, "12.50", ";".join(codes)))
                planted["item_lines"] += 1
    keys = sorted(sold)
    opened = MONTH_START - timedelta(days=1)
    with (folder / "stock.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("pharmacy_id", "item_code", "quantity", "counted_at"))
        for pharmacy, item in keys:
            writer.writerow((pharmacy, item, sold[(pharmacy, item)] // 3, opened.isoformat()))
            planted["stock_counts"] += 1
    # deliveries before the month: the rest of what is sold, in about ``purchase_lines`` lines;
    # about 1 % of items at a pharmacy get 2 fewer than they sell (a shortfall)
    per_key = purchase_lines / max(1, len(keys))
    with (folder / "purchases.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("pharmacy_id", "item_code", "quantity", "received_at", "supplier", "invoice_no"))
        for n, (pharmacy, item) in enumerate(keys):
            need = sold[(pharmacy, item)] - sold[(pharmacy, item)] // 3
            if rng.random() < 0.01:
                need -= 2
                planted["short_items"] += 1
            lines = max(1, int(per_key) + (rng.random() < per_key - int(per_key)))
            parts = [need // lines + (1 if k < need % lines else 0) for k in range(lines)]
            for k, quantity in enumerate(q for q in parts if q > 0):
                at = opened + timedelta(hours=1, minutes=k)
                writer.writerow((pharmacy, item, quantity, at.isoformat(), "国药控股", f"FP{n:07d}-{k}"))
                planted["purchase_lines"] += 1
    # coordinates: pharmacies spread over a 40 km square around Lanzhou
    path = folder / "pharmacies.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    table[0] += ["lat", "lon"]
    for row in table[1:]:
        row += [f"{36.06 + rng.uniform(-0.18, 0.18):.5f}", f"{103.83 + rng.uniform(-0.22, 0.22):.5f}"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(table)
    return dict(planted)


def run_bench_records(*, rows: int, purchase_lines: int, db_url: str | None = None, seed: int = 7,
                      workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rxaudit-bench-records-") as tmp:
        folder = Path(workdir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "settlements.csv"
        t0 = time.perf_counter()
        planted = {**generate_log(log, rows, seed), **write_records(folder, purchase_lines=purchase_lines,
                                                                    seed=seed)}
        generated_s = time.perf_counter() - t0
        videos = folder / "videos"
        videos.mkdir(exist_ok=True)
        url = db_url or f"sqlite:///{folder.resolve()}/bench.db"
        audit = audit_in_subprocess(log, videos, url, folder / "evidence", secrets.token_hex(16))
        return {"rows": rows, "seed": seed, "db": url.split("://")[0], "generated": planted,
                "generate_s": round(generated_s, 1), "audit": audit}


def cmd_bench_records(args) -> int:
    result = run_bench_records(rows=args.rows, purchase_lines=args.purchases, db_url=args.db,
                               seed=args.seed, workdir=args.workdir)
    a, s = result["audit"], result["audit"]["summary"]
    g = result["generated"]
    print(f"records bench: {result['rows']} settlements, {g.get('item_lines', 0)} item lines, "
          f"{g.get('purchase_lines', 0)} purchase lines, {g.get('stock_counts', 0)} stock counts, "
          f"{g.get('pharmacies', 0)} pharmacies ({result['db']}); generated in {result['generate_s']} s")
    print(f"audit: {a['wall_s']} s wall, peak RSS {a['peak_rss_mb']:.0f} MB; audited {s['audited']}, "
          f"rejected {s['rejected']}; flags {json.dumps(s['flags_by_kind'])}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench-records", help="log + purchases/stock/trace codes at scale: time, peak RSS")
    p.add_argument("--rows", type=int, default=1_000_000, help="settlements")
    p.add_argument("--purchases", type=int, default=200_000, help="purchase lines (about)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--db", help="database URL (default: a SQLite file in the work folder)")
    p.add_argument("--workdir", type=Path, help="keep the files and database here (default: a temp folder)")
    p.add_argument("--json", type=Path)
    p.set_defaults(func=cmd_bench_records)
