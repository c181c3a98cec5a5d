"""What every command group shares: the options naming the settings, database and evidence folder,
the settings they give, the summary an audit prints, and a session on the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ENCODING_HELP = "of the input files: auto (UTF-8 with or without BOM, else GB18030), utf-8, gb18030, ..."


def common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="settings YAML (keys as in rxaudit.settings)")
    p.add_argument("--db", help="database URL (sqlite:///file.db or postgresql://...)")
    p.add_argument("--evidence-dir", dest="evidence_dir", type=Path)


def settings_from_args(args: argparse.Namespace):
    from cli.checks import check_db_url
    from rxaudit.settings import load_settings

    settings = load_settings(getattr(args, "config", None), db_url=getattr(args, "db", None),
                             evidence_dir=getattr(args, "evidence_dir", None),
                             input_encoding=getattr(args, "encoding", None))
    check_db_url(settings.db_url)
    return settings


def print_summary(report, log: Path | None = None) -> None:
    from cli.checks import rows_line

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


def db_session(args: argparse.Namespace):
    from database.engine import make_engine, migrate, session_factory, transaction

    engine = make_engine(settings_from_args(args).db_url)
    migrate(engine)
    return transaction(session_factory(engine))
