"""``rxaudit record``: record every counter's live stream named in cameras.yaml into the video
store, until stopped (SIGTERM, Ctrl-C). ``rxaudit cameras status``: what the recorders last saw.

    rxaudit record --cameras cameras.yaml --videos DIR|s3://bucket/prefix [--spool DIR] [--shard i/N]
                   [--secrets FILE] [--db URL] [--segment-s 10] [--stall-s 10] [--retention-days 90]
                   [--snapshot-s 2] [--duration S]

With s3:// each segment is written aside and moved into the local spool (--spool, default
rxaudit-spool/), uploaded with one PUT (S3 shows it whole or not at all) by upload threads apart
from the readers, then removed from the spool; what waits there is uploaded after a restart too.
Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or an instance role), s3_endpoint_url in
the settings for MinIO, OSS, OBS or Ceph.
    rxaudit cameras status [--db URL] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from cli.common import common, db_session, settings_from_args


def cmd_record(args: argparse.Namespace) -> int:
    from database.engine import make_engine, migrate, session_factory
    from ingest.cameras import load_cameras
    from recorder.reader import RecorderOptions
    from recorder.sources import cameras_from_config, load_secrets, parse_shard, shard
    from recorder.supervisor import Recorder
    from rxaudit.errors import ConfigError, StoreError

    remote = args.videos.startswith("s3://")
    if "://" in args.videos and not remote:
        raise StoreError(f"rxaudit record writes to a folder or s3://bucket/prefix, not {args.videos.split('://')[0]}://")
    if remote and len(args.videos.removeprefix("s3://").strip("/")) == 0:
        raise StoreError("--videos s3://: name the bucket (s3://bucket/prefix)")
    if not 0.5 <= args.snapshot_s <= 3600:
        raise ConfigError("--snapshot-s must be between 0.5 and 3600 seconds")
    for name in ("segment_s", "stall_s"):
        if not 1 <= getattr(args, name) <= 3600:
            raise ConfigError(f"--{name.replace('_', '-')} must be between 1 and 3600 seconds")
    cameras = cameras_from_config(load_cameras(args.cameras), load_secrets(args.secrets))
    if args.shard:
        cameras = shard(cameras, *parse_shard(args.shard))
    if not cameras:
        raise ConfigError(f"{args.cameras}: no counter with a stream: to record" +
                          (f" in shard {args.shard}" if args.shard else ""))
    settings = settings_from_args(args)
    engine = make_engine(settings.db_url)
    migrate(engine)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not 0 <= args.retention_days <= 36500:
        raise ConfigError("--retention-days must be between 0 (keep everything) and 36500")
    options = RecorderOptions(segment_s=args.segment_s, stall_s=args.stall_s,
                              open_s=min(10.0, args.stall_s), retention_days=args.retention_days,
                              snapshot_dir=settings.snapshots, snapshot_s=args.snapshot_s,
                              evidence_dir=settings.evidence_dir)
    root, uploader = Path(args.videos), None
    if remote:
        from recorder.upload import ObjectTarget, Uploader

        root = args.spool
        uploader = Uploader(ObjectTarget.s3(args.videos, settings), root, cameras, shown=args.videos.rstrip("/"))
    recorder = Recorder(cameras, root, options, session_factory(engine), uploader)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: recorder.stop_event.set())
    spool = f" (spool {root})" if remote else ""
    print(f"recording {len(cameras)} camera(s) into {args.videos}{spool}: "
          + ", ".join(f"{c.key} <- {c.shown}" for c in cameras), flush=True)
    recorder.run(args.duration)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from database import cameras as camera_db

    tz = ZoneInfo(settings_from_args(args).display_timezone)
    with db_session(args) as session:
        views = camera_db.cameras(session)
        rows = [status_row(v, tz) for v in views]
    if args.json:
        text = json.dumps({"cameras": rows}, ensure_ascii=False, indent=1)
        if str(args.json) == "-":
            print(text)
        else:
            args.json.write_text(text, encoding="utf-8")
    if str(args.json) != "-":
        print_status(rows)
    return 0


def status_row(view, tz) -> dict:
    h = view.health
    iso = lambda t: None if t is None else t.astimezone(tz).replace(microsecond=0).isoformat()  # noqa: E731
    return {"pharmacy_id": h.pharmacy_id, "counter_id": h.counter_id, "state": h.state,
            "since": iso(h.state_since), "last_frame_at": iso(h.last_frame_at),
            "fps": None if h.fps is None else round(h.fps, 2),
            "bitrate_kbps": None if h.bitrate_kbps is None else round(h.bitrate_kbps, 1),
            "size": None if h.width is None else f"{h.width}x{h.height}", "stream": h.stream,
            "detail": h.detail,
            "gaps": [{"start": iso(g.start), "end": iso(g.end), "reason": g.reason} for g in view.gaps]}


def print_status(rows: list[dict]) -> None:
    if not rows:
        print("no camera has been recorded (rxaudit record --cameras cameras.yaml --videos DIR)")
        return
    print(f"{'counter':<20}{'state':<15}{'last frame':<27}{'fps':>6}{'kbit/s':>8}  {'size':<10}detail")
    for r in rows:
        fps = "-" if r["fps"] is None else f"{r['fps']:.1f}"
        kbps = "-" if r["bitrate_kbps"] is None else f"{r['bitrate_kbps']:.0f}"
        print(f"{r['pharmacy_id'] + '/' + r['counter_id']:<20}{r['state']:<15}{r['last_frame_at'] or '-':<27}"
              f"{fps:>6}{kbps:>8}  {r['size'] or '-':<10}{r['detail'] or ''}")
        for g in r["gaps"][:5]:
            print(f"{'':<20}gap {g['start']} .. {g['end'] or 'now'}: {g['reason']}")


def register(sub) -> None:
    p = sub.add_parser("record", help="record the counters' live streams into the video store",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cameras", type=Path, required=True, help="cameras.yaml: stream: per counter")
    p.add_argument("--videos", required=True, help="the video store: a folder or s3://bucket/prefix")
    p.add_argument("--spool", type=Path, default=Path("rxaudit-spool"),
                   help="with s3://: the local folder segments wait in until uploaded (rxaudit-spool)")
    p.add_argument("--snapshot-s", dest="snapshot_s", type=float, default=2.0,
                   help="seconds between the wall's snapshots of each counter (2; written to snapshot_dir)")
    p.add_argument("--secrets", type=Path, help="YAML of NAME: user:password (else $RXAUDIT_CAMERA_NAME)")
    p.add_argument("--shard", help="i/N: record only this recorder's share of the cameras")
    p.add_argument("--segment-s", dest="segment_s", type=float, default=10.0, help="segment length (10)")
    p.add_argument("--stall-s", dest="stall_s", type=float, default=10.0,
                   help="seconds without a frame before a stream is reopened (10)")
    p.add_argument("--retention-days", dest="retention_days", type=int, default=90,
                   help="delete segments older than this, except flags' evidence (90; 0: keep all)")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: until stopped)")
    common(p)
    p.set_defaults(func=cmd_record)
    c = sub.add_parser("cameras", help="camera health: state, last frame, fps, bitrate, gaps")
    s = c.add_subparsers(dest="cameras_cmd", required=True).add_parser("status", help="print camera health")
    s.add_argument("--json", type=Path, help="write as JSON here ('-': stdout only)")
    common(s)
    s.set_defaults(func=cmd_status)
