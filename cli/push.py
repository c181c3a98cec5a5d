"""``rxaudit push-settlements``: a sample bundle's settlements posted to ``POST /api/v1/settlements`` in
real time, as the platform would send them: the bundle's first swipe is now (or ``--start``), each
settlement posted when its shifted time comes, with its ``settled_at`` shifted alike.

    rxaudit push-settlements --url http://127.0.0.1:8000 --key KEY --bundle DIR [--speed X]
                             [--max-idle-s S] [--start ISO] [--limit N] [--gzip]

``--speed 2`` runs the day twice as fast (footage then no longer matches the swipes: for load, not for a
live audit); ``--max-idle-s 60`` cuts every stretch of the day without footage or swipes down to a
minute (the same cut ``rxaudit live-demo`` gives its cameras). The key may come from $RXAUDIT_INGEST_KEY
instead of the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path


def replay_for(bundle: Path, *, start: datetime, speed: float, max_idle_s: float | None):
    """The bundle's settlements and the clock that puts them at ``start``."""
    from rxaudit.errors import InputError
    from sample_footage.replay import Replay, footage_spans, read_bundle

    log = read_bundle(bundle)
    if not log.settlements:
        raise InputError(f"{bundle}: no settlement with a readable time")
    busy = []
    if max_idle_s is not None:
        busy = footage_spans(bundle / "videos") + [(s.at, s.at + timedelta(seconds=1)) for s in log.settlements]
    replay = Replay.plan(log.settlements[0].at, start, speed=speed, max_idle_s=max_idle_s, busy=busy)
    return log, replay


def cmd_push(args: argparse.Namespace) -> int:
    from ingest.push_client import Pusher
    from rxaudit.errors import InputError

    key = args.key or os.environ.get("RXAUDIT_INGEST_KEY", "")
    if not key:
        raise InputError("--key (or $RXAUDIT_INGEST_KEY): an ingest key (rxaudit apikey create --scope ingest)")
    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC) + timedelta(seconds=args.lead_s)
    if start.tzinfo is None:
        raise InputError("--start needs a UTC offset (2026-12-07T10:00:00+08:00)")
    log, replay = replay_for(args.bundle, start=start, speed=args.speed, max_idle_s=args.max_idle_s)
    for skipped in log.skipped:
        print(f"skipped {args.bundle / 'settlements.csv'} line {skipped.line}: {skipped.reason}", file=sys.stderr)
    timed = [replay.shifted(s) for s in log.settlements[:args.limit]]
    print(f"pushing {len(timed)} settlements to {args.url}: first at {timed[0][0].isoformat(timespec='seconds')}, "
          f"last at {timed[-1][0].isoformat(timespec='seconds')}", flush=True)
    pusher = Pusher(args.url, key, gzip_body=args.gzip, max_retry_s=args.max_retry_s,
                    log=lambda text: print(text, file=sys.stderr, flush=True))
    sent = 0

    def progress(batch):
        nonlocal sent
        sent += len(batch)
        if args.verbose:
            print(f"{datetime.now(UTC).isoformat(timespec='seconds')} posted {sent}/{len(timed)}: "
                  + ", ".join(r["settlement_id"] for r in batch), flush=True)

    stats = pusher.push_timed(timed, on_batch=progress)
    print(stats.summary())
    for error in stats.errors[:20]:
        print(f"refused: record {error.get('index')} field {error.get('field')}: {error.get('reason')}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("push-settlements", help="post a sample bundle's settlements live, time-shifted to now",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="the server (http://127.0.0.1:8000)")
    p.add_argument("--key", help="an ingest API key (else $RXAUDIT_INGEST_KEY)")
    p.add_argument("--bundle", type=Path, required=True, help="a sample bundle (rxaudit sample --out DIR)")
    p.add_argument("--speed", type=float, default=1.0, help="how much faster than real time (1)")
    p.add_argument("--max-idle-s", dest="max_idle_s", type=float,
                   help="cut stretches without footage or swipes down to this many seconds")
    p.add_argument("--start", help="the wall time of the first swipe (ISO 8601; default: now + --lead-s)")
    p.add_argument("--lead-s", dest="lead_s", type=float, default=0.0, help="first swipe this long after now (0)")
    p.add_argument("--limit", type=int, help="push only the first N settlements")
    p.add_argument("--gzip", action="store_true", help="send bodies gzip-compressed")
    p.add_argument("--max-retry-s", dest="max_retry_s", type=float, default=600.0,
                   help="give up on a batch the server has not answered for this long (600)")
    p.add_argument("-v", "--verbose", action="store_true", help="print each batch as it is posted")
    p.set_defaults(func=cmd_push)
