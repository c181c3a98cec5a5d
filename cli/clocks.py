"""``rxaudit clocks``: per counter and day, the configured clock offset, the best-fit offset, the
agreement of swipes with customer visits at each, the verdict and its confidence; the on-screen
clock where a camera burns one in, and beside it the camera's own clock as the recorder read it from
its RTCP sender reports (camera minus recorder, per counter and day). ``rxaudit clocks confirm`` writes an offset into cameras.yaml.

    rxaudit clocks [--db URL] [--cameras cameras.yaml] [--date D] [--pharmacy P] [--counter C]
    rxaudit clocks --settlements FILE.csv --videos DIR [--cameras cameras.yaml] [--fps 1]
    rxaudit clocks confirm --cameras cameras.yaml --pharmacy P --counter C --offset S
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from cli.common import common, settings_from_args


def _fmt(x: float | None, pattern: str = "{:.2f}") -> str:
    return "-" if x is None else pattern.format(x)


def _runner_up(row: dict) -> str:
    if row["runner_up"] is None:
        return "-"
    at = row.get("runner_up_offset_s")
    return _fmt(row["runner_up"]) + ("" if at is None else f" at {at:+g}s")


def print_table(report, rtcp: dict | None = None) -> None:
    """``rtcp``: the cameras' own clocks as the recorder read them, per (pharmacy, counter, day ISO)."""
    from audit.camera_clock import describe

    rtcp = rtcp or {}
    rows = report.rows()
    if not rows:
        print("no swipes with a clock profile (audit first, or give --settlements and --videos)")
    if rtcp and not rows:
        print("\ncamera clocks read by the recorder (rxaudit record):")
        for (pharmacy, counter, day), summary in rtcp.items():
            print(f"{pharmacy + '/' + counter:<16}{day:<12}{describe(summary)}")
    if not rows:
        return
    head = (f"{'counter':<16}{'day':<12}{'swipes':>7}{'configured':>11}{'agree':>7}{'best fit':>10}"
            f"{'agree':>7}{'runner-up':>16}{'confidence':>11}  verdict")
    print(head)
    for r in rows:
        counter = f"{r['pharmacy_id']}/{r['counter_id']}"
        print(f"{counter:<16}{r['day']:<12}{r['swipes']:>7}{r['configured_offset_s']:>+10g}s"
              f"{_fmt(r['agreement_configured']):>7}{r['best_offset_s']:>+9g}s{_fmt(r['agreement_best']):>7}"
              f"{_runner_up(r):>16}{_fmt(r['confidence']):>11}  {r['verdict']}")
        if (found := rtcp.get((r["pharmacy_id"], r["counter_id"], str(r["day"])))) is not None:
            print(f"{'':<16}{describe(found)}")
        osd = r.get("osd")
        if osd is None:
            continue
        if osd.get("problem"):
            print(f"{'':<16}on-screen clock: {osd['problem']}")
            continue
        diff = osd["osd_minus_timeline_s"]
        state = ("DISAGREES with the segment timeline" if osd["segments_disagreeing"]
                 else "agrees with the segment timeline")
        print(f"{'':<16}on-screen clock minus segment timeline: {_fmt(diff, '{:+.1f}')} s over "
              f"{osd['segments_checked']} segment(s): {state}"
              + (f" ({osd['segments_disagreeing']} disagreeing)" if osd["segments_disagreeing"] else "")
              + (f"; {osd['segments_unreadable']} unreadable" if osd["segments_unreadable"] else ""))
        for seg in osd["segments"]:
            if seg["agrees"] is False:
                print(f"{'':<18}{seg['segment']}: {seg['osd_minus_timeline_s']:+.1f} s")
    suspect = [r for r in rows if r["verdict"] == "suspect"]
    if suspect:
        print(f"\n{len(suspect)} suspect counter-day(s): their no_customer flags are marked and scored "
              "lower. Check the camera clock; confirm an offset with\n  rxaudit clocks confirm "
              "--cameras cameras.yaml --pharmacy P --counter C --offset S\n"
              "  (--add where cameras.yaml has no entry for that counter yet)")


def cmd_clocks(args: argparse.Namespace) -> int:
    from ingest.cameras import load_cameras
    from reconcile.clock_health import ClockOptions, assess
    from audit import clocks
    from rxaudit.errors import InputError

    settings = settings_from_args(args)
    options = ClockOptions.from_settings(settings)
    cameras = load_cameras(args.cameras) if args.cameras else None
    if (args.settlements is None) != (args.videos is None):
        raise InputError("--settlements and --videos go together (a re-scan of the footage)")
    store, settlements = None, []
    if args.settlements is not None:
        from ingest.cameras import CamerasConfig
        from ingest.settlements import read_settlements
        from ingest.stores import open_store

        log = read_settlements(Path(args.settlements), settings.require_card_key(), settings.item_catalogue)
        for row in log.rejected:
            print(f"rejected {row.source} line {row.line}: {row.reason}", file=sys.stderr)
        settlements = [s for s in log.settlements
                       if (args.pharmacy is None or s.pharmacy_id == args.pharmacy)
                       and (args.counter is None or s.counter_id == args.counter)]
        config = cameras or CamerasConfig()
        store = open_store(str(args.videos), settings)
        seen = clocks.rescan(settings, settlements, config, store, fps=args.fps)
        health = clocks.select_days(assess(settlements, seen, config, options), day=args.date,
                                pharmacy=args.pharmacy, counter=args.counter)
        report = clocks.ClockReport(health, source="re-scan")
    else:
        health = clocks.from_database(settings.db_url, cameras=cameras, options=options, day=args.date,
                                      pharmacy=args.pharmacy, counter=args.counter)
        report = clocks.ClockReport(health, source="database")
        if args.videos_osd is not None and cameras is not None:
            from ingest.stores import open_store

            store = open_store(str(args.videos_osd), settings)
            settlements = _settlements_of(settings.db_url, health)
    if store is not None and cameras is not None:
        report.osd, report.osd_problems = clocks.osd_checks(store, cameras, settlements, list(health),
                                                            per_counter_day=args.osd_segments)
    rtcp = {}
    if args.settlements is None:  # the recorder's readings of the cameras' own clocks (RTCP)
        from audit.camera_clock import summaries

        found = summaries(settings.db_url, cameras=cameras, default_tz=settings.display_timezone, day=args.date,
                          pharmacy=args.pharmacy, counter=args.counter)
        rtcp = {(p, c, d.isoformat()): v for (p, c, d), v in found.items()}
    if args.json is not None:
        data = report.to_json()
        data["camera_clock"] = [{"pharmacy_id": p, "counter_id": c, "day": d, **v} for (p, c, d), v in rtcp.items()]
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if str(args.json) == "-":
            print(text)
            return 0
        args.json.write_text(text, encoding="utf-8")
    print_table(report, rtcp)
    return 0


def _settlements_of(db_url: str, health) -> list:
    """The stored settlements of the counters reported (for the on-screen clock check)."""
    from sqlalchemy import select

    from database.engine import make_engine, session_factory, transaction
    from database.models import SettlementRow
    from rxaudit.domain import Settlement

    counters = {(k[0], k[1]) for k in health}
    engine = make_engine(db_url)
    out = []
    with transaction(session_factory(engine)) as session:
        for row in session.scalars(select(SettlementRow)):
            if (row.pharmacy_id, row.counter_id) in counters:
                out.append(Settlement(row.settlement_id, row.pharmacy_id, row.counter_id, row.settled_at,
                                      row.card_hash, row.amount))
    engine.dispose()
    return out


def cmd_clocks_confirm(args: argparse.Namespace) -> int:
    from audit.clocks import confirm_offset

    done = confirm_offset(args.cameras, pharmacy=args.pharmacy, counter=args.counter, offset_s=args.offset,
                          add=args.add)
    kept = "a new file" if done.backup is None else f"previous file kept as {done.backup}"
    print(f"{args.cameras}: {args.pharmacy}/{args.counter} clock_offset_s {done.previous_s:+g} -> "
          f"{args.offset:+g} s ({kept}); the next audit uses it")
    return 0


def register(sub) -> None:
    p = sub.add_parser("clocks", help="camera clock health per counter and day (a diagnostic)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cameras", type=Path, help="cameras.yaml: configured offsets, time zones, osd_crop")
    p.add_argument("--settlements", type=Path, help="re-scan: the log (with --videos)")
    p.add_argument("--videos", help="re-scan: the video store (with --settlements)")
    p.add_argument("--osd-videos", dest="videos_osd",
                   help="from the database: the video store, to read on-screen clocks (with --cameras)")
    p.add_argument("--fps", type=float, default=1.0, help="re-scan sampling rate (default 1)")
    p.add_argument("--osd-segments", type=int, default=3, help="segments read per counter-day")
    p.add_argument("--date", type=date.fromisoformat, help="only this local day")
    p.add_argument("--pharmacy")
    p.add_argument("--counter")
    p.add_argument("--json", type=Path, help="write the report as JSON here ('-': stdout only)")
    common(p)
    p.set_defaults(func=cmd_clocks)
    q = p.add_subparsers(dest="clocks_cmd").add_parser(
        "confirm", help="write a counter's clock offset into cameras.yaml")
    q.add_argument("--cameras", type=Path, required=True)
    q.add_argument("--pharmacy", required=True)
    q.add_argument("--counter", required=True)
    q.add_argument("--offset", type=float, required=True,
                   help="seconds, camera clock minus true time (finite, at most a day either way)")
    q.add_argument("--add", action="store_true",
                   help="add the counter when cameras.yaml has no entry for it (else refused: a mistyped id)")
    q.set_defaults(func=cmd_clocks_confirm)
