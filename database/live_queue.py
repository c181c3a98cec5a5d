"""The live inbox as a work queue (issue 28): claim due settlements with a lease, give back those whose
footage is not in the store yet, finish them. Keyword-only functions over a Session.

Engine: the project's own PostgreSQL, ``SELECT … FOR UPDATE SKIP LOCKED`` through SQLAlchemy (the kept
library every room already uses). No extra server to run, watch and back up, and a claim, the audit's
outcome and "done" can be written in one transaction with the flags, so a settlement is never done
without its outcome stored nor stored twice. (A JetStream work queue would acknowledge apart from the
database write; the JetStream adapter only feeds the inbox.) SQLite is the embedded default with one
worker: ``claim`` there is a compare-and-set update, safe but serial.

Lease: a claimed row is the claimer's until ``lease_until`` (renewed while it works); a worker killed
mid-settlement leaves its lease to expire, and the row is claimed again (``attempts`` counts every
claim, so a row that keeps failing is finished by the caller as unverifiable, never retried forever).
A pending row's ``lease_until`` is its not-before time: a row given back (footage not there yet) waits.

Backlog: after an outage the inbox holds hours of due rows. Rows due within ``live_lane_s`` of now are
the live lane, older ones the backlog. Each claim takes its share of the backlog, oldest first
(``backlog_n``: the caller spreads ``live_backlog_share`` over its claims), the rest from the live
lane, oldest first within it; a lane with too few rows leaves its share to the other. So the swipes of
the last minutes keep their one-minute promise while the backlog drains at a known share of the
workers, and nothing due is ever passed over for good (a backlog row is, at worst, the oldest).

Counters: a row is not claimed while another worker holds a live lease on a row of the same counter
(one worker at a time per counter): the counter audit decodes the span of the counter's stored
swipes around the settlement, as batch does (:mod:`audit.live`), and two workers on neighbouring
swipes would each miss the other. PostgreSQL claims are serialised by a transaction advisory lock
(milliseconds each), so that check cannot race; the audit itself runs outside any lock. SKIP LOCKED
then lets a claim pass over rows another transaction is writing (a worker saving an outcome and
marking its row done, renewing a lease) instead of waiting for that transaction to end. The save of
each outcome takes a second advisory lock (``RULES_LOCK``, :mod:`audit.live`): patterns across
counters (a card at two pharmacies, one face with several cards) are judged by whichever of their
settlements is saved last, seeing the others committed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from database.models import LiveSettlement, utcnow
from rxaudit.domain import ItemCategory, Settlement, SettlementItem

PENDING, CLAIMED, DONE = "pending", "claimed", "done"
CLAIM_LOCK = "rxaudit.live.claim"
RULES_LOCK = "rxaudit.live.rules"
CLAIM_SCAN = 64  # rows looked at beyond those wanted (rows of a counter already picked are passed over)


def lock(session: Session, name: str) -> None:
    """A PostgreSQL advisory lock held until the transaction ends (nothing on SQLite: one worker)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(name.encode())})


@dataclass(frozen=True)
class Claimed:
    """One claimed row: the settlement, when its footage is due, how often it was claimed."""

    settlement: Settlement
    due_at: datetime
    attempts: int
    received_at: datetime


def _claimable(now: datetime, worker: str):
    """Pending (past its not-before time), or claimed with an expired lease; due; its counter not held
    by another worker's live lease."""
    other = aliased(LiveSettlement)
    held = exists().where(other.pharmacy_id == LiveSettlement.pharmacy_id,
                          other.counter_id == LiveSettlement.counter_id, other.state == CLAIMED,
                          other.lease_until > now, other.claimed_by != worker)
    return and_(LiveSettlement.due_at <= now, ~held, or_(
        and_(LiveSettlement.state == PENDING,
             or_(LiveSettlement.lease_until.is_(None), LiveSettlement.lease_until <= now)),
        and_(LiveSettlement.state == CLAIMED, LiveSettlement.lease_until <= now)))


def claim(session: Session, *, worker: str, limit: int, lease_s: float, live_lane_s: float,
          backlog_n: int = 0, now: datetime | None = None) -> list[Claimed]:
    """Claim up to ``limit`` due rows: ``backlog_n`` of them from the backlog (due before
    ``now - live_lane_s``, oldest first), the rest from the live lane (oldest first); a lane short
    of rows leaves its share to the other. At most one row per counter. Commit to make it hold."""
    now = now or utcnow()
    lock(session, CLAIM_LOCK)
    edge = now - timedelta(seconds=live_lane_s)
    backlog_n = max(0, min(backlog_n, limit))
    picked: list[str] = []
    counters: set[tuple[str, str]] = set()

    def take(where, n: int) -> None:
        """Up to ``n`` more rows matching ``where``, oldest due first, one per counter."""
        if n <= 0:
            return
        q = (select(LiveSettlement.settlement_id, LiveSettlement.pharmacy_id, LiveSettlement.counter_id)
             .where(_claimable(now, worker), where, LiveSettlement.settlement_id.not_in(picked))
             .order_by(LiveSettlement.due_at, LiveSettlement.settlement_id).limit(CLAIM_SCAN + n))
        if session.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=LiveSettlement)
        wanted = len(picked) + n
        for sid, pharmacy_id, counter_id in session.execute(q):
            if len(picked) < wanted and (pharmacy_id, counter_id) not in counters:
                picked.append(sid)
                counters.add((pharmacy_id, counter_id))

    backlog, live = LiveSettlement.due_at < edge, LiveSettlement.due_at >= edge
    take(backlog, backlog_n)
    take(live, limit - len(picked))
    take(backlog, limit - len(picked))  # the live lane's unused share
    if not picked:
        return []
    until = now + timedelta(seconds=lease_s)
    session.execute(update(LiveSettlement).where(LiveSettlement.settlement_id.in_(picked))
                    .values(state=CLAIMED, claimed_by=worker, lease_until=until,
                            attempts=LiveSettlement.attempts + 1), execution_options={"synchronize_session": False})
    rows = session.scalars(select(LiveSettlement).where(LiveSettlement.settlement_id.in_(picked))
                           .execution_options(populate_existing=True))
    order = {sid: i for i, sid in enumerate(picked)}
    return sorted((Claimed(settlement_of(r), r.due_at, r.attempts, r.received_at) for r in rows),
                  key=lambda c: order[c.settlement.settlement_id])


def renew(session: Session, *, worker: str, settlement_ids: Sequence[str], lease_s: float,
          now: datetime | None = None) -> int:
    """Extend this worker's leases; returns how many it still held."""
    until = (now or utcnow()) + timedelta(seconds=lease_s)
    return session.execute(update(LiveSettlement).where(
        LiveSettlement.settlement_id.in_(list(settlement_ids)), LiveSettlement.state == CLAIMED,
        LiveSettlement.claimed_by == worker).values(lease_until=until),
        execution_options={"synchronize_session": False}).rowcount or 0


def give_back(session: Session, *, worker: str, settlement_id: str, not_before: datetime) -> bool:
    """The footage is not in the store yet: the row is pending again, not claimed before
    ``not_before``; this claim is not counted as an attempt."""
    return bool(session.execute(update(LiveSettlement).where(
        LiveSettlement.settlement_id == settlement_id, LiveSettlement.state == CLAIMED,
        LiveSettlement.claimed_by == worker).values(
        state=PENDING, claimed_by=None, lease_until=not_before, attempts=LiveSettlement.attempts - 1),
        execution_options={"synchronize_session": False}).rowcount)


def complete(session: Session, *, settlement_id: str, outcome: str, now: datetime | None = None) -> None:
    """Done, with the check's status: in the transaction that saved it. Whoever holds the row now (a
    worker whose lease ran out may finish after another claimed it: both saves are idempotent)."""
    session.execute(update(LiveSettlement).where(LiveSettlement.settlement_id == settlement_id).values(
        state=DONE, done_at=now or utcnow(), outcome=outcome, lease_until=None),
        execution_options={"synchronize_session": False})


def busy(session: Session, *, now: datetime | None = None) -> bool:
    """Whether a row can be claimed now or is held under a live lease (rows given back and waiting for
    their not-before time, and rows not due yet, do not count)."""
    now = now or utcnow()
    claimable = select(LiveSettlement.settlement_id).where(_claimable(now, "")).limit(1)
    held = select(LiveSettlement.settlement_id).where(LiveSettlement.state == CLAIMED,
                                                      LiveSettlement.lease_until > now).limit(1)
    return session.scalar(claimable) is not None or session.scalar(held) is not None


def counts(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Rows per state, and how many pending or claimed rows are due (the backlog)."""
    now = now or utcnow()
    out = dict(session.execute(select(LiveSettlement.state, func.count()).group_by(LiveSettlement.state)).all())
    out["due"] = session.scalar(select(func.count()).where(
        LiveSettlement.state != DONE, LiveSettlement.due_at <= now)) or 0
    return out


# -- the record in the inbox -----------------------------------------------------------------------

def item_json(i: SettlementItem) -> dict[str, Any]:
    """One billed line as the inbox stores it (the ``settlements`` table's line, plus its codes)."""
    return {"item_code": i.item_code, "item_name": i.item_name, "quantity": str(i.quantity),
            "unit_price": str(i.unit_price), "category": str(i.category), "trace_codes": list(i.trace_codes)}


def row_values(s: Settlement, *, source: str, due_at: datetime, received_at: datetime | None = None
               ) -> dict[str, Any]:
    """The inbox row of a settlement (``items``: ``{"lines": [item_json, …]}``)."""
    return {"settlement_id": s.settlement_id, "pharmacy_id": s.pharmacy_id, "counter_id": s.counter_id,
            "settled_at": s.settled_at, "card_hash": s.card_hash, "amount": s.amount,
            "items": {"lines": [item_json(i) for i in s.items]}, "extra": dict(s.extra), "source": source,
            "received_at": received_at or utcnow(), "due_at": due_at, "state": PENDING, "attempts": 0}


def _item(line: dict[str, Any]) -> SettlementItem:
    return SettlementItem(str(line["item_code"]), str(line.get("item_name", "")), Decimal(str(line["quantity"])),
                          Decimal(str(line["unit_price"])), ItemCategory(line.get("category", "unknown")),
                          tuple(line.get("trace_codes") or ()))


def settlement_of(row: Any) -> Settlement:
    """The settlement an inbox (or ``settlements``) row holds."""
    lines = (row.items or {}).get("lines", [])
    return Settlement(row.settlement_id, row.pharmacy_id, row.counter_id, row.settled_at, row.card_hash,
                      Decimal(row.amount), tuple(_item(line) for line in lines),
                      {str(k): str(v) for k, v in (row.extra or {}).items()})
