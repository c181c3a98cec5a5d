"""``rxaudit live-demo``: the live audit on one machine, from a sample bundle, until Ctrl-C.

    rxaudit live-demo [--out DIR] [--seed 7] [--minutes 10] [--port 8000] [--db URL] [--max-idle-s 30]

Fake RTSP cameras play the bundle's counter footage from now (the first swipe ``--lead-s`` after the
recorder connects; stretches of the day without footage or swipes cut to ``--max-idle-s``), ``rxaudit
record`` records them, ``rxaudit live`` audits each settlement as its footage arrives, ``rxaudit serve``
serves the wall, and the bundle's settlements are pushed to ``POST /api/v1/settlements`` as their
shifted time comes. Prints the wall's address and two sign-ins; Ctrl-C stops everything. The bundle and
the camera files are made once (a few minutes on a small machine) and kept in DIR.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path


def ingest_key(db_url: str) -> str:
    from database.accounts import create_api_key
    from database.engine import make_engine, migrate, session_factory, transaction

    engine = make_engine(db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        _, key = create_api_key(session, name="live-demo push", districts=[], scope="ingest")
    engine.dispose()
    return key


def cmd_live_demo(args: argparse.Namespace) -> int:
    from audit import live_rig
    from cli.audit import demo_accounts
    from ingest.push_client import Pusher
    from recorder.fake_camera import RtspCamera, free_port, missing
    from rxaudit.settings import load_settings
    from sample_footage.generator import write_bundle

    if why := missing():
        raise SystemExit(f"live-demo needs the RTSP test camera: {why}")
    live_rig.check_port_free(args.port)
    root: Path = args.out.resolve()
    bundle = root / "bundle"
    if not (bundle / "expected.json").exists():
        print(f"writing the sample bundle (seed {args.seed}) into {bundle} ...", flush=True)
        write_bundle(bundle, args.seed)
    db = args.db or f"sqlite:///{root}/rxaudit.db"
    live_rig.fresh_run(root, db)  # a settlement id pushed again would be a duplicate: each run starts clean
    evidence = root / "evidence"
    env = live_rig.demo_env(root)
    settings = load_settings(db_url=db, evidence_dir=str(evidence), card_hash_key=env["RXAUDIT_CARD_HASH_KEY"])
    plan = live_rig.plan(bundle, lead_s=args.lead_s, seconds=args.minutes * 60, max_idle_s=args.max_idle_s)
    print(f"camera footage for {len(plan.cameras)} counters, {args.minutes:g} min each "
          f"(made once, kept in {root / 'footage'}) ...", flush=True)
    mounts = live_rig.build_footage(plan, root / "footage", log=lambda s: print(s, flush=True))
    passwords = demo_accounts(settings, bundle / "pharmacies.csv")
    key = ingest_key(db)
    camera = RtspCamera(mounts, port=free_port())
    children = live_rig.Children(root / "logs", env)
    url = f"http://127.0.0.1:{args.port}"
    common = ["--db", db, "--evidence-dir", str(evidence)]
    try:
        camera.start()
        cameras = live_rig.cameras_yaml(bundle, [(c.pharmacy_id, c) for c in plan.cameras], camera.port,
                                        root / "cameras.yaml")
        children.start("serve", "serve", *common, "--port", str(args.port), "--host", "127.0.0.1")
        live_rig.wait_http(f"{url}/health", 60, children.check)
        (root / "videos").mkdir(parents=True, exist_ok=True)
        recording = datetime.now(UTC)
        children.start("record", "record", *common, "--cameras", str(cameras), "--videos", str(root / "videos"))
        children.start("live", "live", *common, "--cameras", str(cameras), "--videos", str(root / "videos"))
        print(f"\nThe wall: {url}/wall   (sign in at {url}/login)\n"
              + "\n".join(f"  {name} / {pw}   ({what})" for name, (pw, what) in passwords.items())
              + f"\nA pharmacy's live view: {url}/live/{plan.cameras[0].pharmacy_id}\n"
              f"Logs: {root / 'logs'}.  Ctrl-C stops everything.\n", flush=True)
        starts = live_rig.stream_starts(root / "videos", plan.cameras, timeout_s=60, check=children.check,
                                        since=recording)
        timed = live_rig.timed_settlements(plan, starts)
        print(f"pushing {len(timed)} settlements over {args.minutes:g} min, the first at "
              f"{timed[0][0].astimezone().strftime('%H:%M:%S')} ...", flush=True)
        pusher = Pusher(url, key, log=lambda s: print(s, file=sys.stderr, flush=True))
        done = threading.Event()

        def push() -> None:
            try:
                pusher.push_timed(timed, on_batch=lambda b: print(
                    f"  pushed {', '.join(r['settlement_id'] + ' @ ' + r['pharmacy_id'] + '/' + r['counter_id'] for r in b)}",
                    flush=True))
                print(pusher.stats.summary(), flush=True)
            finally:
                done.set()

        threading.Thread(target=push, name="push", daemon=True).start()
        until = time.monotonic() + args.duration if args.duration else None
        while until is None or time.monotonic() < until:
            children.check()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        children.stop()
        camera.kill()
    return 0


def register(sub) -> None:
    p = sub.add_parser("live-demo", help="fake cameras, recorder, live workers, the wall and settlements pushed live",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("demo-live"), help="the demo's folder (demo-live)")
    p.add_argument("--seed", type=int, default=7, help="the sample bundle's seed (7)")
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of the (cut) sample day to play (10)")
    p.add_argument("--max-idle-s", dest="max_idle_s", type=float, default=30.0,
                   help="stretches of the day without footage or swipes last this long (30)")
    p.add_argument("--lead-s", dest="lead_s", type=float, default=30.0,
                   help="the first swipe this long after the cameras start (30)")
    p.add_argument("--port", type=int, default=8000, help="the wall's port (8000)")
    p.add_argument("--db", help="an empty database's URL (default: SQLite in the demo folder, new each run: "
                   "every run pushes the same settlement ids)")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: at Ctrl-C)")
    p.set_defaults(func=cmd_live_demo)
