"""The thin pipeline: the only place that wires I/O (files, store, models, database) to the stages.

ingest (log, cameras, store) -> vision (decode each counter's windows once, observe) ->
reconcile (visits, rules) -> persist (database, evidence files, flags.json)
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest.cameras import CamerasConfig, load_cameras
from ingest.records import read_records
from ingest.settlements import IngestOptions, read_settlements
from ingest.stores import open_store, store_location
from ingest.video_store import VideoStore
from reconcile import clock_health
from reconcile.context import AuditContext, RuleConfig, SettlementFootage
from reconcile.engine import iter_results
from reconcile.rules import card_conflict
from audit.counter_audit import CounterAuditor, Models, load_models
from audit import footage_index, persist
from reconcile.conflicts import Conflict, conflict_ids
from database import records as records_db
from database import accounts, aggregates, repository
from database import cameras as cameras_db
from database import conflicts as conflicts_db
from database.engine import make_engine, migrate, session_factory, transaction
from rxaudit.domain import CheckResult, RejectedRow, Settlement
from rxaudit.records import Records, SoldCodes
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


def vision_stats(counts: Counter) -> dict[str, float]:
    """What the vision stage did, for reports and the benchmark."""
    return {"frames_analysed": float(counts["frames"]), "detector_runs": float(counts["detector_runs"]),
            "face_encodings": float(counts["face_encodings"]), "video_s_decoded": float(counts["decoded_s"]),
            "dense_frames": float(counts["dense_frames"]), "dense_observed": float(counts["dense_observed"]),
            "object_runs": float(counts["object_runs"]),
            # CPU seconds per stage (decode, person, faces, objects, drawing): the benchmark's split
            **{key: float(value) for key, value in counts.items() if key.startswith("cpu_")}}


def group_by_counter(settlements) -> dict[tuple[str, str], list[Settlement]]:
    groups: dict[tuple[str, str], list[Settlement]] = defaultdict(list)
    for s in settlements:
        groups[s.counter_key].append(s)
    return dict(sorted(groups.items()))


def reconcile_and_save(settings: Settings, factory, *, settlements: list[Settlement],
                       footage: dict[str, SettlementFootage], cameras: CamerasConfig,
                       rejected: list[RejectedRow], rows_read: int, settlements_file: str,
                       videos: str, records: Records | None = None, keep_results: bool = True,
                       flags_out: Path | None = None, conflicts: Sequence[Conflict] = (),
                       ) -> tuple[int, list[CheckResult], dict[str, Any]]:
    """Phase 2: earlier identities, the rules over the whole batch, every outcome written
    (idempotent on settlement id and kind) in bulk, a pharmacy chunk at a time (``audit.persist``).
    ``records``: purchases, stock counts and pharmacy locations read with the log (earlier
    traceability codes come from the db). ``keep_results``: return every result (else none: a big
    run reads them from the database). ``flags_out``: write flags.json as the chunks are saved.
    ``conflicts``: rows left out by :func:`screen_conflicts`, rejected, kept for admins and counted."""
    records = records or Records()
    rejected.extend(c.rejected() for c in conflicts)  # in place: the caller's report lists them too
    cameras = footage_index.cached_cameras(cameras)
    ctx = AuditContext(config=RuleConfig.from_settings(settings), cameras=cameras, footage=footage)
    with transaction(factory) as session:
        aggregates.ensure_timezone(session, settings.display_timezone)  # counts in the days shown
        _, refused = accounts.register_pharmacies(  # new pharmacies get their district before any flag
            session, entries=records.pharmacies, source=records.pharmacies_file)
        rejected.extend(refused)
        repository.purge_face_signatures(session, retention_days=settings.face_retention_days)
        if settlements:
            period = timedelta(days=settings.pooling_period_days)
            history = repository.identity_history(
                session, start=min(s.settled_at for s in settlements) - period,
                end=max(s.settled_at for s in settlements) + period, exclude=set())
            if history:  # (a set of a million ids only when there are earlier faces to sift)
                batch = {s.settlement_id for s in settlements}
                history = [r for r in history if r.settlement_id not in batch]
            ctx.history = tuple(history)
        ctx.records = records_db.load_records(session, settlements=settlements, purchases=records.purchases,
                                              stock_counts=records.stock_counts, file_locations=records.locations,
                                              sold_codes=records.sold_codes)
        ctx.records = replace(ctx.records, earlier_cards=records_db.earlier_card_sales(
            session, settlements=settlements, horizon_s=card_conflict.horizon(ctx.config, ctx.records.locations)))
        ctx.camera_log = cameras_db.camera_log(session, windows=_camera_windows(settlements, ctx))
    with transaction(factory) as session:
        run_id = repository.start_run(session, settlements_file=settlements_file, videos=videos)
    tally, kept, clocks = persist.Tally(), [], {}
    writer = persist.FlagsJson(flags_out) if flags_out is not None else None
    options = clock_health.ClockOptions.from_settings(settings)
    session, pending, late_conflicts = factory(), 0, []
    try:
        session.begin()
        persist.tune_for_bulk(session)
        counts = persist.bulk_counts(session, settings.display_timezone, len(settlements))
        verified = footage.verified_ids() if isinstance(footage, footage_index.FootageIndex) else None
        for chunk in persist.pharmacy_chunks(iter_results(persist.audit_order(settlements), ctx, verified),
                                             ahead=persist.made_ahead_for(session)):
            # a chunk holds whole pharmacies, so every counter-day's clock is judged on all its swipes
            chunk, health = _clock_review(chunk, footage, cameras, options)
            clocks.update(health)
            saved, refused, late = persist.save_chunk(  # one refused row never aborts the run
                session, run_id=run_id, results=chunk, keep_faces=settings.face_retention_days > 0,
                source=Path(settlements_file).name)
            rejected.extend(refused)  # in place: the caller's report lists them too
            late_conflicts.extend(late)  # stored by another audit since this one screened its log
            tally.add(saved)
            if keep_results:
                kept.extend(saved)
            if writer is not None:
                writer.add(saved)
            pending += len(chunk)
            if pending >= persist.COMMIT_EVERY:
                persist.commit_and_begin(session, counts)
                pending = 0
        summary = tally.summary(rows_read, rejected, Path(settlements_file).name)
        if late_conflicts:  # none of their lines' codes is this audit's either
            settlements = _without(settlements, records.sold_codes, conflict_ids(late_conflicts))
        conflicts = [*conflicts, *late_conflicts]
        if conflicts:  # (among the rejected)
            summary["conflicts"] = len(conflicts)
        if ctx.camera_log.truncated:  # the recorder's log was read up to its bound
            summary["camera_log_truncated"] = cameras_db.CAMERA_LOG_MAX
        if suspect := clock_health.suspect_summary(clocks):  # no_customer flags there are marked and lowered
            summary["clock_suspect"] = suspect
        # flags visible to no inspector: said by the CLI (and the wall and queue for those without a district)
        summary.update(tally.unseen_flags(accounts.pharmacy_districts(session), accounts.inspected_districts(session)))
        repository.record_rejected(session, run_id=run_id, rejected=rejected)
        conflicts_db.record(session, run_id=run_id, conflicts=conflicts)
        records_db.save_records(session, settlements=settlements, records=ctx.records, big=counts.big)
        records_db.flag_earlier_conflicts(session, flagged=tally.earlier_conflicts)
        repository.finish_run(session, run_id=run_id, summary=summary)
        counts.restore()
        session.commit()
    except BaseException:
        session.rollback()
        if writer is not None:
            writer.abort()
        raise
    finally:
        session.close()
    if writer is not None:
        writer.close(summary, rejected)
    if len(settlements) >= persist.ANALYZE_AFTER:
        persist.analyze(factory)
    return run_id, kept, summary


def _camera_windows(settlements: Sequence[Settlement], ctx: AuditContext) -> dict:
    """Per counter, the camera times its swipes span, widened by the clock tolerance and a minute: the
    recorder's tamper spans and gaps are read for these windows only."""
    first: dict[tuple[str, str], Settlement] = {}  # per counter, its earliest and latest swipe
    last: dict[tuple[str, str], Settlement] = {}
    for s in settlements:
        key = (s.pharmacy_id, s.counter_id)
        early, late = first.get(key), last.get(key)
        if early is None:
            first[key] = last[key] = s
        elif s.settled_at < early.settled_at:
            first[key] = s
        elif s.settled_at > late.settled_at:
            last[key] = s
    windows: dict[tuple[str, str], tuple] = {}
    for key, early in first.items():  # (a camera's clock is offset per counter: it keeps the order)
        pad = ctx.clock_tolerance(early) + timedelta(minutes=1)
        windows[key] = (ctx.camera_time(early) - pad, ctx.camera_time(last[key]) + pad)
    return windows


def screen_conflicts(factory, settlements: Sequence[Settlement], *,
                     source: str) -> tuple[list[Settlement], list[Conflict]]:
    """(to audit, conflicts): a settlement whose id is stored with other content is left out before
    any footage is decoded (``reconcile.conflicts``), so neither its keyframes nor its outcome replace
    the stored settlement's; pass the conflicts on to :func:`reconcile_and_save`."""
    with factory() as session:
        return conflicts_db.find(session, settlements=settlements, source=source)


def _without(settlements: list[Settlement], sold_codes: SoldCodes | None, ids: set[str]) -> list[Settlement]:
    """``settlements`` less ``ids`` (their sold codes dropped too)."""
    if sold_codes is not None:
        sold_codes.drop(ids)
    return [s for s in settlements if s.settlement_id not in ids]


def _clock_review(chunk: list[CheckResult], footage, cameras: CamerasConfig, options):
    """Clock health of the chunk's counter-days. Counters the store does not have decoded nothing,
    so they cannot be judged (their estimate is always 'insufficient'): they are left out."""
    if not isinstance(footage, footage_index.FootageIndex):
        return clock_health.review(chunk, cameras, options)
    judged = [r for r in chunk if not footage.is_unknown(r.settlement.settlement_id)]
    if not judged:
        return chunk, {}
    reviewed, health = clock_health.review(judged, cameras, options)
    by_id = {r.settlement.settlement_id: r for r in reviewed}
    return [by_id.get(r.settlement.settlement_id, r) for r in chunk], health


def audit(settings: Settings, *, settlements_file: Path, videos: Path | str,
          cameras_file: Path | None = None, out: Path | None = None,
          store: VideoStore | None = None, models: Models | None = None,
          purchases_file: Path | None = None, stock_file: Path | None = None) -> AuditReport:
    """Audit a log in this process: phase 1 counter by counter, then phase 2. Purchases, stock
    counts and pharmacy coordinates: the files given, else those beside the log."""
    started, cpu0 = time.perf_counter(), time.process_time()
    card_key = settings.require_card_key()
    cameras = footage_index.cached_cameras(load_cameras(cameras_file, settings.input_encoding))
    options = IngestOptions.from_settings(settings)
    sold_codes = SoldCodes()  # the lines' traceability codes, compact (a city's month: millions)
    with persist.gc_paused():
        log = read_settlements(Path(settlements_file), card_key, settings.item_catalogue, options=options,
                               sold_codes=sold_codes)
        records, bad_records = read_records(Path(settlements_file), purchases=purchases_file, stock=stock_file,
                                            options=options)
    records = replace(records, sold_codes=sold_codes)
    rejected = [*log.rejected, *bad_records]
    store = store or open_store(str(videos), settings)
    engine = make_engine(settings.db_url)
    migrate(engine)
    factory = session_factory(engine)
    settlements, conflicts = screen_conflicts(factory, log.settlements, source=Path(settlements_file).name)
    sold_codes.drop(conflict_ids(conflicts))  # their lines' codes are not this audit's
    auditor: CounterAuditor | None = None  # the models load (~250 MB) only when footage is there
    footage = footage_index.FootageIndex(RuleConfig.from_settings(settings), cameras)
    for key, group in group_by_counter(settlements).items():
        if store.has_counter(*key):
            if auditor is None:
                auditor = CounterAuditor(settings, cameras, store, models or load_models(settings),
                                         Path(settings.evidence_dir))
            footage.add(auditor.summaries(key, group))
        else:  # unverifiable without decoding anything: summaries made when the rules ask
            footage.add_unknown(key, group)
    with persist.frozen_heap():  # the batch read above is walked by no collection from here on
        run_id, results, summary = reconcile_and_save(
            settings, factory, settlements=settlements, footage=footage,
            cameras=cameras, rejected=rejected, rows_read=log.rows_read,
            settlements_file=str(settlements_file), videos=store_location(str(videos)), records=records,
            keep_results=len(settlements) <= persist.KEEP_RESULTS_MAX, flags_out=out, conflicts=conflicts)
    engine.dispose()
    stats = {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu0,
             **vision_stats(auditor.stats if auditor is not None else Counter())}
    return AuditReport(run_id, results, rejected, summary, stats)


def write_flags_json(report: AuditReport, out: Path) -> None:
    out.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
