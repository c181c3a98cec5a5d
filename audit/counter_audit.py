"""Phase 1, one counter at a time: decode the windows around its settlements once, observe, build
visits, draw keyframes, and reduce everything to one ``SettlementFootage`` per settlement.

This is the unit of parallel work (local processes or Ray): its inputs and outputs are plain data.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from ingest.cameras import CamerasConfig
from ingest.video_store import VideoStore
from reconcile.context import CounterFootage, CounterView, Keyframe, RuleConfig, SettlementFootage
from reconcile.visits import build_visits
from rxaudit.domain import Observation, Settlement
from rxaudit.settings import Settings
from vision.draw import draw_keyframe, keyframe_caption, labelled_boxes, save_jpeg, to_bgr
from vision.model_set import Models, load_models  # noqa: F401 - the job's models, loaded here
from vision.observe import ObserveOptions, observe_stream
from vision.sampler import FrameStream, PixelDemand, SampledFrame, SamplingPlan, dense_intervals
from vision.tracking import IouTracker


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
                                      goods_window_s=settings.goods_window_s,
                                      far_detect_every_s=settings.far_detect_every_s,
                                      far_idle_every_s=settings.far_idle_every_s)
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
        if self.models.objects is not None:  # the counter before the customer came: what lay there
            before += timedelta(seconds=self.settings.goods_arrival_lookback_s)
        spans = (merge_windows([(t - before, t + after) for t in at.values()], self.settings.bridge_gap_s)
                 if self.settings.merge_windows else [(t - before, t + after) for t in at.values()])
        observations: list[Observation] = []
        problems: list[str] = []
        keyframes: dict[str, Keyframe] = {}
        # the person detector runs on every base frame within the clock tolerance (+ half a sampling
        # step) of a swipe: detections reused there could carry a customer who already left (a
        # reused sighting farther out lies beyond the tolerance, so it cannot decide the swipe)
        options = replace(self.options, exact_window_s=self.cameras.clock_uncertainty(
            pharmacy_id, counter_id, self.settings.presence_tolerance_s) + 0.5 / self.settings.sample_fps)
        for start, end in spans:
            swipes = [t for t in at.values() if start <= t <= end]
            plan = SamplingPlan(self.settings.sample_fps, keyframes_only=self.settings.keyframes_only,
                                dense=(dense_intervals(swipes, self.settings.dense_window_s)
                                       if self.settings.dense_window_s > 0 else ()),
                                dense_fps=self.settings.dense_fps)
            demand = PixelDemand()  # base frames whose detections are reused unseen are not decoded
            stream = FrameStream(self.store, segments, start, end, plan, demand)
            tracker = IouTracker(min_iou=self.options.track_min_iou, max_gap_s=self.options.track_max_gap_s)
            picker = KeyframePicker(self, [s for s in settlements if start <= at[s.settlement_id] <= end],
                                    at, config.zone)
            arrivals = ArrivalWatch(self.models.objects, self.stats)
            # frames are observed as they are decoded; only the keyframe candidates are kept
            for frame, observation in observe_stream(
                    _timed(stream, self.stats), pharmacy_id=pharmacy_id, counter_id=counter_id,
                    zone=config.zone, persons=self.models.persons, faces=self.models.faces,
                    options=options, tracker=tracker, stats=self.stats, objects=self.models.objects,
                    swipes=swipes, demand=demand):
                self.stats["frames"] += 1
                observations.append(observation)
                arrivals.offer(frame, observations)
                picker.offer(frame, observation)
            keyframes.update(picker.finish())
            problems.extend(p for p in stream.problems if p not in problems)
            self.stats["decoded_s"] += stream.decoded_s
        observations.sort(key=lambda o: o.t)
        visits = build_visits(observations, max_gap_s=self.settings.track_max_gap_s,
                              min_faces=self.settings.face_min_count,
                              max_face_spread=self.settings.face_distance_threshold * 1.5)
        return CounterFootage(True, tuple(observations), tuple(visits), tuple(problems)), keyframes

    def summaries(self, key: tuple[str, str], settlements: list[Settlement]) -> list[SettlementFootage]:
        footage, keyframes = self.footage(key, settlements)
        view = CounterView(self.config, self.cameras, footage)
        made = [view.summarise(s, keyframes.get(s.settlement_id)) for s in settlements]
        if footage.known:  # the customer zone as audited, for the review page's player overlay
            zone = [[float(x), float(y)] for x, y in self.cameras.counter(*key).zone]
            for f in made:
                f.seen["zone"] = zone
        return made

    def save_keyframe(self, s: Settlement, t: datetime, frame: SampledFrame, obs: Observation,
                      zone) -> Keyframe:
        c0 = time.process_time()
        caption = keyframe_caption(s.settlement_id, s.pharmacy_id, s.counter_id, t)
        rel = keyframe_name(s.settlement_id)
        save_jpeg(self.evidence_dir / rel, draw_keyframe(frame.image, obs, zone, caption))
        if obs.objects:
            save_jpeg(self.evidence_dir / raw_frame_name(s.settlement_id), to_bgr(frame.image))
        self.stats["cpu_drawing_s"] += time.process_time() - c0
        clip = f"{frame.segment_uri}#t={frame.offset_s:.1f}"
        return Keyframe(rel, frame.t, clip, tuple(labelled_boxes(obs)))


def _timed(frames: Iterable[SampledFrame], stats: Counter) -> Iterator[SampledFrame]:
    """The frames, with the CPU time spent decoding them added to ``stats["cpu_decode_s"]``."""
    it = iter(frames)
    while True:
        c0 = time.process_time()
        frame = next(it, None)
        stats["cpu_decode_s"] += time.process_time() - c0
        if frame is None:
            return
        yield frame


class ArrivalWatch:
    """The counter as each customer found it: when someone steps into the customer zone after a
    frame with nobody there, the counter detector also runs on that last customer-free frame (one
    frame held; one detector run per arrival), so ``reconcile.goods`` can tell the goods that came
    with the customer from those already lying on the counter."""

    def __init__(self, objects, stats: Counter) -> None:
        self.objects, self.stats = objects, stats
        self.empty: tuple[SampledFrame, int] | None = None  # the last customer-free frame with pixels
        self.occupied = False

    def offer(self, frame: SampledFrame, observations: list[Observation]) -> None:
        if self.objects is None:
            return
        index, obs = len(observations) - 1, observations[-1]
        if not obs.customers:
            if frame.has_pixels:
                self.empty = (frame, index)
            self.occupied = False
            return
        if not self.occupied and self.empty is not None:
            held, at = self.empty
            if not observations[at].objects_checked:
                c0 = time.process_time()
                found = tuple(self.objects.detect([held.image])[0])
                self.stats["cpu_objects_s"] += time.process_time() - c0
                self.stats["object_runs"] += 1
                observations[at] = replace(observations[at], objects=found, objects_checked=True)
        self.empty, self.occupied = None, True


class KeyframePicker:
    """Streams past the frames of one span and keeps, per settlement, only the best candidate for
    its keyframe: the base-grid frame nearest the swipe (the counter detector ran on it), else the
    nearest dense frame, within one base sampling step (frames left undecoded are no candidates).
    A candidate is drawn and saved as soon as the frames have moved past its swipe, so at most a
    few frames are ever held."""

    def __init__(self, auditor: CounterAuditor, settlements: list[Settlement], at: dict[str, datetime],
                 zone) -> None:
        self.auditor, self.at, self.zone = auditor, at, zone
        self.max_gap = timedelta(seconds=1.0 / auditor.settings.sample_fps)
        self.pending = sorted(settlements, key=lambda s: at[s.settlement_id])
        self.best: dict[str, tuple[tuple[bool, timedelta], SampledFrame, Observation]] = {}
        self.done: dict[str, Keyframe] = {}

    def offer(self, frame: SampledFrame, obs: Observation) -> None:
        while self.pending and frame.t - self.at[self.pending[0].settlement_id] > self.max_gap:
            self._save(self.pending.pop(0))
        if not frame.has_pixels:
            return
        for s in self.pending:
            t = self.at[s.settlement_id]
            if t - frame.t > self.max_gap:
                break
            rank = (frame.dense, abs(frame.t - t))
            held = self.best.get(s.settlement_id)
            if held is None or rank < held[0]:
                self.best[s.settlement_id] = (rank, frame, obs)

    def _save(self, s: Settlement) -> None:
        held = self.best.pop(s.settlement_id, None)
        if held is not None:
            _, frame, obs = held
            self.done[s.settlement_id] = self.auditor.save_keyframe(s, self.at[s.settlement_id], frame,
                                                                    obs, self.zone)

    def finish(self) -> dict[str, Keyframe]:
        for s in self.pending:
            self._save(s)
        self.pending = []
        return self.done
