"""The thin pipeline: the only place that wires I/O (files, store, models, database) to the stages.

ingest (log, cameras, store) -> vision (decode each counter's windows once, observe) ->
reconcile (visits, rules) -> persist (database, evidence files, flags.json)
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest.cameras import CamerasConfig, load_cameras
from ingest.settlements import read_settlements
from ingest.stores import open_store, store_location
from ingest.video_store import VideoStore
from reconcile.context import AuditContext, RuleConfig, SettlementFootage
from reconcile.engine import run_rules
from rxaudit.counter_audit import CounterAuditor, Models, load_models
from rxaudit.db import repository
from rxaudit.db.engine import make_engine, migrate, session_factory, transaction
from rxaudit.domain import CheckResult, CheckStatus, RejectedRow, Settlement
from rxaudit.settings import Settings

__all__ = ["AuditReport", "Models", "audit", "load_models", "reconcile_and_save"]


@dataclass
class AuditReport:
    run_id: int
    results: list[CheckResult]
    rejected: list[RejectedRow]
    summary: dict[str, Any]
    stats: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        flags = [f.to_json() for r in self.results for f in r.flags]
        rejected = [{"source": r.source, "line": r.line, "reason": r.reason} for r in self.rejected]
        return {"flags": flags, "summary": self.summary, "rejected": rejected}


def summarise(results: list[CheckResult], rows_read: int, rejected: list[RejectedRow]) -> dict[str, Any]:
    statuses = Counter(str(r.status) for r in results)
    kinds = Counter(str(f.kind) for r in results for f in r.flags)
    return {
        "rows_read": rows_read,
        "rejected": len(rejected),
        "audited": len(results),
        "clean": statuses.get(CheckStatus.CLEAN, 0),
        "flagged": statuses.get(CheckStatus.FLAGGED, 0),
        "unverifiable": statuses.get(CheckStatus.UNVERIFIABLE, 0),
        "flags_by_kind": dict(sorted(kinds.items())),
    }


def vision_stats(counts: Counter) -> dict[str, float]:
    """What the vision stage did, for reports and the benchmark."""
    return {"frames_analysed": float(counts["frames"]), "detector_runs": float(counts["detector_runs"]),
            "face_encodings": float(counts["face_encodings"]), "video_s_decoded": float(counts["decoded_s"])}


def group_by_counter(settlements) -> dict[tuple[str, str], list[Settlement]]:
    groups: dict[tuple[str, str], list[Settlement]] = defaultdict(list)
    for s in settlements:
        groups[s.counter_key].append(s)
    return dict(sorted(groups.items()))


def reconcile_and_save(settings: Settings, factory, *, settlements: list[Settlement],
                       footage: dict[str, SettlementFootage], cameras: CamerasConfig,
                       rejected: list[RejectedRow], rows_read: int, settlements_file: str,
                       videos: str) -> tuple[int, list[CheckResult], dict[str, Any]]:
    """Phase 2: earlier identities, the rules over the whole batch, then one transaction that
    writes every outcome (idempotent on settlement id and kind)."""
    ctx = AuditContext(config=RuleConfig.from_settings(settings), cameras=cameras, footage=footage)
    with transaction(factory) as session:
        repository.purge_face_signatures(session, retention_days=settings.face_retention_days)
        if settlements:
            period = timedelta(days=settings.pooling_period_days)
            ctx.history = tuple(repository.identity_history(
                session, start=min(s.settled_at for s in settlements) - period,
                end=max(s.settled_at for s in settlements) + period,
                exclude={s.settlement_id for s in settlements}))
    results = run_rules(settlements, ctx)
    summary = summarise(results, rows_read, rejected)
    with transaction(factory) as session:
        run_id = repository.start_run(session, settlements_file=settlements_file, videos=videos)
        repository.record_rejected(session, run_id=run_id, rejected=rejected)
        for result in results:
            repository.save_result(session, run_id=run_id, result=result,
                                   keep_faces=settings.face_retention_days > 0)
        repository.finish_run(session, run_id=run_id, summary=summary)
    return run_id, results, summary


def audit(settings: Settings, *, settlements_file: Path, videos: Path | str,
          cameras_file: Path | None = None, out: Path | None = None,
          store: VideoStore | None = None, models: Models | None = None) -> AuditReport:
    """Audit a log in this process: phase 1 counter by counter, then phase 2."""
    started, cpu0 = time.perf_counter(), time.process_time()
    card_key = settings.require_card_key()
    cameras = load_cameras(cameras_file)
    log = read_settlements(Path(settlements_file), card_key, settings.item_catalogue)
    store = store or open_store(str(videos), settings)
    models = models or load_models(settings)
    engine = make_engine(settings.db_url)
    migrate(engine)
    auditor = CounterAuditor(settings, cameras, store, models, Path(settings.evidence_dir))
    footage: dict[str, SettlementFootage] = {}
    for key, group in group_by_counter(log.settlements).items():
        footage.update((f.settlement_id, f) for f in auditor.summaries(key, group))
    run_id, results, summary = reconcile_and_save(
        settings, session_factory(engine), settlements=list(log.settlements), footage=footage,
        cameras=cameras, rejected=list(log.rejected), rows_read=log.rows_read,
        settlements_file=str(settlements_file), videos=store_location(str(videos)))
    engine.dispose()
    stats = {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu0,
             **vision_stats(auditor.stats)}
    report = AuditReport(run_id, results, list(log.rejected), summary, stats)
    if out is not None:
        write_flags_json(report, Path(out))
    return report


def write_flags_json(report: AuditReport, out: Path) -> None:
    out.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
