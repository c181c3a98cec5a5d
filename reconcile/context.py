"""What rules may look at: the rule parameters, each counter's footage (visits, observations,
coverage) and earlier identities. Built by the pipeline; rules only read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ingest.cameras import CamerasConfig
from rxaudit.domain import Box, Evidence, Observation, Settlement, Visit
from rxaudit.settings import Settings


@dataclass(frozen=True)
class RuleConfig:
    presence_tolerance_s: float = 4.0
    sample_fps: float = 2.0
    min_coverage: float = 0.8
    pooling_min_cards: int = 3
    pooling_period_days: int = 30
    burst_min_cards: int = 6
    burst_window_s: float = 300.0
    duplicate_window_s: float = 120.0
    face_distance_threshold: float = 0.45

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


@dataclass(eq=False)
class AuditContext:
    config: RuleConfig
    cameras: CamerasConfig
    footage: dict[tuple[str, str], CounterFootage] = field(default_factory=dict)
    history: tuple[IdentityRecord, ...] = ()
    keyframes: dict[str, Keyframe] = field(default_factory=dict)

    @property
    def tolerance(self) -> timedelta:
        return timedelta(seconds=self.config.presence_tolerance_s)

    def camera_time(self, s: Settlement) -> datetime:
        return self.cameras.camera_time(s.pharmacy_id, s.counter_id, s.settled_at)

    def observations_near(self, s: Settlement) -> list[Observation]:
        footage = self.footage.get(s.counter_key)
        if footage is None:
            return []
        t = self.camera_time(s)
        return [o for o in footage.observations if abs(o.t - t) <= self.tolerance]

    def unverifiable_reason(self, s: Settlement) -> str | None:
        footage = self.footage.get(s.counter_key)
        if footage is None or not footage.known:
            return f"no video is recorded for counter {s.pharmacy_id}/{s.counter_id} (unknown counter)"
        t = self.camera_time(s)
        expected = int(2 * self.config.presence_tolerance_s * self.config.sample_fps) + 1
        got = len(self.observations_near(s))
        if got >= self.config.min_coverage * expected:
            return None
        span = f"{(t - self.tolerance):%H:%M:%S}-{(t + self.tolerance):%H:%M:%S}"
        what = "no footage" if got == 0 else f"footage for only {got} of {expected} sampled frames"
        reason = f"{what} around the swipe ({span} camera time)"
        if footage.problems:
            reason += "; " + "; ".join(footage.problems)
        return reason

    def visit_at(self, s: Settlement) -> Visit | None:
        """The customer at the moment of payment: the visit covering it (nearest the counter when
        several people stand there), else the nearest visit within the tolerance."""
        footage = self.footage.get(s.counter_key)
        if footage is None:
            return None
        t = self.camera_time(s)
        covering = [v for v in footage.visits if v.covers(t)]
        if covering:  # nearest the counter: the largest box at that moment
            return max(covering, key=lambda v: v.box_at(t).area)
        near = [v for v in footage.visits if v.covers(t, self.tolerance)]
        if not near:
            return None
        return min(near, key=lambda v: min(abs(v.start - t), abs(v.end - t)))

    def evidence(self, s: Settlement, seen: dict[str, Any]) -> Evidence:
        frame = self.keyframes.get(s.settlement_id)
        if frame is None:
            return Evidence(t=self.camera_time(s), seen=seen)
        return Evidence(t=frame.t, seen=seen, keyframe=frame.path, clip=frame.clip, boxes=frame.boxes)
