"""A static HTML report of flagged settlements with their keyframes, read back from the database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select

from rxaudit.bounds import clipped_json
from database.engine import make_engine, migrate, session_factory
from database.models import AuditRun, CheckRow, FlagRow, SettlementRow


def load_flagged(db_url: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    engine = make_engine(db_url)
    migrate(engine)
    with session_factory(engine)() as session:
        rows = session.execute(
            select(SettlementRow, CheckRow).join(CheckRow)
            .where(CheckRow.status != "clean").order_by(SettlementRow.settled_at)).all()
        flags: dict[str, list[FlagRow]] = {}
        for flag in session.scalars(select(FlagRow).order_by(FlagRow.score.desc())):
            flags.setdefault(flag.settlement_id, []).append(flag)
        run = session.scalars(select(AuditRun).order_by(AuditRun.id.desc()).limit(1)).first()
        cases = [{"settlement": s, "check": c, "flags": flags.get(s.settlement_id, [])}
                 for s, c in rows]
        summary = dict(run.summary) if run is not None else {}
    engine.dispose()
    return cases, summary


def write_report(db_url: str, out: Path, evidence_dir: Path) -> int:
    """Write ``out``; keyframe links are relative to it. Returns the number of cases listed."""
    cases, summary = load_flagged(db_url)
    env = Environment(loader=PackageLoader("audit", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["clipped"] = clipped_json  # reasons and lists stored before the caps, shown within them
    rel = Path(os.path.relpath(evidence_dir.resolve(), out.resolve().parent))
    html = env.get_template("report.html.j2").render(
        cases=cases, summary=summary, evidence=rel.as_posix())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return len(cases)
