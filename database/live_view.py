"""A pharmacy's live view (``/live/{pharmacy_id}``): the pharmacy if the principal may see it, its counters
(recorded cameras and counters that received live settlements) and its newest live settlements with
the flags written for them. Keyword-only reads over a Session; card hashes never leave this module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from database.models import CameraGapRow, CameraHealthRow, FlagRow, LiveSettlement, Pharmacy, SettlementRow
from rxaudit.security import Principal

SETTLEMENTS_MAX = 200  # newest live settlements one answer holds
COUNTERS_MAX = 64  # counters of one pharmacy shown


@dataclass(frozen=True)
class PharmacyRef:
    pharmacy_id: str
    name: str | None
    district: str | None


@dataclass(frozen=True)
class FlagRef:
    id: int
    kind: str
    review_status: str


@dataclass(frozen=True)
class LiveRow:
    settlement_id: str
    counter_id: str
    settled_at: datetime
    amount: Decimal
    state: str
    outcome: str | None
    received_at: datetime
    due_at: datetime
    done_at: datetime | None
    flags: tuple[FlagRef, ...]


def pharmacy(session: Session, *, principal: Principal, pharmacy_id: str) -> PharmacyRef | None:
    """The pharmacy when the principal may see it and rxaudit knows it (registry, a recorded camera, a
    live or audited settlement), else None: a pharmacy of another district reads as one that does not exist."""
    row = session.get(Pharmacy, pharmacy_id)
    district = row.district if row is not None else None
    if not principal.sees(district):
        return None
    if row is None and not any(session.scalar(select(column).where(column == pharmacy_id).limit(1))
                               for column in (CameraHealthRow.pharmacy_id, LiveSettlement.pharmacy_id,
                                              SettlementRow.pharmacy_id)):
        return None
    return PharmacyRef(pharmacy_id, row.name if row is not None else None, district)


def counters(session: Session, *, pharmacy_id: str, limit: int = COUNTERS_MAX) -> list[str]:
    """The pharmacy's counters: those recorded and those live settlements came from, sorted."""
    recorded = set(session.scalars(select(CameraHealthRow.counter_id).where(
        CameraHealthRow.pharmacy_id == pharmacy_id).limit(limit)))
    settled = set(session.scalars(select(LiveSettlement.counter_id).where(
        LiveSettlement.pharmacy_id == pharmacy_id).distinct().limit(limit)))
    return sorted(recorded | settled)[:limit]


def settlements(session: Session, *, pharmacy_id: str, counter_id: str | None = None,
                limit: int = SETTLEMENTS_MAX) -> list[LiveRow]:
    """The newest live settlements of a pharmacy (of one counter), newest swipe first, with their flags."""
    query = select(LiveSettlement).where(LiveSettlement.pharmacy_id == pharmacy_id)
    if counter_id is not None:
        query = query.where(LiveSettlement.counter_id == counter_id)
    rows = list(session.scalars(query.order_by(LiveSettlement.settled_at.desc(),
                                               LiveSettlement.settlement_id).limit(min(limit, SETTLEMENTS_MAX))))
    flags: dict[str, list[FlagRef]] = {}
    if rows:
        for f in session.scalars(select(FlagRow).where(
                FlagRow.settlement_id.in_([r.settlement_id for r in rows])).order_by(FlagRow.id)):
            flags.setdefault(f.settlement_id, []).append(FlagRef(f.id, f.kind, f.review_status))
    return [LiveRow(r.settlement_id, r.counter_id, r.settled_at, r.amount, r.state, r.outcome, r.received_at,
                    r.due_at, r.done_at, tuple(flags.get(r.settlement_id, ()))) for r in rows]


@dataclass(frozen=True)
class CameraTile:
    counter_id: str
    state: str
    since: datetime
    last_frame_at: datetime | None
    fps: float | None
    detail: str | None
    gap_since: datetime | None  # the start of the gap in recording still open, if any


def cameras(session: Session, *, pharmacy_id: str, limit: int = COUNTERS_MAX) -> list[CameraTile]:
    """The health of the pharmacy's recorded counters (two queries, whatever the city's size)."""
    rows = list(session.scalars(select(CameraHealthRow).where(CameraHealthRow.pharmacy_id == pharmacy_id)
                                .order_by(CameraHealthRow.counter_id).limit(limit)))
    gaps = dict(session.execute(select(CameraGapRow.counter_id, CameraGapRow.start).where(
        CameraGapRow.pharmacy_id == pharmacy_id, CameraGapRow.end.is_(None))).all())
    return [CameraTile(h.counter_id, h.state, h.state_since, h.last_frame_at, h.fps, h.detail,
                       gaps.get(h.counter_id)) for h in rows]
