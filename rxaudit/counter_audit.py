"""Phase 1, one counter at a time: decode the windows around its settlements once, observe, build
visits, draw keyframes, and reduce everything to one ``SettlementFootage`` per settlement.

This is the unit of parallel work (local processes or Ray): its inputs and outputs are plain data.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ingest.cameras import CamerasConfig
from ingest.video_store import VideoStore
from reconcile.context import CounterFootage, CounterView, Keyframe, RuleConfig, SettlementFootage
from reconcile.visits import build_visits
from rxaudit.domain import Observation, Settlement
from rxaudit.settings import Settings
from vision.detectors import FaceEncoder, ObjectDetector, PersonDetector
from vision.draw import draw_keyframe, labelled_boxes, save_jpeg, to_bgr
from vision.observe import ObserveOptions, observe_counter
from vision.sampler import SampledFrame, sample_window
from vision.tracking import IouTracker


@dataclass
class Models:
    persons: PersonDetector
    faces: FaceEncoder | None
    objects: ObjectDetector | None = None


def load_models(settings: Settings) -> Models:
    """Load every model now, so a missing or corrupt file fails at start with a clear error."""
    from vision.faces import DlibFaceEncoder
    from vision.objects import OnnxObjectDetector
    from vision.person import OnnxPoseDetector

    persons = OnnxPoseDetector(settings.pose_model, input_size=settings.pose_input_size,
                               min_score=settings.person_min_score, threads=settings.onnx_threads)
    objects = (OnnxObjectDetector(settings.object_model, min_score=settings.object_min_score,
                                  threads=settings.onnx_threads) if settings.detect_objects else None)
    return Models(persons=persons, faces=DlibFaceEncoder(upsample=settings.face_upsample), objects=objects)


def merge_windows(windows: list[tuple[datetime, datetime]], bridge_s: float = 1.0) -> list[tuple[datetime, datetime]]:
    """Windows closer than ``bridge_s`` become one span: the gap between two swipes is watched too,
    so one customer staying through both stays one track (what card pooling within a visit needs)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1] + timedelta(seconds=bridge_s):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def evidence_stem(settlement_id: str) -> str:
    """Evidence file names never come from user input directly: a digest of the settlement id."""
    return hashlib.sha256(settlement_id.encode()).hexdigest()[:24]


def keyframe_name(settlement_id: str) -> str:
    return f"keyframes/{evidence_stem(settlement_id)}.jpg"


def raw_frame_name(settlement_id: str) -> str:
    """The same frame without drawings: what ``rxaudit dataset export`` trains on."""
    return f"frames/{evidence_stem(settlement_id)}.jpg"


class CounterAuditor:
    def __init__(self, settings: Settings, cameras: CamerasConfig, store: VideoStore,
                 models: Models, evidence_dir: Path) -> None:
        self.settings, self.cameras, self.store, self.models = settings, cameras, store, models
        self.evidence_dir = evidence_dir
        self.config = RuleConfig.from_settings(settings)
        self.options = ObserveOptions(faces_per_track=settings.faces_per_visit,
                                      face_every_n=settings.face_every_n,
                                      face_max_attempts=settings.face_max_attempts,
                                      track_min_iou=settings.track_min_iou,
                                      track_max_gap_s=settings.track_max_gap_s,
                                      motion_threshold=settings.motion_threshold,
                                      motion_max_reuse_s=settings.motion_max_reuse_s,
                                      goods_window_s=settings.goods_window_s)
        self.stats: Counter[str] = Counter()

    def footage(self, key: tuple[str, str], settlements: list[Settlement]) -> tuple[CounterFootage, dict[str, Keyframe]]:
        pharmacy_id, counter_id = key
        if not self.store.has_counter(pharmacy_id, counter_id):
            return CounterFootage(known=False), {}
        config = self.cameras.counter(pharmacy_id, counter_id)
        segments = self.store.list_segments(pharmacy_id, counter_id)
        before = timedelta(seconds=self.settings.window_before_s)
        after = timedelta(seconds=self.settings.window_after_s)
        at = {s.settlement_id: self.cameras.camera_time(pharmacy_id, counter_id, s.settled_at)
              for s in settlements}
        spans = (merge_windows([(t - before, t + after) for t in at.values()], self.settings.bridge_gap_s)
                 if self.settings.merge_windows else [(t - before, t + after) for t in at.values()])
        observations: list[Observation] = []
        problems: list[str] = []
        keyframes: dict[str, Keyframe] = {}
        for start, end in spans:
            sample = sample_window(self.store, segments, start, end, self.settings.sample_fps,
                                   keyframes_only=self.settings.keyframes_only)
            problems.extend(p for p in sample.problems if p not in problems)
            tracker = IouTracker(min_iou=self.options.track_min_iou, max_gap_s=self.options.track_max_gap_s)
            observed = observe_counter(sample.frames, pharmacy_id=pharmacy_id, counter_id=counter_id,
                                       zone=config.zone, persons=self.models.persons,
                                       faces=self.models.faces, options=self.options, tracker=tracker,
                                       stats=self.stats, objects=self.models.objects,
                                       swipes=[t for t in at.values() if start <= t <= end])
            self.stats["frames"] += len(sample.frames)
            self.stats["decoded_s"] += sample.decoded_s
            observations.extend(observed)
            inside = [s for s in settlements if start <= at[s.settlement_id] <= end]
            keyframes.update(self._keyframes(inside, at, sample.frames, observed, config.zone))
        observations.sort(key=lambda o: o.t)
        visits = build_visits(observations, max_gap_s=self.settings.track_max_gap_s,
                              min_faces=self.settings.face_min_count,
                              max_face_spread=self.settings.face_distance_threshold * 1.5)
        return CounterFootage(True, tuple(observations), tuple(visits), tuple(problems)), keyframes

    def summaries(self, key: tuple[str, str], settlements: list[Settlement]) -> list[SettlementFootage]:
        footage, keyframes = self.footage(key, settlements)
        view = CounterView(self.config, self.cameras, footage)
        return [view.summarise(s, keyframes.get(s.settlement_id)) for s in settlements]

    def _keyframes(self, settlements: list[Settlement], at: dict[str, datetime],
                   frames: list[SampledFrame], observed: list[Observation], zone) -> dict[str, Keyframe]:
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
            if obs.objects:
                save_jpeg(self.evidence_dir / raw_frame_name(s.settlement_id), to_bgr(frame.image))
            clip = f"{frame.segment_uri}#t={frame.offset_s:.1f}"
            out[s.settlement_id] = Keyframe(rel, frame.t, clip, tuple(labelled_boxes(obs)))
        return out
