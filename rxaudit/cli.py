"""The ``rxaudit`` command line. Errors from the exception tree become one line and an exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from collections.abc import Sequence
from pathlib import Path

from rxaudit.errors import EXIT_CODES, InputError, RxauditError, lookup


def settings_from_args(args: argparse.Namespace):
    from rxaudit.cli_checks import check_db_url
    from rxaudit.settings import load_settings

    settings = load_settings(getattr(args, "config", None), db_url=getattr(args, "db", None),
                             evidence_dir=getattr(args, "evidence_dir", None),
                             input_encoding=getattr(args, "encoding", None))
    check_db_url(settings.db_url)
    return settings


def print_summary(report, log: Path | None = None) -> None:
    from rxaudit.cli_checks import rows_line

    summary = report.summary
    rows = [("rows read", summary["rows_read"]), ("rejected", summary["rejected"]),
            ("audited", summary["audited"]), ("  clean", summary["clean"]),
            ("  flagged", summary["flagged"]), ("  unverifiable", summary["unverifiable"])]
    rows += [(f"flag {kind}", count) for kind, count in summary["flags_by_kind"].items()]
    rows += [(f"rejected in {source}", count) for source, count in summary.get("rejected_records", {}).items()]
    width = max(len(label) for label, _ in rows) + 2
    for label, count in rows:
        print(f"{label:<{width}}{count:>6}")
    if log is not None:
        print(rows_line(summary, report.rejected, log))
    for row in report.rejected:
        print(f"rejected {row.source} line {row.line}: {row.reason}", file=sys.stderr)
    if without := summary.get("flags_without_district"):
        print(f"warning: {without} flags are at pharmacies without a district, which no inspector sees: "
              "give them one in pharmacies.csv beside the log or with `rxaudit pharmacies load`", file=sys.stderr)
    for district, n in summary.get("flags_in_uninspected_districts", {}).items():
        print(f"warning: {n} flags are in district {district!r}, which no active inspector covers "
              "(`rxaudit user add ... --district`)", file=sys.stderr)


def cmd_audit(args: argparse.Namespace) -> int:
    from rxaudit.cli_checks import check_output_file
    from rxaudit.pipeline import audit

    settings = settings_from_args(args)
    check_output_file(args.out)
    report = audit(settings, settlements_file=args.settlements, videos=args.videos,
                   cameras_file=args.cameras, out=args.out, purchases_file=args.purchases,
                   stock_file=args.stock)
    print_summary(report, args.settlements)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from rxaudit.batch import run_batch
    from rxaudit.cli_checks import check_output_file

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

    expected = write_bundle(args.out, args.seed)
    if args.form != "en":
        from sample_footage.exports import export_bundle

        export_bundle(args.out, args.form)
    counts = {k: len(v) for k, v in expected.items() if isinstance(v, list)}
    print(f"wrote {args.out} (seed {args.seed}): {json.dumps(counts)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from rxaudit.report import write_report

    settings = settings_from_args(args)
    out = args.out or Path(settings.evidence_dir) / "report.html"
    n = write_report(settings.db_url, out, Path(settings.evidence_dir))
    print(f"report: {out} ({n} flagged or unverifiable settlements)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """sample -> audit -> report, in one folder."""
    from rxaudit.pipeline import audit
    from rxaudit.report import write_report
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

    from rxaudit.db.accounts import add_user, load_pharmacies, set_password
    from rxaudit.db.engine import make_engine, migrate, session_factory, transaction
    from rxaudit.db.models import Pharmacy, User
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


def cmd_bench(args: argparse.Namespace) -> int:
    from rxaudit.bench import run_bench

    settings_from_args(args).require_card_key()
    scales = tuple(int(x) for x in args.scale.split(","))
    result = run_bench(settlements_file=args.settlements, videos=args.videos,
                       cameras_file=args.cameras, scales=scales)
    for name in ("rxaudit", "naive"):
        r = result[name]
        print(f"{name:<8} {r['cpu_s_per_settlement']:>8.3f} CPU-s/settlement {r['settlements_per_s']:>8.2f} "
              f"settlements/s  peak RSS {r['peak_rss_mb']:.0f} MB")
    print(f"ratio (naive / rxaudit CPU-s): {result['ratio']}x; same flags: {result['same_flags']}")
    for name in ("rxaudit", "naive"):
        stages = result["details"][name]["cpu_split_per_settlement"]
        print(f"CPU-s/settlement by stage ({name}): " + ", ".join(f"{k} {v:.3f}" for k, v in stages.items()))
    for name in ("rxaudit", "naive"):
        print(f"flags ({name}): " + ", ".join(f"{sid}:{kind}" for sid, kind in result["flags"][name]))
    for scale, m in result.get("memory", {}).items():
        print(f"memory {scale}: {m['settlements']} settlements, peak RSS {m['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from vision.calibration import calibrate_faces

    result = calibrate_faces(args.footage)
    print(json.dumps(result, indent=2))
    return 0


def _session(args: argparse.Namespace):
    from rxaudit.db.engine import make_engine, migrate, session_factory, transaction

    engine = make_engine(settings_from_args(args).db_url)
    migrate(engine)
    return transaction(session_factory(engine))


def cmd_serve(args: argparse.Namespace) -> int:
    from api.app import create_app
    from api.server import serve

    settings = settings_from_args(args)
    print(f"rxaudit review UI: http://{args.host}:{args.port}/login  "
          "(API: /api/v1, its OpenAPI document: /api/v1/openapi.json)")
    serve(create_app(settings), host=args.host, port=args.port)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    import getpass
    import secrets

    from rxaudit.db.accounts import add_user
    from rxaudit.security import Role, check_name

    if sys.stdin.isatty() and not args.generate:
        password = getpass.getpass("password (empty: generate one): ")
    elif not args.generate:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = ""
    generated = not password
    password = password or secrets.token_urlsafe(12)
    try:
        for value, what in [(args.name, "name"), *((d, "--district") for d in args.district or [])]:
            check_name(value, what)
        with _session(args) as session:
            add_user(session, name=args.name, role=Role(args.role), password=password,
                     districts=args.district or [])
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    print(f"user {args.name} ({args.role}) added" + (f"; password: {password}" if generated else ""))
    return 0


def cmd_apikey_create(args: argparse.Namespace) -> int:
    from rxaudit.db.accounts import create_api_key
    from rxaudit.security import check_name

    try:
        for value, what in [(args.name, "--name"), *((d, "--district") for d in args.district or [])]:
            check_name(value, what)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    with _session(args) as session:
        row, key = create_api_key(session, name=args.name, districts=args.district or [])
        key_id = row.id
    scope = ", ".join(args.district) if args.district else "all districts"
    print(f"API key {key_id} '{args.name}' ({scope}); shown once, store it now:\n{key}")
    return 0


def cmd_apikey_revoke(args: argparse.Namespace) -> int:
    from rxaudit.db.accounts import revoke_api_key

    with _session(args) as session:
        revoke_api_key(session, key_id=args.id)
    print(f"API key {args.id} revoked")
    return 0


def cmd_pharmacies_load(args: argparse.Namespace) -> int:
    from rxaudit.db.accounts import load_pharmacies

    encoding = settings_from_args(args).input_encoding
    with _session(args) as session:
        loaded, problems = load_pharmacies(session, path=args.file, encoding=encoding)
    for problem in problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    print(f"{loaded} pharmacies loaded, {len(problems)} rows rejected")
    return 0


ENCODING_HELP = "of the input files: auto (UTF-8 with or without BOM, else GB18030), utf-8, gb18030, ..."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rxaudit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", type=Path, help="settings YAML (keys as in rxaudit.settings)")
        p.add_argument("--db", help="database URL (sqlite:///file.db or postgresql://...)")
        p.add_argument("--evidence-dir", dest="evidence_dir", type=Path)

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

    p = sub.add_parser("bench", help="rxaudit vs a naive baseline: CPU-s, settlements/s, peak RSS")
    p.add_argument("--settlements", type=Path, required=True)
    p.add_argument("--videos", required=True)
    p.add_argument("--cameras", type=Path)
    p.add_argument("--scale", default="1", help="e.g. 1,10: peak memory for 1x and 10x the log")
    p.add_argument("--json", type=Path)
    common(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("serve", help="the review UI and the wall API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    common(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("user", help="manage users").add_subparsers(dest="user_cmd", required=True)
    q = p.add_parser("add", help="add a user (password from stdin, or generated and printed)")
    q.add_argument("name")
    q.add_argument("--role", choices=["inspector", "supervisor", "admin"], required=True)
    q.add_argument("--district", action="append")
    q.add_argument("--generate", action="store_true", help="generate the password, print it")
    common(q)
    q.set_defaults(func=cmd_user_add)

    p = sub.add_parser("apikey", help="manage API keys").add_subparsers(dest="key_cmd", required=True)
    q = p.add_parser("create", help="create a read-only key (printed once)")
    q.add_argument("--name", required=True)
    q.add_argument("--district", action="append")
    common(q)
    q.set_defaults(func=cmd_apikey_create)
    q = p.add_parser("revoke", help="revoke a key by id")
    q.add_argument("id", type=int)
    common(q)
    q.set_defaults(func=cmd_apikey_revoke)

    p = sub.add_parser("pharmacies", help="pharmacy registry").add_subparsers(dest="ph_cmd", required=True)
    q = p.add_parser("load", help="load pharmacies.csv (pharmacy_id, name, district)")
    q.add_argument("file", type=Path)
    q.add_argument("--encoding", help=ENCODING_HELP)
    common(q)
    q.set_defaults(func=cmd_pharmacies_load)

    p = sub.add_parser("calibrate-faces", help="face distances on real footage, per visit")
    p.add_argument("--footage", type=Path, default=Path("../shared/footage"))
    p.set_defaults(func=cmd_calibrate)

    from rxaudit.cli_models import register

    register(sub, common)
    from rxaudit import bench_log

    bench_log.register(sub)
    from rxaudit import bench_records

    bench_records.register(sub)
    from rxaudit import bench_sse

    bench_sse.register(sub)
    from rxaudit import cli_clocks

    cli_clocks.register(sub, common)
    from rxaudit import bench_memory

    bench_memory.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RxauditError as exc:
        print(f"rxaudit: error: {exc}", file=sys.stderr)
        return lookup(EXIT_CODES, exc, 1)


if __name__ == "__main__":
    raise SystemExit(main())
