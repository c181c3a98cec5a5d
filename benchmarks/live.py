"""``rxaudit bench-live``: the live audit end to end on this machine, figures for issue 28.

    rxaudit bench-live --counters 50 --minutes 10 [--bundle DIR | --seed 7] [--out DIR] [--db URL]
                       [--workers N] [--max-idle-s 5] [--json OUT]

1. ``--counters`` fake RTSP cameras (one GStreamer process): counter i plays the sample bundle's camera
   i mod k (k: the bundle's counters with footage) on a clock of its own with its idle stretches cut to
   ``--max-idle-s`` (a busy counter), as pharmacy ``<pharmacy>R<i div k>``; its settlements renamed alike
   (ids, and card ids and trace codes per replica, so replicas do not pool cards or reuse codes). With
   ``--laps`` (the default) each counter plays its part of the bundle again and again until the run
   ends, each lap's settlements renamed alike (``sample_footage.replay.lap_record``): a bundle counter
   holds a few minutes of swipes, a busy counter swipes all the time. ``--swipe-window-s`` (25): the
   bundle's footage farther than this from every swipe of the counter is cut like an idle stretch
   (an audit reads 12 s before a swipe and 6 s after it), so a lap holds the swipes, not the waits.
2. ``rxaudit record``, ``rxaudit live`` and ``rxaudit serve`` as child processes; an SSE client on
   ``/api/v1/events``; the settlements pushed over HTTP as their shifted time comes.
3. After the last push, waits until the inbox is done (at most live_max_wait_s + 60 s), then reads:
   each flagged swipe to its first ``event: flag`` at the SSE client (p50/p95/max), each swipe to its
   check done (``done_at``), worker and recorder CPU-s (the process trees, from /proc), nothing lost (every
   posted settlement stored once and done).
4. Stops everything, then ``rxaudit audit`` of the same settlements on the recorded footage into a fresh
   SQLite database: live flags must equal batch flags (kind, settlement id).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

MAX_COUNTERS, MAX_MINUTES = 500, 120


def cmd_bench_live(args: argparse.Namespace) -> int:
    from benchmarks.live_run import run

    if not 1 <= args.counters <= MAX_COUNTERS or not 0.5 <= args.minutes <= MAX_MINUTES:
        raise SystemExit(f"--counters 1..{MAX_COUNTERS}, --minutes 0.5..{MAX_MINUTES}")
    result = run(args)
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    return 0 if result["live_equals_batch"] and not result["lost"] else 1


def register(sub) -> None:
    p = sub.add_parser("bench-live", help="live audit end to end: swipe -> flag on the wall, CPU, live == batch",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--counters", type=int, default=50)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--bundle", type=Path, help="a sample bundle (default: written into --out with --seed)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=Path("bench-live"), help="working folder (bench-live)")
    p.add_argument("--db", help="database URL (default: SQLite in --out; --workers > 1 needs PostgreSQL)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--max-idle-s", dest="max_idle_s", type=float, default=5.0,
                   help="each counter's stretches without footage or swipes cut to this (5)")
    p.add_argument("--laps", action=argparse.BooleanOptionalAction, default=True,
                   help="each counter plays its part of the bundle again and again (default: on)")
    p.add_argument("--swipe-window-s", dest="swipe_window_s", type=float, default=25.0,
                   help="bundle footage farther than this from a swipe is cut like idle time (25; 0: keep it)")
    p.add_argument("--lead-s", dest="lead_s", type=float, default=30.0)
    p.add_argument("--json", type=Path)
    p.add_argument("--keep", action="store_true", help="keep the recorded footage of the run")
    p.set_defaults(func=cmd_bench_live)
