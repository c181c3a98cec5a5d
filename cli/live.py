"""``rxaudit live``: the live workers (issue 28) — each settlement from the live inbox audited as soon
as its footage is in the store, its flags on the wall's event stream; until SIGTERM or Ctrl-C.

    rxaudit live --db URL --cameras cameras.yaml --videos DIR|s3://bucket/prefix [--workers N]

Several workers need PostgreSQL (they share the inbox through FOR UPDATE SKIP LOCKED claims, on one
machine or several); SQLite runs one. Settings: live_max_wait_s, live_lease_s, live_poll_s,
live_batch, live_lane_s, live_backlog_share, live_max_attempts, live_chain_s (``--config`` or
RXAUDIT_LIVE_*).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cli.common import common, settings_from_args


def cmd_live(args: argparse.Namespace) -> int:
    from audit.live_worker import check_workers, run_workers

    settings = settings_from_args(args)
    check_workers(settings, args.workers)  # before anything starts: a clear error, nothing claimed
    if args.until_idle and args.workers > 1:
        raise SystemExit("--until-idle runs one worker")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_workers(settings, cameras_file=args.cameras, videos=args.videos, workers=args.workers,
                until_idle=args.until_idle)
    return 0


def register(sub) -> None:
    p = sub.add_parser("live", help="audit settlements from the live inbox as their footage arrives")
    common(p)
    p.add_argument("--cameras", type=Path, help="cameras.yaml (zones, clock offsets)")
    p.add_argument("--videos", required=True, help="the video store the recorder fills: a folder or s3://...")
    p.add_argument("--workers", type=int, default=1, help="worker processes (more than 1: PostgreSQL only)")
    p.add_argument("--until-idle", dest="until_idle", action="store_true",
                   help="stop once nothing is pending or claimed (one worker; tests, catching up)")
    p.set_defaults(func=cmd_live)
