"""What rules may look at.

Phase 1 (per counter, parallel): ``CounterView`` turns a counter's decoded footage into one
``SettlementFootage`` per settlement: coverage, the visit at the moment of payment, what was seen,
the keyframe. These are small and serialisable (workers, Ray, the batch table).
Phase 2 (whole batch): ``AuditContext`` holds those summaries plus earlier identities; rules read it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np

from ingest.cameras import CamerasConfig
from reconcile.camera_log import CameraLog
from reconcile.clock_health import PROFILE_KEY, presence_profile
from reconcile.goods import GoodsOptions, summarise_goods
from rxaudit.domain import Box, Evidence, Observation, Settlement, Visit
from rxaudit.records import Records
from rxaudit.settings import Settings
from vision.zone import wrists_in_zone


@dataclass(frozen=True)
class RuleConfig:
    presence_tolerance_s: float = 1.0  # clock uncertainty where cameras.yaml says none
    sample_fps: float = 2.0
    min_coverage: float = 0.8
    pooling_min_cards: int = 3
    pooling_period_days: int = 30
    burst_min_cards: int = 6
    burst_window_s: float = 300.0
    duplicate_window_s: float = 120.0
    face_distance_threshold: float = 0.45
    goods_window_s: float = 1.5
    goods_min_score: float = 0.8  # calibrated confidence (vision.goods_calibration)
    goods_min_frames: int = 2
    goods_excess_margin: int = 2
    goods_min_share: float = 0.5
    goods_rival_min_score: float = 0.5
    goods_review_min_score: float = 0.5
    goods_still_iou: float = 0.5
    goods_arrival_lookback_s: float = 12.0
    travel_speed_kmh: float = 60.0
    card_conflict_min_gap_s: float = 600.0
    card_conflict_counter_gap_s: float = 60.0
    clock_max_offset_s: float = 120.0  # how far around each swipe its clock profile reaches

    @classmethod
    def from_settings(cls, settings: Settings) -> RuleConfig:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True, eq=False)
class CounterFootage:
    """Everything decoded for one counter in this audit."""

    known: bool
    observations: tuple[Observation, ...] = ()
    visits: tuple[Visit, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class IdentityRecord:
    """A settlement's customer identity (mean face encoding of the visit at payment)."""

    settlement_id: str
    pharmacy_id: str
    card_hash: str
    settled_at: datetime
    identity: np.ndarray


@dataclass(frozen=True)
class Keyframe:
    path: str  # relative to the evidence directory
    t: datetime
    clip: str | None
    boxes: tuple[tuple[str, Box], ...]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "t": self.t.isoformat(), "clip": self.clip,
                "boxes": [[label, box.as_list()] for label, box in self.boxes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Keyframe:
        return cls(data["path"], datetime.fromisoformat(data["t"]), data["clip"],
                   tuple((label, Box(*box)) for label, box in data["boxes"]))


def _visit_json(v: Visit, t: datetime) -> dict[str, Any]:
    return {"pharmacy_id": v.pharmacy_id, "counter_id": v.counter_id, "track_id": v.track_id,
            "start": v.start.isoformat(), "end": v.end.isoformat(), "box": v.box_at(t).as_list(),
            "identity": None if v.identity is None else [float(x) for x in v.identity],
            "face_count": v.face_count}


def _visit_from(data: dict[str, Any], t: datetime) -> Visit:
    identity = data["identity"]
    return Visit(data["pharmacy_id"], data["counter_id"], data["track_id"],
                 datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]),
                 sightings=((t, Box(*data["box"])),),
                 identity=None if identity is None else np.asarray(identity, dtype=np.float32),
                 face_count=data["face_count"])


@dataclass(frozen=True, eq=False)
class SettlementFootage:
    """What the cameras established about one settlement; all a rule needs from video."""

    settlement_id: str
    camera_time: datetime
    unverifiable: str | None
    visit: Visit | None
    seen: dict[str, Any]
    keyframe: Keyframe | None = None

    def to_json(self) -> dict[str, Any]:
        return {"settlement_id": self.settlement_id, "camera_time": self.camera_time.isoformat(),
                "unverifiable": self.unverifiable,
                "visit": None if self.visit is None else _visit_json(self.visit, self.camera_time),
                "seen": self.seen, "keyframe": None if self.keyframe is None else self.keyframe.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SettlementFootage:
        t = datetime.fromisoformat(data["camera_time"])
        return cls(data["settlement_id"], t, data["unverifiable"],
                   None if data["visit"] is None else _visit_from(data["visit"], t), data["seen"],
                   None if data["keyframe"] is None else Keyframe.from_json(data["keyframe"]))


@dataclass(frozen=True, eq=False)
class CounterView:
    """Phase 1 over one counter's footage: coverage, visit at payment, what was seen."""

    config: RuleConfig
    cameras: CamerasConfig
    footage: CounterFootage

    def tolerance(self, s: Settlement) -> timedelta:
        """The camera's clock uncertainty (per counter in cameras.yaml, else presence_tolerance_s):
        a customer this close to the swipe counts as present. Sampling gaps are not its job: the
        frames around a swipe are decoded densely."""
        return timedelta(seconds=self.cameras.clock_uncertainty(s.pharmacy_id, s.counter_id,
                                                                self.config.presence_tolerance_s))

    @cached_property
    def goods_options(self) -> GoodsOptions:
        return GoodsOptions.from_config(self.config)  # the eval (training.drug_photos) reads the same

    @cached_property
    def _times(self) -> list[datetime]:
        return [o.t for o in self.footage.observations]  # in time order

    def observations_near(self, t: datetime, within: timedelta) -> list[Observation]:
        lo, hi = bisect_left(self._times, t - within), bisect_right(self._times, t + within)
        return list(self.footage.observations[lo:hi])

    def frame_rate(self) -> float:
        """Frames per second actually decoded: the sampling rate, or less when the source has
        fewer frames (asking for every frame of a 10 fps camera gives 10 per second)."""
        times = [o.t.timestamp() for o in self.footage.observations]
        gaps = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
        if not gaps:
            return self.config.sample_fps
        return min(self.config.sample_fps, 1.0 / gaps[len(gaps) // 2])

    def unverifiable_reason(self, s: Settlement, t: datetime) -> str | None:
        if not self.footage.known:
            return f"no video is recorded for counter {s.pharmacy_id}/{s.counter_id} (unknown counter)"
        rate = self.frame_rate()
        # coverage is judged over at least two sampling steps either side, whatever the tolerance
        span_s = max(self.tolerance(s).total_seconds(), 2.0 / rate)
        expected = int(2 * span_s * rate) + 1
        got = len(self.observations_near(t, timedelta(seconds=span_s)))
        if got >= self.config.min_coverage * expected:
            return None
        around = timedelta(seconds=span_s)
        span = f"{(t - around):%H:%M:%S}-{(t + around):%H:%M:%S}"
        what = "no footage" if got == 0 else f"footage for only {got} of {expected} sampled frames"
        reason = f"{what} around the swipe ({span} camera time)"
        if self.footage.problems:
            reason += "; " + "; ".join(self.footage.problems)
        return reason

    def visit_at(self, t: datetime, tolerance: timedelta) -> Visit | None:
        """The customer at the moment of payment: the visit covering it (nearest the counter when
        several people stand there), else the nearest visit within the clock tolerance."""
        covering = [v for v in self.footage.visits if v.covers(t)]
        if covering:  # nearest the counter: the largest box at that moment
            return max(covering, key=lambda v: v.box_at(t).area)
        near = [v for v in self.footage.visits if v.covers(t, tolerance)]
        if not near:
            return None
        return min(near, key=lambda v: min(abs(v.start - t), abs(v.end - t)))

    def seen_around(self, s: Settlement, t: datetime, visit: Visit | None) -> dict[str, Any]:
        tolerance = self.tolerance(s)
        near = self.observations_near(t, tolerance)
        counter = self.cameras.counter(s.pharmacy_id, s.counter_id)
        zone = counter.zone
        seen: dict[str, Any] = {
            "camera_time": t.isoformat(),
            "presence_tolerance_s": tolerance.total_seconds(),
            "frames_checked": len(near),
            "max_persons": max((len(o.persons) for o in near), default=0),
            "max_customers": max((len(o.customers) for o in near), default=0),
            "customer_wrists_in_zone": sum(wrists_in_zone(o.persons[i], zone, o.frame_size)
                                           for o in near for i in o.customers),
            "faces": sum(len(o.faces) for o in near),
        }
        goods = summarise_goods(self.footage.observations, t, window_s=self.config.goods_window_s,
                                min_score=self.config.goods_min_score,
                                min_frames=self.config.goods_min_frames, zone=zone,
                                goods_zone=counter.goods_zone, display_zone=counter.display_zone,
                                arrival=None if visit is None else visit.start, options=self.goods_options)
        if goods is not None:
            seen["goods"] = goods
        if visit is not None:
            seen["visit"] = {"track_id": visit.track_id, "start": visit.start.isoformat(),
                             "end": visit.end.isoformat(), "faces": visit.face_count,
                             "identity": visit.identity is not None}
        # customers and decoded footage around the swipe, for clock health (reconcile/clock_health.py)
        seen[PROFILE_KEY] = presence_profile(t, self.footage.visits, self.footage.observations,
                                             bound_s=self.config.clock_max_offset_s,
                                             offset_s=(t - s.settled_at).total_seconds())
        return seen

    def summarise(self, s: Settlement, keyframe: Keyframe | None = None) -> SettlementFootage:
        t = self.cameras.camera_time(s.pharmacy_id, s.counter_id, s.settled_at)
        reason = self.unverifiable_reason(s, t)
        visit = self.visit_at(t, self.tolerance(s)) if reason is None else None
        return SettlementFootage(s.settlement_id, t, reason, visit, self.seen_around(s, t, visit), keyframe)


@dataclass(eq=False)
class AuditContext:
    """Phase 2: the batch's settlement summaries, earlier identities and the rule parameters."""

    config: RuleConfig
    cameras: CamerasConfig
    footage: dict[str, SettlementFootage] = field(default_factory=dict)
    history: tuple[IdentityRecord, ...] = ()
    records: Records = field(default_factory=Records)  # purchases, stock, locations, earlier codes
    camera_log: CameraLog = field(default_factory=CameraLog)  # the recorder's tamper spans and gaps

    def _of(self, s: Settlement) -> SettlementFootage | None:
        return self.footage.get(s.settlement_id)

    def camera_time(self, s: Settlement) -> datetime:
        return self.cameras.camera_time(s.pharmacy_id, s.counter_id, s.settled_at)

    def clock_tolerance(self, s: Settlement) -> timedelta:
        """How far from the swipe the camera's clock may put it (cameras.yaml, else the default)."""
        return timedelta(seconds=self.cameras.clock_uncertainty(s.pharmacy_id, s.counter_id,
                                                                self.config.presence_tolerance_s))

    def _gaps(self, s: Settlement):
        if not self.camera_log:
            return []
        # the footage judged around a swipe reaches at least two sampling steps (1 s at 2 fps) either side
        within = max(self.clock_tolerance(s), timedelta(seconds=2.0 / max(self.config.sample_fps, 0.1)))
        return self.camera_log.gaps_at(s.counter_key, self.camera_time(s), within)

    def unverifiable_reason(self, s: Settlement) -> str | None:
        """Why the footage cannot judge this swipe; a recording gap the recorder wrote down is named."""
        f = self._of(s)
        reason = "no footage was examined for this settlement" if f is None else f.unverifiable
        if reason is None or not (gaps := self._gaps(s)):
            return reason
        tz = self.camera_time(s).tzinfo
        named = "; ".join(f"camera not recording {g.describe(tz)} ({g.reason})" for g in gaps)
        return f"footage not recorded: {named}; {reason}"

    def visit_at(self, s: Settlement) -> Visit | None:
        f = self._of(s)
        return None if f is None else f.visit

    def seen(self, s: Settlement) -> dict[str, Any]:
        f = self._of(s)
        seen = {} if f is None else dict(f.seen)
        if (f is None or f.unverifiable is not None) and (gaps := self._gaps(s)):
            seen["camera_gaps"] = [g.to_json(self.camera_time(s).tzinfo) for g in gaps]
        return seen

    def evidence(self, s: Settlement, seen: dict[str, Any]) -> Evidence:
        f = self._of(s)
        frame = None if f is None else f.keyframe
        if frame is None:
            return Evidence(t=self.camera_time(s), seen=seen)
        return Evidence(t=frame.t, seen=seen, keyframe=frame.path, clip=frame.clip, boxes=frame.boxes)
