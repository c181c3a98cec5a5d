"""The live inbox's backlog as the wall shows it (``GET /api/v1/live/status``): keyword-only reads over
``live_settlements``, district-scoped like every read.

- the rows not done yet (pending, claimed) and the oldest ``due_at`` among them;
- each counter's delay: now - ``due_at`` of its oldest row not done (0 while that row is not due yet:
  its footage cannot be in the store before then), the counters with the longest delay first;
- the p50 delay of the last hour's done rows (``done_at - due_at``), over the newest ``P50_SAMPLE`` of
  them: one bounded query whatever the hour's volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from database.models import LiveSettlement, Pharmacy, utcnow
from rxaudit.security import Principal

NOT_DONE = ("pending", "claimed")
COUNTERS_MAX = 200  # counters listed (the longest delays first); the total is counted apart
P50_SAMPLE = 5000  # done rows of the last hour the median is taken over (the newest)
P50_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class CounterDelay:
    pharmacy_id: str
    counter_id: str
    district: str | None
    not_done: int
    oldest_due_at: datetime
    delay_s: float  # now - oldest_due_at, never below 0


@dataclass(frozen=True)
class LiveStatus:
    now: datetime
    pending: int
    claimed: int
    oldest_due_at: datetime | None
    oldest_delay_s: float | None
    done_last_hour: int
    p50_delay_s: float | None  # over the last hour's done rows (None: none done)
    counters: tuple[CounterDelay, ...]  # at most COUNTERS_MAX, longest delay first
    counters_total: int  # counters with rows not done


def _scoped(query: Select, principal: Principal | None) -> Select:
    query = query.outerjoin(Pharmacy, Pharmacy.pharmacy_id == LiveSettlement.pharmacy_id)
    if principal is not None and principal.districts is not None:
        query = query.where(Pharmacy.district.in_(sorted(principal.districts)))
    return query


def _delay(now: datetime, due: datetime) -> float:
    return max(0.0, (now - due).total_seconds())


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def live_status(session: Session, *, principal: Principal | None = None, now: datetime | None = None,
                max_counters: int = COUNTERS_MAX) -> LiveStatus:
    """The backlog the principal may see (``None``: every district) at ``now`` (default: the clock)."""
    now = now or utcnow()
    states = dict(session.execute(_scoped(
        select(LiveSettlement.state, func.count()).where(LiveSettlement.state.in_(NOT_DONE))
        .group_by(LiveSettlement.state), principal)).all())
    oldest = session.scalar(_scoped(select(func.min(LiveSettlement.due_at))
                                    .where(LiveSettlement.state.in_(NOT_DONE)), principal))
    per_counter = _scoped(
        select(LiveSettlement.pharmacy_id, LiveSettlement.counter_id, Pharmacy.district,
               func.count(), func.min(LiveSettlement.due_at).label("oldest"))
        .where(LiveSettlement.state.in_(NOT_DONE))
        .group_by(LiveSettlement.pharmacy_id, LiveSettlement.counter_id, Pharmacy.district), principal)
    total = session.scalar(select(func.count()).select_from(per_counter.subquery())) or 0
    rows = session.execute(per_counter.order_by(func.min(LiveSettlement.due_at), LiveSettlement.pharmacy_id,
                                                LiveSettlement.counter_id).limit(max_counters)).all()
    counters = tuple(CounterDelay(p, c, d, n, due, _delay(now, due)) for p, c, d, n, due in rows)
    since = now - P50_WINDOW
    done = _scoped(select(LiveSettlement.due_at, LiveSettlement.done_at).where(
        LiveSettlement.state == "done", LiveSettlement.done_at >= since, LiveSettlement.done_at <= now), principal)
    done_n = session.scalar(select(func.count()).select_from(done.subquery())) or 0
    sample = session.execute(done.order_by(LiveSettlement.done_at.desc()).limit(P50_SAMPLE)).all()
    return LiveStatus(now=now, pending=states.get("pending", 0), claimed=states.get("claimed", 0),
                      oldest_due_at=oldest, oldest_delay_s=None if oldest is None else _delay(now, oldest),
                      done_last_hour=done_n,
                      p50_delay_s=median([max(0.0, (d - due).total_seconds()) for due, d in sample]),
                      counters=counters, counters_total=total)
