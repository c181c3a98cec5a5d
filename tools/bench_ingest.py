"""Ingest throughput and memory: write an N-row settlement log, stream it through the reader.

    .venv/bin/python tools/bench_ingest.py [--rows 1000000] [--encoding utf-8|gb18030] [--mode reader|stream|read]

reader: ingest.csv_reader alone; stream: iter_settlements (parse, validate, hash every row);
read: read_settlements (the whole log in memory, as the audit uses it). Prints rows/s and peak RSS.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.audit import peak_rss_mb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = "settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount,operator\n"


def write_log(path: Path, rows: int, encoding: str) -> None:
    rng = random.Random(1)
    with path.open("w", encoding=encoding, newline="") as fh:
        fh.write(HEADER)
        for i in range(rows):
            fh.write(f"S{i:08d},PH{i % 500:03d},C{i % 3},2026-11-20T{(i // 3600) % 24:02d}:"
                     f"{(i // 60) % 60:02d}:{i % 60:02d}+08:00,6222{rng.randrange(10**15):015d},"
                     f"{rng.randrange(1, 99999) / 100:.2f},收银员{i % 7}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--encoding", default="utf-8")
    parser.add_argument("--mode", choices=["reader", "stream", "read"], default="stream")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settlements.csv"
        write_log(path, args.rows, args.encoding)
        size_mb = path.stat().st_size / 1e6
        rss0 = peak_rss_mb()
        started = time.perf_counter()
        if args.mode == "reader":
            from ingest.csv_reader import open_csv

            with open_csv(path) as rows:
                n = sum(1 for _ in rows)
        elif args.mode == "stream":
            from ingest.settlements import iter_settlements

            n = sum(1 for _ in iter_settlements(path, b"k" * 32))
        else:
            from ingest.settlements import read_settlements

            n = read_settlements(path, b"k" * 32).rows_read
        wall = time.perf_counter() - started
        peak = peak_rss_mb()
    print(f"{args.mode} ({args.encoding}): {n} rows ({size_mb:.0f} MB) "
          f"in {wall:.1f} s = {n / wall:,.0f} rows/s; peak RSS {peak:.0f} MB (before reading {rss0:.0f} MB)")


if __name__ == "__main__":
    main()
