"""The recent stored history a live worker's rules read (issue 28), and the flags it adds to earlier
settlements when a later one completes a pattern. Keyword-only functions over a Session; every read is
bounded (``HISTORY_MAX`` rows)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from database.live_queue import settlement_of
from database.models import CheckRow, FaceSignature, FlagRow, PurchaseRow, SettlementRow, StockCountRow, utcnow
from database.repository import among
from reconcile.context import IdentityRecord
from rxaudit.domain import CheckStatus, Flag, ReviewStatus, Settlement
from rxaudit.records import Purchase, StockCount

HISTORY_MAX = 20_000  # stored settlements one read returns at most (a pharmacy's busiest week)


def settlements(session: Session, *, start: datetime, end: datetime, pharmacy_id: str | None = None,
                counter_id: str | None = None, card_hash: str | None = None,
                limit: int = HISTORY_MAX) -> list[Settlement]:
    """Stored settlements settled in [start, end], of a pharmacy, counter or card, in time order."""
    q = select(SettlementRow).where(SettlementRow.settled_at >= start, SettlementRow.settled_at <= end)
    if pharmacy_id is not None:
        q = q.where(SettlementRow.pharmacy_id == pharmacy_id)
    if counter_id is not None:
        q = q.where(SettlementRow.counter_id == counter_id)
    if card_hash is not None:
        q = q.where(SettlementRow.card_hash == card_hash)
    rows = session.scalars(q.order_by(SettlementRow.settled_at, SettlementRow.settlement_id).limit(limit))
    return [settlement_of(r) for r in rows]


def by_ids(session: Session, *, ids: Collection[str]) -> list[Settlement]:
    if not ids:
        return []
    rows = session.scalars(select(SettlementRow).where(among(session, SettlementRow.settlement_id, sorted(ids))))
    return sorted((settlement_of(r) for r in rows), key=lambda s: (s.settled_at, s.settlement_id))


def identities(session: Session, *, start: datetime, end: datetime, limit: int = HISTORY_MAX * 5
               ) -> list[IdentityRecord]:
    """Stored face identities of settlements in [start, end] (what ``same_face`` compares)."""
    rows = session.execute(select(FaceSignature.settlement_id, FaceSignature.pharmacy_id, FaceSignature.card_hash,
                                  FaceSignature.settled_at, FaceSignature.encoding)
                           .where(FaceSignature.settled_at >= start, FaceSignature.settled_at <= end)
                           .order_by(FaceSignature.settled_at).limit(limit))
    return [IdentityRecord(sid, pharmacy, card, at, np.frombuffer(enc, dtype=np.float32).copy())
            for sid, pharmacy, card, at, enc in rows]


def stock_records(session: Session, *, pharmacy_id: str, item_codes: Collection[str], until: datetime
                  ) -> tuple[list[StockCount], list[Purchase]]:
    """The stored counts and deliveries of ``item_codes`` at a pharmacy up to ``until``: the ledger
    ``stock_shortfall`` keeps (counts from the latest one at or before the first sale on)."""
    if not item_codes:
        return [], []
    codes = sorted(item_codes)
    counts = [StockCount(p, i, q, t) for p, i, t, q in session.execute(
        select(StockCountRow.pharmacy_id, StockCountRow.item_code, StockCountRow.counted_at, StockCountRow.quantity)
        .where(StockCountRow.pharmacy_id == pharmacy_id, StockCountRow.item_code.in_(codes),
               StockCountRow.counted_at <= until))]
    purchases = [Purchase(p, i, q, t, s, n) for p, i, q, t, s, n in session.execute(
        select(PurchaseRow.pharmacy_id, PurchaseRow.item_code, PurchaseRow.quantity, PurchaseRow.received_at,
               PurchaseRow.supplier, PurchaseRow.invoice_no)
        .where(PurchaseRow.pharmacy_id == pharmacy_id, PurchaseRow.item_code.in_(codes),
               PurchaseRow.received_at <= until))]
    return counts, purchases


def stored_kinds(session: Session, *, ids: Collection[str]) -> set[tuple[str, str]]:
    """(settlement_id, kind) of the flags stored for ``ids``."""
    if not ids:
        return set()
    return {(sid, kind) for sid, kind in session.execute(
        select(FlagRow.settlement_id, FlagRow.kind).where(among(session, FlagRow.settlement_id, sorted(ids))))}


def add_flags(session: Session, *, flags: Iterable[tuple[Settlement, Flag]]) -> list[Flag]:
    """Flags for settlements stored earlier, each only where its settlement has no flag of its kind yet
    (a flag is only ever added here: one stored, reviewed or not, is left as it is); a clean check
    becomes flagged where the kind accuses. Returns the flags added."""
    wanted = [(s, f) for s, f in flags]
    stored = stored_kinds(session, ids={s.settlement_id for s, _ in wanted})
    added: list[Flag] = []
    now = utcnow()
    for s, f in wanted:
        if (s.settlement_id, str(f.kind)) in stored or session.get(SettlementRow, s.settlement_id) is None:
            continue
        stored.add((s.settlement_id, str(f.kind)))
        session.add(FlagRow(settlement_id=s.settlement_id, kind=str(f.kind), score=f.score, reason=f.reason,
                            evidence={"items": [e.to_json() for e in f.evidence]},
                            review_status=str(ReviewStatus.OPEN), created_at=now, updated_at=now,
                            pharmacy_id=s.pharmacy_id, settled_at=s.settled_at))
        check = session.get(CheckRow, s.settlement_id)
        if check is not None and check.status == CheckStatus.CLEAN and f.kind.accuses:
            check.status = str(CheckStatus.FLAGGED)
        added.append(f)
    session.flush()
    return added


def seen_of(session: Session, *, ids: Sequence[str]) -> dict[str, dict]:
    """The stored checks' ``seen`` of ``ids`` (what clock health reads: each swipe's profile)."""
    found: dict[str, dict] = {}
    for i in range(0, len(ids), 5000):
        found.update(session.execute(select(CheckRow.settlement_id, CheckRow.seen).where(
            among(session, CheckRow.settlement_id, list(ids[i:i + 5000])))).all())
    return found


def done_ids(session: Session, *, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` stored in ``settlements``."""
    if not ids:
        return set()
    return set(session.scalars(select(SettlementRow.settlement_id).where(
        among(session, SettlementRow.settlement_id, list(ids)))))
