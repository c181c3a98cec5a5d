"""``rxaudit audit``, ``batch``, ``sample``, ``report`` and ``demo``: the audit as a job, on a log and
a video store, and the sample bundle to try it on."""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path

from cli.common import ENCODING_HELP, common, print_summary, settings_from_args


def cmd_audit(args: argparse.Namespace) -> int:
    from cli.checks import check_output_file
    from audit.pipeline import audit

    settings = settings_from_args(args)
    check_output_file(args.out)
    report = audit(settings, settlements_file=args.settlements, videos=args.videos,
                   cameras_file=args.cameras, out=args.out, purchases_file=args.purchases,
                   stock_file=args.stock)
    print_summary(report, args.settlements)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from audit.batch import run_batch
    from cli.checks import check_output_file

    settings = settings_from_args(args)
    check_output_file(args.out)
    report = run_batch(settings, settlements_file=args.settlements, videos=args.videos,
                       cameras_file=args.cameras, day=args.date, workers=args.workers,
                       ray_address=args.ray_address, out=args.out, show_progress=args.progress)
    print_summary(report, args.settlements)
    n = max(1, report.summary["audited"])
    print(f"{report.summary['executor']}: {report.summary['tasks_run_now']} tasks run now, "
          f"{report.summary['store_listings']} store listings; {n / report.stats['wall_s']:.2f} "
          f"settlements/s, {report.stats['cpu_s'] / n:.3f} CPU-s per settlement")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from sample_footage.generator import write_bundle

    expected = write_bundle(args.out, args.seed, stocked=args.stocked)
    if args.form != "en":
        from sample_footage.exports import export_bundle

        export_bundle(args.out, args.form)
    counts = {k: len(v) for k, v in expected.items() if isinstance(v, list)}
    print(f"wrote {args.out} (seed {args.seed}): {json.dumps(counts)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from audit.report import write_report

    settings = settings_from_args(args)
    out = args.out or Path(settings.evidence_dir) / "report.html"
    n = write_report(settings.db_url, out, Path(settings.evidence_dir))
    print(f"report: {out} ({n} flagged or unverifiable settlements)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """sample -> audit -> report, in one folder."""
    from audit.pipeline import audit
    from audit.report import write_report
    from rxaudit.settings import load_settings
    from sample_footage.generator import write_bundle

    folder: Path = args.dir
    if not (folder / "expected.json").exists() or args.regenerate:
        write_bundle(folder, args.seed)
    settings = load_settings(args.config, db_url=args.db or f"sqlite:///{folder.resolve()}/rxaudit.db",
                             evidence_dir=str(folder / "evidence"))
    report = audit(settings, settlements_file=folder / "settlements.csv",
                   videos=folder / "videos", cameras_file=folder / "cameras.yaml",
                   out=folder / "flags.json")
    print_summary(report, folder / "settlements.csv")
    html = folder / "evidence" / "report.html"
    write_report(settings.db_url, html, Path(settings.evidence_dir))
    cpu = report.stats["cpu_s"] / max(1, report.summary["audited"])
    print(f"\nflags: {folder / 'flags.json'}\nreport: {html}\n"
          f"CPU {report.stats['cpu_s']:.1f} s for {report.summary['audited']} settlements "
          f"({cpu:.2f} CPU-s each, model loading included)")
    passwords = demo_accounts(settings, folder / "pharmacies.csv")
    print("\nReview UI on the demo data:\n"
          f"  .venv/bin/rxaudit serve --db {settings.db_url} --evidence-dir {settings.evidence_dir}\n"
          "  then open http://127.0.0.1:8000/login and sign in as\n"
          + "\n".join(f"    {name} / {pw}   ({what})" for name, (pw, what) in passwords.items()))
    return 0


def demo_accounts(settings, pharmacies_csv: Path) -> dict[str, tuple[str, str]]:
    """Districts from the sample's pharmacies.csv and two demo users with fresh passwords."""
    import secrets

    from sqlalchemy import select

    from database.accounts import add_user, load_pharmacies, set_password
    from database.engine import make_engine, migrate, session_factory, transaction
    from database.models import Pharmacy, User
    from rxaudit.security import Role

    engine = make_engine(settings.db_url)
    migrate(engine)
    out: dict[str, tuple[str, str]] = {}
    with transaction(session_factory(engine)) as session:
        load_pharmacies(session, path=pharmacies_csv)
        district = session.scalars(select(Pharmacy.district).order_by(Pharmacy.district)).first() or "demo"
        for name, role, districts in (("demo-supervisor", Role.SUPERVISOR, []),
                                      ("demo-inspector", Role.INSPECTOR, [district])):
            password = secrets.token_urlsafe(9)
            if session.scalar(select(User).where(User.name == name)) is None:
                add_user(session, name=name, role=role, password=password, districts=districts)
            else:
                set_password(session, name=name, password=password)
            out[name] = (password, f"{role}" + (f", district {district}" if districts else ", all districts"))
    engine.dispose()
    return out


def register(sub) -> None:
    p = sub.add_parser("audit", help="audit a settlement log against a video store")
    p.add_argument("--settlements", type=Path, required=True)
    p.add_argument("--videos", required=True, help="a folder, s3://bucket/prefix or https://...")
    p.add_argument("--cameras", type=Path)
    p.add_argument("--out", type=Path, help="write flags.json here")
    p.add_argument("--purchases", type=Path, help="purchases.csv/.xlsx (default: beside the log)")
    p.add_argument("--stock", type=Path, help="stock.csv/.xlsx, stock counts (default: beside the log)")
    p.add_argument("--encoding", help=ENCODING_HELP)
    common(p)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("batch", help="a day's settlements against the store: resumable, parallel")
    p.add_argument("--settlements", type=Path, required=True)
    p.add_argument("--videos", required=True, help="a folder, s3://bucket/prefix or https://...")
    p.add_argument("--cameras", type=Path)
    p.add_argument("--date", type=date.fromisoformat, help="only settlements of this local day")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--ray", dest="ray_address", help="'local' or a Ray cluster address")
    p.add_argument("--out", type=Path, help="write flags.json here")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--encoding", help=ENCODING_HELP)
    common(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("sample", help="write a synthetic audit bundle with expected.json")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--form", choices=("en", "zh-csv", "zh-xlsx"), default="en",
                   help="tables as rxaudit's English CSV, or Chinese headers in GB18030 CSV or .xlsx")
    p.add_argument("--stocked", action="store_true", help="counters with goods of their own: under a "
                   "glass top (cameras.yaml display_zone) and lying there before customers come")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("report", help="write the HTML report of flagged settlements")
    p.add_argument("--out", type=Path)
    common(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="sample bundle -> audit -> report")
    p.add_argument("--dir", type=Path, default=Path("demo"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--regenerate", action="store_true")
    common(p)
    p.set_defaults(func=cmd_demo)
