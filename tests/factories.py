"""Factories for test objects: sensible defaults, override what the test is about."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np

from ingest.cameras import CamerasConfig
from reconcile.context import AuditContext, CounterFootage, CounterView, RuleConfig
from rxaudit.cards import hash_card
from rxaudit.domain import Box, DetectedObject, Observation, Person, Settlement, Visit

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
KEY = b"test-key-0123456789abcdef"


def settlement(n: int = 1, *, at: datetime | None = None, seconds: float = 0.0, card: str | None = None,
               pharmacy: str = "PH1", counter: str = "C1", amount: str = "10.00", **kw: Any) -> Settlement:
    return Settlement(
        settlement_id=kw.pop("settlement_id", f"S{n}"), pharmacy_id=pharmacy, counter_id=counter,
        settled_at=(at or T0) + timedelta(seconds=seconds),
        card_hash=hash_card(card or f"CARD{n}", KEY), amount=Decimal(amount), **kw)


def person(x1: float = 100, y1: float = 100, x2: float = 200, y2: float = 300, *, score: float = 0.9,
           track_id: int | None = None, appearance: np.ndarray | None = None) -> Person:
    return Person(box=Box(x1, y1, x2, y2), score=score, keypoints=np.zeros((17, 3), np.float32),
                  track_id=track_id, appearance=appearance)


def observation(seconds: float, persons: tuple[Person, ...] = (), *, customers: tuple[int, ...] | None = None,
                pharmacy: str = "PH1", counter: str = "C1", faces=(),
                objects: tuple[DetectedObject, ...] | None = None) -> Observation:
    """``objects=None``: the counter detector did not run on this frame."""
    return Observation(pharmacy_id=pharmacy, counter_id=counter, t=T0 + timedelta(seconds=seconds),
                       persons=persons, faces=faces, frame_size=(640, 360),
                       objects=objects or (), objects_checked=objects is not None,
                       customers=tuple(range(len(persons))) if customers is None else customers)


def detected(cls: str, x: float = 100, y: float = 330, w: float = 40, h: float = 20, *,
             score: float = 0.8) -> DetectedObject:
    """An object centred at (x, y); the default centre lies on the counter top of a 640x360 frame."""
    return DetectedObject(Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2), cls, score)


def visit(start: float, end: float, *, track_id: int = 1, identity: np.ndarray | None = None,
          pharmacy: str = "PH1", counter: str = "C1", box: Box | None = None) -> Visit:
    box = box or Box(100, 100, 200, 300)
    return Visit(pharmacy_id=pharmacy, counter_id=counter, track_id=track_id,
                 start=T0 + timedelta(seconds=start), end=T0 + timedelta(seconds=end),
                 sightings=((T0 + timedelta(seconds=start), box), (T0 + timedelta(seconds=end), box)),
                 identity=identity, face_count=0 if identity is None else 4)


def covered_footage(start: float, end: float, visits: list[Visit] = (), fps: float = 2.0,
                    pharmacy: str = "PH1", counter: str = "C1", goods=None) -> CounterFootage:
    """Footage decoded every 1/fps from start to end; persons where the visits say; when ``goods``
    (seconds -> objects) is given, the counter detector ran on every frame and saw ``goods(t)``."""
    observations = []
    t = start
    while t <= end + 1e-9:
        at = T0 + timedelta(seconds=t)
        present = tuple(person(track_id=v.track_id) for v in visits if v.start <= at <= v.end)
        observations.append(observation(t, present, pharmacy=pharmacy, counter=counter,
                                        objects=None if goods is None else tuple(goods(t))))
        t += 1 / fps
    return CounterFootage(known=True, observations=tuple(observations), visits=tuple(visits))


def context(footage: dict | None = None, *, cameras: CamerasConfig | None = None,
            settlements: list[Settlement] = (), **config: Any) -> AuditContext:
    """Phase 2 context for ``settlements`` whose counters' decoded footage is ``footage``
    ({(pharmacy, counter): CounterFootage}); a counter missing from it is unknown."""
    rule_config = RuleConfig(**config)
    cameras = cameras or CamerasConfig()
    summaries = {}
    for s in settlements:
        counter = (footage or {}).get(s.counter_key, CounterFootage(known=False))
        summaries[s.settlement_id] = CounterView(rule_config, cameras, counter).summarise(s)
    return AuditContext(config=rule_config, cameras=cameras, footage=summaries)


def identity(seed: int, noise: float = 0.0, base: int | None = None) -> np.ndarray:
    """A unit-ish 128-d vector: same ``base`` -> close identities, ``noise`` apart."""
    rng = np.random.default_rng(base if base is not None else seed)
    vec = rng.normal(0, 0.09, 128).astype(np.float32)
    if noise:
        vec = vec + np.random.default_rng(seed + 1000).normal(0, noise, 128).astype(np.float32)
    return vec
