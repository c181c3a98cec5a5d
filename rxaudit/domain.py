"""The domain model every stage speaks: ingest -> vision -> reconcile -> persistence/api.

Frozen dataclasses validated in ``__post_init__``; copies via ``dataclasses.replace``. Vendor formats
(PyAV frames, onnxruntime outputs, dlib rectangles) never appear here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np


class FlagKind(enum.StrEnum):
    NO_CUSTOMER = "no_customer"
    CARD_POOLING = "card_pooling"
    GOODS_MISMATCH = "goods_mismatch"
    UNVERIFIABLE = "unverifiable"
    OFF_HOURS = "off_hours"
    BURST = "burst"
    DUPLICATE_SETTLEMENT = "duplicate_settlement"
    STOCK_SHORTFALL = "stock_shortfall"  # more sold than counted + received (进销存)
    TRACE_CODE_REUSE = "trace_code_reuse"  # one drug traceability code sold twice
    CARD_CONFLICT = "card_conflict"  # one card at two places closer in time than travel allows
    # goods on the counter that might be a swap, but the evidence is not decisive (a coin-flip
    # between drug and non-covered, too few frames, too low a score): for review, not an accusation
    GOODS_UNCLEAR = "goods_unclear"
    # the swipe fell inside a span when the stream was up but the picture was black, covered, frozen or
    # turned away (recorded by `rxaudit record`): a finding, not a missing clip
    CAMERA_TAMPER = "camera_tamper"

    @property
    def accuses(self) -> bool:
        """Whether a flag of this kind accuses the pharmacy (else it only asks a reviewer to look)."""
        return self not in REVIEW_ONLY_KINDS


REVIEW_ONLY_KINDS = frozenset({FlagKind.GOODS_UNCLEAR})


class CheckStatus(enum.StrEnum):
    CLEAN = "clean"
    FLAGGED = "flagged"
    UNVERIFIABLE = "unverifiable"


class ItemCategory(enum.StrEnum):
    """What the item catalogue says a billed line is."""

    COVERED = "covered"  # a drug the insurance fund pays for
    OTHER = "other"  # non-covered goods (food, cosmetics, daily goods), billed as such
    UNKNOWN = "unknown"  # not in the catalogue (or no catalogue given)


class ReviewStatus(enum.StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True, slots=True)
class Box:
    """Pixel box in frame coordinates (x1, y1) top-left, (x2, y2) bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if not (self.x2 >= self.x1 and self.y2 >= self.y1):
            raise ValueError(f"box corners out of order: {self}")

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    @property
    def area(self) -> float:
        return (self.x2 - self.x1) * (self.y2 - self.y1)

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def contains(self, x: float, y: float) -> bool:
        return self.x1 <= x <= self.x2 and self.y1 <= y <= self.y2

    def as_list(self) -> list[float]:
        return [round(self.x1, 1), round(self.y1, 1), round(self.x2, 1), round(self.y2, 1)]


@dataclass(frozen=True, slots=True)
class SettlementItem:
    item_code: str
    item_name: str
    quantity: Decimal
    unit_price: Decimal
    category: ItemCategory = ItemCategory.UNKNOWN
    trace_codes: tuple[str, ...] = ()  # 药品追溯码 of the units sold on this line (20 digits each)

    def __post_init__(self) -> None:
        for code in self.trace_codes:
            if len(code) != 20 or not code.isdigit():
                raise ValueError(f"trace code {code!r} is not 20 digits")


@dataclass(frozen=True, slots=True)
class Settlement:
    """One insurance settlement (a card swipe). ``card_hash`` is the keyed hash, never the card id."""

    settlement_id: str
    pharmacy_id: str
    counter_id: str
    settled_at: datetime
    card_hash: str
    amount: Decimal
    items: tuple[SettlementItem, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    line: int | None = None

    def __post_init__(self) -> None:
        for name in ("settlement_id", "pharmacy_id", "counter_id", "card_hash"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        _require_aware("settled_at", self.settled_at)
        if self.amount < 0:
            raise ValueError(f"amount must not be negative, got {self.amount}")

    @property
    def counter_key(self) -> tuple[str, str]:
        return (self.pharmacy_id, self.counter_id)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A log row that could not be used, with its 1-based line number in the file."""

    source: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Segment:
    """One recorded video file of a counter camera; times are camera-clock times."""

    pharmacy_id: str
    counter_id: str
    start: datetime
    uri: str
    duration_s: float | None = None

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        if self.duration_s is not None and self.duration_s < 0:
            raise ValueError("duration_s must not be negative")

    @property
    def end(self) -> datetime | None:
        if self.duration_s is None:
            return None
        return self.start + timedelta(seconds=self.duration_s)


@dataclass(frozen=True, slots=True, eq=False)
class Person:
    box: Box
    score: float
    keypoints: np.ndarray  # (17, 3): x, y, confidence in COCO order
    track_id: int | None = None
    appearance: np.ndarray | None = None  # normalised colour histogram of the upper body

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score out of [0, 1]: {self.score}")
        if self.keypoints.shape != (17, 3):
            raise ValueError(f"keypoints must be (17, 3), got {self.keypoints.shape}")

    def wrists(self, min_conf: float = 0.5) -> list[tuple[float, float]]:
        """Visible wrist points (COCO keypoints 9 and 10)."""
        return [(float(x), float(y)) for x, y, c in self.keypoints[[9, 10]] if c >= min_conf]


@dataclass(frozen=True, slots=True, eq=False)
class Face:
    box: Box
    encoding: np.ndarray | None = None  # 128-d dlib embedding when computed
    track_id: int | None = None  # the person track the face was found on

    def __post_init__(self) -> None:
        if self.encoding is not None and self.encoding.shape != (128,):
            raise ValueError(f"face encoding must be (128,), got {self.encoding.shape}")


COUNTER_CLASSES = ("card", "phone", "drug", "non_covered")  # the counter detector's classes, in its order


@dataclass(frozen=True, slots=True)
class DetectedObject:
    """A card, phone, drug or non-covered item found by the counter detector.

    ``runner_up`` / ``runner_up_score``: the second-best class of the same box and its calibrated
    score, where the detector scores every class per box (a drug box read as non-covered 0.85 with
    drug 0.6 beside it is a disagreement, not a decision)."""

    box: Box
    cls: str
    score: float
    runner_up: str | None = None
    runner_up_score: float = 0.0

    def __post_init__(self) -> None:
        if not self.cls:
            raise ValueError("a detected object needs a class")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score out of [0, 1]: {self.score}")
        if not 0.0 <= self.runner_up_score <= 1.0:
            raise ValueError(f"runner-up score out of [0, 1]: {self.runner_up_score}")
        if self.runner_up == self.cls:
            raise ValueError(f"the runner-up class must differ from the class ({self.cls})")

    def score_of(self, cls: str) -> float:
        """This box's score for ``cls``: its own, the runner-up's, else 0 (not known)."""
        if cls == self.cls:
            return self.score
        return self.runner_up_score if cls == self.runner_up else 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cls": self.cls, "score": round(self.score, 3), "box": self.box.as_list()}
        if self.runner_up is not None:
            out["runner_up"] = {"cls": self.runner_up, "score": round(self.runner_up_score, 3)}
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Observation:
    """What was seen in one sampled frame of a counter camera (camera-clock time ``t``)."""

    pharmacy_id: str
    counter_id: str
    t: datetime
    persons: tuple[Person, ...] = ()
    faces: tuple[Face, ...] = ()
    objects: tuple[DetectedObject, ...] = ()
    objects_checked: bool = False  # the counter detector ran on this frame (objects may be empty)
    frame_size: tuple[int, int] = (0, 0)  # width, height
    customers: tuple[int, ...] = ()  # indices into persons that stand in the customer zone

    def __post_init__(self) -> None:
        _require_aware("t", self.t)
        if any(not 0 <= i < len(self.persons) for i in self.customers):
            raise ValueError("customers index out of range")


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which camera-clock intervals of a counter were decoded, and why others were not."""

    decoded: tuple[tuple[datetime, datetime], ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Visit:
    """One continuous presence of one person (one track) in a counter's customer zone."""

    pharmacy_id: str
    counter_id: str
    track_id: int
    start: datetime
    end: datetime
    sightings: tuple[tuple[datetime, Box], ...]  # (time, box) in time order
    identity: np.ndarray | None = None  # mean face encoding over the visit, when faces were seen
    face_count: int = 0

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end < self.start:
            raise ValueError("visit ends before it starts")
        if not self.sightings:
            raise ValueError("a visit needs at least one sighting")

    def box_at(self, t: datetime) -> Box:
        """Where the person stood at the sighting nearest to ``t``."""
        return min(self.sightings, key=lambda tb: abs(tb[0] - t))[1]

    def covers(self, t: datetime, slack: timedelta = timedelta(0)) -> bool:
        return self.start - slack <= t <= self.end + slack


@dataclass(frozen=True, slots=True)
class Evidence:
    """What supports a flag: a time, what was seen, and (when drawn) a keyframe file."""

    t: datetime
    seen: dict[str, Any]
    keyframe: str | None = None  # path relative to the evidence directory
    clip: str | None = None  # segment URI + offset, e.g. "P1/C1/20261120T100000+0800.mp4#t=13.0"
    boxes: tuple[tuple[str, Box], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.t.isoformat(),
            "keyframe": self.keyframe,
            "clip": self.clip,
            "boxes": [{"label": label, "box": box.as_list()} for label, box in self.boxes],
            "seen": self.seen,
        }


@dataclass(frozen=True, slots=True)
class Flag:
    settlement_id: str
    kind: FlagKind
    score: float
    reason: str
    evidence: tuple[Evidence, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score out of [0, 1]: {self.score}")
        if not self.reason:
            raise ValueError("a flag needs a reason an inspector can read")

    def to_json(self) -> dict[str, Any]:
        return {
            "settlement_id": self.settlement_id,
            "kind": str(self.kind),
            "score": round(self.score, 3),
            "reason": self.reason,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True, eq=False)
class CheckResult:
    """The outcome for one settlement: its flags (possibly none) and what was seen."""

    settlement: Settlement
    status: CheckStatus
    flags: tuple[Flag, ...]
    seen: dict[str, Any]
    identity: np.ndarray | None = None


def settlement_to_json(s: Settlement) -> dict[str, Any]:
    """Plain data for worker processes and Ray (the card is already a keyed hash)."""
    return {"settlement_id": s.settlement_id, "pharmacy_id": s.pharmacy_id, "counter_id": s.counter_id,
            "settled_at": s.settled_at.isoformat(), "card_hash": s.card_hash, "amount": str(s.amount),
            "items": [[i.item_code, i.item_name, str(i.quantity), str(i.unit_price), str(i.category),
                       list(i.trace_codes)] for i in s.items],
            "extra": dict(s.extra), "line": s.line}


def settlement_from_json(data: dict[str, Any]) -> Settlement:
    return Settlement(
        settlement_id=data["settlement_id"], pharmacy_id=data["pharmacy_id"],
        counter_id=data["counter_id"], settled_at=datetime.fromisoformat(data["settled_at"]),
        card_hash=data["card_hash"], amount=Decimal(data["amount"]),
        items=tuple(SettlementItem(c, n, Decimal(q), Decimal(p), ItemCategory(k),
                                   tuple(codes[0]) if codes else ())
                    for c, n, q, p, k, *codes in data["items"]),
        extra=dict(data["extra"]), line=data["line"])
