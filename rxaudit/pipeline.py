"""The thin pipeline: the only place that wires I/O (files, store, models, database) to the stages.

ingest (log, cameras, store) -> vision (decode each counter's windows once, observe) ->
reconcile (visits, rules) -> persist (database, evidence files, flags.json)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.cameras import CamerasConfig, load_cameras
from ingest.settlements import read_settlements
from ingest.video_store import LocalVideoStore, VideoStore
from reconcile.context import AuditContext, CounterFootage, Keyframe, RuleConfig
from reconcile.engine import run_rules
from reconcile.visits import build_visits
from rxaudit.db import repository
from rxaudit.db.engine import make_engine, migrate, session_factory, transaction
from rxaudit.domain import CheckResult, CheckStatus, Observation, RejectedRow, Settlement
from rxaudit.settings import Settings
from vision.detectors import FaceEncoder, PersonDetector
from vision.draw import draw_keyframe, labelled_boxes, save_jpeg
from vision.observe import ObserveOptions, observe_counter
from vision.sampler import SampledFrame, sample_window
from vision.tracking import IouTracker


@dataclass
class Models:
    persons: PersonDetector
    faces: FaceEncoder | None


def load_models(settings: Settings) -> Models:
    """Load every model now, so a missing or corrupt file fails at start with a clear error."""
    from vision.faces import DlibFaceEncoder
    from vision.person import OnnxPoseDetector

    persons = OnnxPoseDetector(settings.pose_model, input_size=settings.pose_input_size,
                               min_score=settings.person_min_score, threads=settings.onnx_threads)
    return Models(persons=persons, faces=DlibFaceEncoder(upsample=settings.face_upsample))


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


def merge_windows(windows: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1] + timedelta(seconds=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def keyframe_name(settlement_id: str) -> str:
    """Evidence file names never come from user input directly."""
    return "keyframes/" + hashlib.sha256(settlement_id.encode()).hexdigest()[:24] + ".jpg"


class CounterAuditor:
    """Decodes one counter's windows once and turns them into footage + keyframes."""

    def __init__(self, settings: Settings, cameras: CamerasConfig, store: VideoStore,
                 models: Models, evidence_dir: Path) -> None:
        self.settings, self.cameras, self.store, self.models = settings, cameras, store, models
        self.evidence_dir = evidence_dir
        self.options = ObserveOptions(faces_per_track=settings.faces_per_visit,
                                      track_min_iou=settings.track_min_iou,
                                      track_max_gap_s=settings.track_max_gap_s)
        self.stats: Counter[str] = Counter()

    def audit(self, key: tuple[str, str], settlements: list[Settlement]) -> tuple[CounterFootage, dict[str, Keyframe]]:
        pharmacy_id, counter_id = key
        if not self.store.has_counter(pharmacy_id, counter_id):
            return CounterFootage(known=False), {}
        config = self.cameras.counter(pharmacy_id, counter_id)
        segments = self.store.list_segments(pharmacy_id, counter_id)
        before = timedelta(seconds=self.settings.window_before_s)
        after = timedelta(seconds=self.settings.window_after_s)
        at = {s.settlement_id: self.cameras.camera_time(pharmacy_id, counter_id, s.settled_at)
              for s in settlements}
        spans = merge_windows([(t - before, t + after) for t in at.values()])
        tracker = IouTracker(min_iou=self.options.track_min_iou, max_gap_s=self.options.track_max_gap_s)
        observations: list[Observation] = []
        problems: list[str] = []
        keyframes: dict[str, Keyframe] = {}
        for start, end in spans:
            sample = sample_window(self.store, segments, start, end, self.settings.sample_fps)
            problems.extend(p for p in sample.problems if p not in problems)
            self.stats["frames"] += len(sample.frames)
            self.stats["decoded_s"] += sample.decoded_s
            observed = observe_counter(sample.frames, pharmacy_id=pharmacy_id, counter_id=counter_id,
                                       zone=config.zone, persons=self.models.persons,
                                       faces=self.models.faces, options=self.options, tracker=tracker)
            observations.extend(observed)
            inside = [s for s in settlements if start <= at[s.settlement_id] <= end]
            keyframes.update(self._keyframes(inside, at, sample.frames, observed, config.zone))
        visits = build_visits(observations, max_gap_s=self.settings.track_max_gap_s,
                              min_faces=self.settings.face_min_count,
                              max_face_spread=self.settings.face_distance_threshold * 1.5)
        footage = CounterFootage(known=True, observations=tuple(observations), visits=tuple(visits),
                                 problems=tuple(problems))
        return footage, keyframes

    def _keyframes(self, settlements: list[Settlement], at: dict[str, datetime],
                   frames: list[SampledFrame], observed: list[Observation],
                   zone) -> dict[str, Keyframe]:
        out: dict[str, Keyframe] = {}
        if not frames:
            return out
        max_gap = timedelta(seconds=1.0 / self.settings.sample_fps)
        for s in settlements:
            t = at[s.settlement_id]
            k = min(range(len(frames)), key=lambda i: abs(frames[i].t - t))
            if abs(frames[k].t - t) > max_gap:
                continue
            frame, obs = frames[k], observed[k]
            caption = f"{s.settlement_id} {s.pharmacy_id}/{s.counter_id} swipe {t:%H:%M:%S} (camera)"
            rel = keyframe_name(s.settlement_id)
            save_jpeg(self.evidence_dir / rel, draw_keyframe(frame.image, obs, zone, caption))
            clip = f"{frame.segment_uri}#t={frame.offset_s:.1f}"
            out[s.settlement_id] = Keyframe(rel, frame.t, clip, tuple(labelled_boxes(obs)))
        return out


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


def audit(settings: Settings, *, settlements_file: Path, videos: Path | str,
          cameras_file: Path | None = None, out: Path | None = None,
          store: VideoStore | None = None, models: Models | None = None) -> AuditReport:
    started, cpu0 = time.perf_counter(), time.process_time()
    card_key = settings.require_card_key()
    cameras = load_cameras(cameras_file)
    log = read_settlements(Path(settlements_file), card_key)
    store = store or LocalVideoStore(Path(videos))
    models = models or load_models(settings)
    engine = make_engine(settings.db_url)
    migrate(engine)
    factory = session_factory(engine)
    evidence_dir = Path(settings.evidence_dir)

    groups: dict[tuple[str, str], list[Settlement]] = defaultdict(list)
    for s in log.settlements:
        groups[s.counter_key].append(s)
    auditor = CounterAuditor(settings, cameras, store, models, evidence_dir)
    ctx = AuditContext(config=RuleConfig.from_settings(settings), cameras=cameras)
    for key, group in sorted(groups.items()):
        footage, keyframes = auditor.audit(key, group)
        ctx.footage[key] = footage
        ctx.keyframes.update(keyframes)

    with transaction(factory) as session:
        repository.purge_face_signatures(session, retention_days=settings.face_retention_days)
        if log.settlements:
            period = timedelta(days=settings.pooling_period_days)
            ctx.history = tuple(repository.identity_history(
                session, start=min(s.settled_at for s in log.settlements) - period,
                end=max(s.settled_at for s in log.settlements) + period,
                exclude={s.settlement_id for s in log.settlements}))
    results = run_rules(log.settlements, ctx)
    rejected = list(log.rejected)
    summary = summarise(results, log.rows_read, rejected)
    with transaction(factory) as session:
        run_id = repository.start_run(session, settlements_file=str(settlements_file),
                                      videos=str(videos))
        repository.record_rejected(session, run_id=run_id, rejected=rejected)
        for result in results:
            repository.save_result(session, run_id=run_id, result=result,
                                   keep_faces=settings.face_retention_days > 0)
        repository.finish_run(session, run_id=run_id, summary=summary)
    engine.dispose()
    stats = {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu0,
             "frames_analysed": float(auditor.stats["frames"]),
             "video_s_decoded": float(auditor.stats["decoded_s"])}
    report = AuditReport(run_id, results, rejected, summary, stats)
    if out is not None:
        Path(out).write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False),
                             encoding="utf-8")
    return report
