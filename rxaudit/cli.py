"""The ``rxaudit`` command line. Errors from the exception tree become one line and an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rxaudit.errors import EXIT_CODES, RxauditError, lookup


def _settings(args: argparse.Namespace):
    from rxaudit.settings import load_settings

    return load_settings(getattr(args, "config", None), db_url=getattr(args, "db", None),
                         evidence_dir=getattr(args, "evidence_dir", None))


def print_summary(report) -> None:
    summary = report.summary
    width = 14
    print(f"{'rows read':<{width}} {summary['rows_read']:>6}")
    print(f"{'rejected':<{width}} {summary['rejected']:>6}")
    print(f"{'audited':<{width}} {summary['audited']:>6}")
    print(f"{'  clean':<{width}} {summary['clean']:>6}")
    print(f"{'  flagged':<{width}} {summary['flagged']:>6}")
    print(f"{'  unverifiable':<{width}} {summary['unverifiable']:>6}")
    for kind, count in summary["flags_by_kind"].items():
        print(f"{'flag ' + kind:<{width + 8}} {count:>6}")
    for row in report.rejected:
        print(f"rejected {row.source} line {row.line}: {row.reason}", file=sys.stderr)


def cmd_audit(args: argparse.Namespace) -> int:
    from rxaudit.pipeline import audit

    report = audit(_settings(args), settlements_file=args.settlements, videos=args.videos,
                   cameras_file=args.cameras, out=args.out)
    print_summary(report)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from sample_footage.generator import write_bundle

    expected = write_bundle(args.out, args.seed)
    counts = {k: len(v) for k, v in expected.items() if isinstance(v, list)}
    print(f"wrote {args.out} (seed {args.seed}): {json.dumps(counts)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from rxaudit.report import write_report

    settings = _settings(args)
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
    print_summary(report)
    html = folder / "evidence" / "report.html"
    write_report(settings.db_url, html, Path(settings.evidence_dir))
    cpu = report.stats["cpu_s"] / max(1, report.summary["audited"])
    print(f"\nflags: {folder / 'flags.json'}\nreport: {html}\n"
          f"CPU {report.stats['cpu_s']:.1f} s for {report.summary['audited']} settlements "
          f"({cpu:.2f} CPU-s each, model loading included)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from rxaudit.bench import run_bench

    result = run_bench(_settings(args), settlements_file=args.settlements, videos=args.videos,
                       cameras_file=args.cameras, repeat=args.repeat)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from vision.calibration import calibrate_faces

    result = calibrate_faces(args.footage)
    print(json.dumps(result, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rxaudit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", type=Path, help="settings YAML (keys as in rxaudit.settings)")
        p.add_argument("--db", help="database URL (sqlite:///file.db or postgresql://...)")
        p.add_argument("--evidence-dir", dest="evidence_dir", type=Path)

    p = sub.add_parser("audit", help="audit a settlement log against a video store")
    p.add_argument("--settlements", type=Path, required=True)
    p.add_argument("--videos", type=Path, required=True)
    p.add_argument("--cameras", type=Path)
    p.add_argument("--out", type=Path, help="write flags.json here")
    common(p)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("sample", help="write a synthetic audit bundle with expected.json")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=1)
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

    p = sub.add_parser("bench", help="CPU-s per settlement, settlements/s, peak RSS")
    p.add_argument("--settlements", type=Path, required=True)
    p.add_argument("--videos", type=Path, required=True)
    p.add_argument("--cameras", type=Path)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--json", type=Path)
    common(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("calibrate-faces", help="face distances on real footage, per visit")
    p.add_argument("--footage", type=Path, default=Path("../shared/footage"))
    p.set_defaults(func=cmd_calibrate)
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
