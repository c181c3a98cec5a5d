"""Response schemas of the live view's API: the backlog (``GET /api/v1/live/status``) and a pharmacy's
live settlements, counters and camera tiles (``GET /api/v1/live/pharmacies/{pharmacy_id}``). Times in the
display zone; card hashes are never part of an answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import local
from database.live_status import LiveStatus
from database.live_view import CameraTile, LiveRow, PharmacyRef


def _opt(value: datetime | None, tz: ZoneInfo | None) -> datetime | None:
    return None if value is None else local(value, tz)


class CounterDelayOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pharmacy_id: str
    counter_id: str
    district: str | None
    not_done: int = Field(description="live settlements of this counter not done yet")
    oldest_due_at: datetime
    delay_s: float = Field(description="now - due_at of its oldest row not done (0 while not due yet)")


class LiveStatusOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: datetime
    pending: int
    claimed: int
    oldest_due_at: datetime | None
    oldest_delay_s: float | None = Field(description="now - the oldest due_at not done (0 while not due)")
    done_last_hour: int
    p50_delay_s: float | None = Field(description="median of done_at - due_at over the last hour's done "
                                                  "rows (the newest 5000); None when none was done")
    counters: list[CounterDelayOut] = Field(description="counters with rows not done, longest delay first")
    counters_total: int

    @classmethod
    def of(cls, s: LiveStatus, tz: ZoneInfo | None) -> LiveStatusOut:
        r = lambda v: None if v is None else round(v, 1)  # noqa: E731
        return cls(now=local(s.now, tz), pending=s.pending, claimed=s.claimed,
                   oldest_due_at=_opt(s.oldest_due_at, tz), oldest_delay_s=r(s.oldest_delay_s),
                   done_last_hour=s.done_last_hour, p50_delay_s=r(s.p50_delay_s),
                   counters=[CounterDelayOut(pharmacy_id=c.pharmacy_id, counter_id=c.counter_id, district=c.district,
                                             not_done=c.not_done, oldest_due_at=local(c.oldest_due_at, tz),
                                             delay_s=round(c.delay_s, 1)) for c in s.counters],
                   counters_total=s.counters_total)


class LiveFlagOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    kind: str
    review_status: str


class LiveSettlementOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settlement_id: str
    counter_id: str
    settled_at: datetime
    amount: str
    state: str = Field(description="pending | claimed | done")
    outcome: str | None = Field(description="clean | flagged | unverifiable once done")
    received_at: datetime
    due_at: datetime
    done_at: datetime | None
    flags: list[LiveFlagOut]

    @classmethod
    def of(cls, row: LiveRow, tz: ZoneInfo | None) -> LiveSettlementOut:
        return cls(settlement_id=row.settlement_id, counter_id=row.counter_id, settled_at=local(row.settled_at, tz),
                   amount=str(row.amount), state=row.state, outcome=row.outcome,
                   received_at=local(row.received_at, tz), due_at=local(row.due_at, tz),
                   done_at=_opt(row.done_at, tz),
                   flags=[LiveFlagOut(id=f.id, kind=f.kind, review_status=f.review_status) for f in row.flags])


class CameraTileOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    counter_id: str
    state: str
    since: datetime
    last_frame_at: datetime | None
    fps: float | None
    detail: str | None
    gap_since: datetime | None

    @classmethod
    def of(cls, t: CameraTile, tz: ZoneInfo | None) -> CameraTileOut:
        return cls(counter_id=t.counter_id, state=t.state, since=local(t.since, tz),
                   last_frame_at=_opt(t.last_frame_at, tz), fps=None if t.fps is None else round(t.fps, 1),
                   detail=t.detail, gap_since=_opt(t.gap_since, tz))


class PharmacyLiveOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pharmacy_id: str
    name: str | None
    district: str | None
    counters: list[str]
    cameras: list[CameraTileOut]
    settlements: list[LiveSettlementOut] = Field(description="the newest live settlements, newest swipe first")

    @classmethod
    def of(cls, p: PharmacyRef, counters: list[str], cameras: list[CameraTile], rows: list[LiveRow],
           tz: ZoneInfo | None) -> PharmacyLiveOut:
        return cls(pharmacy_id=p.pharmacy_id, name=p.name, district=p.district, counters=counters,
                   cameras=[CameraTileOut.of(c, tz) for c in cameras],
                   settlements=[LiveSettlementOut.of(r, tz) for r in rows])
