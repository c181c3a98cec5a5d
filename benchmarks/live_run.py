"""``rxaudit bench-live``'s run (see ``benchmarks.live``): the rig started, the settlements pushed, the
figures read, everything stopped, then the batch audit compared."""

from __future__ import annotations

import argparse
import csv
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from audit import live_rig
from benchmarks.live_parts import SseClient, _rename, deciding_swipes, pct, tree_cpu_s, write_log


def _db_read(url: str, fn):
    from database.engine import make_engine, session_factory

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return fn(session)
    finally:
        engine.dispose()


def _flags(url: str) -> set[tuple[str, str]]:
    from database.models import FlagRow

    return _db_read(url, lambda s: {(k, sid) for k, sid in s.execute(select(FlagRow.kind, FlagRow.settlement_id))})


def _first_flagged(url: str) -> dict[str, datetime]:
    from database.models import FlagRow

    return _db_read(url, lambda s: dict(s.execute(select(FlagRow.settlement_id, func.min(FlagRow.created_at))
                                                   .group_by(FlagRow.settlement_id)).all()))


def copy_camera_log(src: str, dst: str) -> int:
    """The recorder's gaps and tamper spans of the live run into the batch database (migrated): the batch
    audit judges the recorded footage with the same camera log as the live workers."""
    from database.engine import make_engine, migrate, session_factory, transaction
    from database.models import CameraGapRow, CameraTamperRow

    tables = (CameraGapRow, CameraTamperRow)
    rows = _db_read(src, lambda s: [(t, [{c.key: getattr(r, c.key) for c in t.__table__.columns}
                                         for r in s.scalars(select(t))]) for t in tables])
    engine = make_engine(dst)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        for table, values in rows:
            session.add_all(table(**v) for v in values)
    engine.dispose()
    return sum(len(v) for _, v in rows)


def _setup(db: str, pharmacies_csv: Path) -> tuple[str, str]:
    from database.accounts import create_api_key, load_pharmacies
    from database.engine import make_engine, migrate, session_factory, transaction

    engine = make_engine(db)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        load_pharmacies(session, path=pharmacies_csv)
        _, read = create_api_key(session, name="bench-live sse", districts=[])
        _, ingest = create_api_key(session, name="bench-live push", districts=[], scope="ingest")
    engine.dispose()
    return read, ingest


def run(args: argparse.Namespace) -> dict[str, Any]:
    from audit.pipeline import audit
    from database.models import LiveSettlement
    from ingest.push_client import Pusher
    from recorder.fake_camera import RtspCamera, free_port, missing
    from rxaudit.settings import load_settings
    from sample_footage.generator import write_bundle

    if why := missing():
        raise SystemExit(f"bench-live needs the RTSP test camera: {why}")
    root = args.out.resolve()
    bundle = args.bundle.resolve() if args.bundle else root / "bundle"
    if not (bundle / "expected.json").exists():
        print(f"writing the sample bundle (seed {args.seed}) ...", flush=True)
        write_bundle(bundle, args.seed)
    run_dir = root / f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    run_dir.mkdir(parents=True)
    db = args.db or f"sqlite:///{run_dir}/live.db"
    env = live_rig.demo_env(root)
    seconds = args.minutes * 60 + args.lead_s + 30

    whole = live_rig.plan(bundle, lead_s=args.lead_s, seconds=seconds, max_idle_s=None)
    plans = {cam.mount: live_rig.plan(bundle, lead_s=args.lead_s, seconds=seconds, max_idle_s=args.max_idle_s,
                                      only=cam, laps=args.laps,
                                      swipe_window_s=args.swipe_window_s or None) for cam in whole.cameras[:args.counters]}
    print(f"footage for {len(plans)} bundle counters, {seconds:g} s each (kept in {root / 'footage'}) ...", flush=True)
    files = {m: live_rig.build_footage(p, root / "footage", log=lambda s: print(s, flush=True))[m]
             for m, p in plans.items()}
    names = {row["pharmacy_id"]: row for row in csv.DictReader((bundle / "pharmacies.csv").open(encoding="utf-8"))}
    counters, pharmacies, mounts = [], {}, {}
    sources = list(plans)
    for i in range(args.counters):
        src = plans[sources[i % len(sources)]].cameras[0]
        rep = i // len(sources)
        cam = replace(src, pharmacy_id=f"{src.pharmacy_id}R{rep}")
        counters.append((cam, src, rep))
        pharmacies[cam.pharmacy_id] = {"pharmacy_id": cam.pharmacy_id, "name": f"{names[src.pharmacy_id]['name']} #{rep}",
                                       "district": names[src.pharmacy_id]["district"]}
        mounts[cam.mount] = files[src.mount]
    write_log(run_dir / "registry", [], list(pharmacies.values()))
    read_key, ingest_key = _setup(db, run_dir / "registry" / "pharmacies.csv")
    camera = RtspCamera(mounts, port=free_port())
    children = live_rig.Children(run_dir / "logs", env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    common = ["--db", db, "--evidence-dir", str(run_dir / "evidence")]
    videos = run_dir / "videos"
    videos.mkdir()
    sse = SseClient(port, read_key)
    result: dict[str, Any] = {"counters": args.counters, "minutes": args.minutes, "workers": args.workers,
                              "db": db.split("://")[0], "bundle": str(bundle)}
    try:
        camera.start()
        cameras = live_rig.cameras_yaml(bundle, [(c.pharmacy_id, s) for c, s, _ in counters], camera.port,
                                        run_dir / "cameras.yaml")
        children.start("serve", "serve", *common, "--port", str(port), "--host", "127.0.0.1")
        live_rig.wait_http(f"{url}/health", 60, children.check)
        sse.start()
        children.start("record", "record", *common, "--cameras", str(cameras), "--videos", str(videos))
        children.start("live", "live", *common, "--cameras", str(cameras), "--videos", str(videos),
                       "--workers", str(args.workers))
        starts = live_rig.stream_starts(videos, [c for c, _, _ in counters], timeout_s=90, check=children.check)
        timed = []
        for cam, src, rep in counters:
            for t, record in plans[src.mount].settlements():
                if t > args.lead_s + args.minutes * 60:
                    continue
                when = starts[cam.mount] + timedelta(seconds=t)
                shifted = _rename(record, cam.pharmacy_id, rep)
                shifted["settled_at"] = when.astimezone(datetime.fromisoformat(record["settled_at"]).tzinfo) \
                    .isoformat(timespec="milliseconds")
                timed.append((when, shifted))
        timed.sort(key=lambda r: r[0])
        print(f"pushing {len(timed)} settlements at {args.counters} counters over {args.minutes:g} min ...", flush=True)
        cpu0 = {n: tree_cpu_s(p.pid) for n, p in children.procs.items()}
        wall0 = time.monotonic()
        pusher = Pusher(url, ingest_key, log=lambda s: print(s, flush=True))
        pusher.push_timed(timed)
        settings = load_settings(db_url=db)
        deadline = time.monotonic() + settings.live_max_wait_s + 60
        open_rows = None
        while time.monotonic() < deadline:
            children.check()
            open_rows = _db_read(db, lambda s: s.scalar(select(func.count()).where(LiveSettlement.state != "done")))
            if open_rows == 0:
                break
            time.sleep(2)
        time.sleep(max(3.0, 2 * settings.sse_poll_s))  # the last flags reach the SSE client
        wall_s = time.monotonic() - wall0
        cpu = {n: round(tree_cpu_s(p.pid) - cpu0[n], 1) for n, p in children.procs.items()}
        rows = _db_read(db, lambda s: s.execute(select(LiveSettlement.settlement_id, LiveSettlement.settled_at,
                                                      LiveSettlement.done_at, LiveSettlement.state)).all())
    finally:
        sse.stop.set()
        children.stop()
        camera.kill()
    pushed = [r for _, r in timed]
    swipe = {r["settlement_id"]: datetime.fromisoformat(r["settled_at"]) for r in pushed}
    live_flags = _flags(db)
    flagged = {sid for _, sid in live_flags}
    by_sid = {sid: (sse.first[sid] - swipe[sid]).total_seconds() for sid in flagged if sid in sse.first and sid in swipe}
    to_flag = list(by_sid.values())
    decider = deciding_swipes(_first_flagged(db), [(d, sid) for sid, _, d, _ in rows if d is not None])
    by_decider = {sid: (sse.first[sid] - swipe[decider[sid]]).total_seconds()
                  for sid in by_sid if decider.get(sid) in swipe}
    to_flag_decided = list(by_decider.values())
    to_done = [(done - at).total_seconds() for _, at, done, state in rows if done is not None]
    done = sum(1 for *_, state in rows if state == "done")
    result.update({
        "settlements_pushed": len(pushed), "stored": pusher.stats.stored, "refused": pusher.stats.rejected,
        "rate_per_counter_per_min": round(len(pushed) / args.counters / args.minutes, 2),
        # refused: records the server answered with an error naming index and field (the bundle plants
        # bad rows); lost: accepted records not stored, or stored and never done
        "refused_reasons": sorted({f"{e.get('field')}: {e.get('reason')}" for e in pusher.stats.errors})[:10],
        "done": done, "not_done_at_end": open_rows,
        "lost": max(0, len(pushed) - pusher.stats.rejected - len(rows)) + (len(rows) - done),
        "flags_live": len(live_flags), "flag_events_at_sse_client": len(sse.first),
        "flagged_without_event": sorted(flagged - set(sse.first))[:20],
        # a flag the rules across settlements add to an earlier settlement when a later one comes counts
        # from the earlier swipe: the slowest are named so that such cases can be told apart
        "slowest_flag_events": sorted(([sid, round(t, 1)] for sid, t in by_sid.items()), key=lambda x: -x[1])[:5],
        "swipe_to_flag_event_s": {"n": len(to_flag), "p50": pct(to_flag, 0.5), "p95": pct(to_flag, 0.95),
                                  "max": pct(to_flag, 1.0)},
        # the same, counted from the swipe whose check saved the flag (itself, or the later swipe that
        # completed a pattern across settlements); "added_to_earlier": flags decided by a later swipe
        "deciding_swipe_to_flag_event_s": {"n": len(to_flag_decided), "p50": pct(to_flag_decided, 0.5),
                                           "p95": pct(to_flag_decided, 0.95), "max": pct(to_flag_decided, 1.0),
                                           "added_to_earlier": sum(1 for s in by_decider if decider[s] != s)},
        "swipe_to_done_s": {"n": len(to_done), "p50": pct(to_done, 0.5), "p95": pct(to_done, 0.95),
                            "max": pct(to_done, 1.0)},
        "wall_s": round(wall_s, 1), "cpu_s": cpu,
        "worker_cpu_s_per_settlement": round(cpu["live"] / max(1, done), 3),
        "recorder_cpu_share_of_a_core": round(cpu["record"] / max(1.0, wall_s), 3),
        "recorder_cpu_s_per_counter_minute": round(cpu["record"] / args.counters / (wall_s / 60), 3),
    })
    print("batch audit of the same settlements on the recorded footage ...", flush=True)
    batch_dir = run_dir / "batch"
    log = write_log(batch_dir, pushed, list(pharmacies.values()))
    batch_db = f"sqlite:///{batch_dir}/batch.db"
    result["camera_log_rows"] = copy_camera_log(db, batch_db)
    started = time.process_time()
    audit(load_settings(db_url=batch_db, evidence_dir=str(batch_dir / "evidence"),
                        card_hash_key=env["RXAUDIT_CARD_HASH_KEY"]),
          settlements_file=log, videos=videos, cameras_file=run_dir / "cameras.yaml")
    batch_flags = _flags(batch_db)
    result.update({"batch_cpu_s": round(time.process_time() - started, 1), "flags_batch": len(batch_flags),
                   "live_equals_batch": live_flags == batch_flags,
                   "only_live": sorted(live_flags - batch_flags)[:20], "only_batch": sorted(batch_flags - live_flags)[:20],
                   "run_dir": str(run_dir)})
    if not args.keep:
        shutil.rmtree(videos, ignore_errors=True)
    return result
