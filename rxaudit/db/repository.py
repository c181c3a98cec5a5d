"""Keyword-only functions over a Session. Idempotent on settlement_id (+ kind for flags)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from reconcile.context import IdentityRecord
from rxaudit.db.models import (AuditRun, CheckRow, FaceSignature, FlagRow, RejectedRowRecord,
                               SettlementRow, utcnow)
from rxaudit.domain import CheckResult, RejectedRow, ReviewStatus, Settlement


def start_run(session: Session, *, settlements_file: str, videos: str) -> int:
    run = AuditRun(settlements_file=settlements_file, videos=videos, summary={})
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, *, run_id: int, summary: dict[str, Any]) -> None:
    run = session.get_one(AuditRun, run_id)
    run.finished_at = utcnow()
    run.summary = summary


def record_rejected(session: Session, *, run_id: int, rejected: Sequence[RejectedRow]) -> None:
    session.add_all(RejectedRowRecord(run_id=run_id, source=r.source, line=r.line, reason=r.reason)
                    for r in rejected)


def _settlement_values(s: Settlement) -> dict[str, Any]:
    return {
        "pharmacy_id": s.pharmacy_id,
        "counter_id": s.counter_id,
        "settled_at": s.settled_at,
        "card_hash": s.card_hash,
        "amount": s.amount,
        "items": {"lines": [{"item_code": i.item_code, "item_name": i.item_name,
                             "quantity": str(i.quantity), "unit_price": str(i.unit_price),
                             "category": str(i.category)}
                            for i in s.items]},
        "extra": dict(s.extra),
    }


def save_result(session: Session, *, run_id: int, result: CheckResult,
                keep_faces: bool = True) -> None:
    """Upsert the settlement, its check and its flags. A flag already reviewed keeps its verdict;
    an open flag that the new audit no longer raises is removed."""
    s = result.settlement
    row = session.get(SettlementRow, s.settlement_id)
    values = _settlement_values(s)
    if row is None:
        session.add(SettlementRow(settlement_id=s.settlement_id, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()

    check = session.get(CheckRow, s.settlement_id)
    if check is None:
        check = CheckRow(settlement_id=s.settlement_id, run_id=run_id, status=str(result.status),
                         seen=result.seen)
        session.add(check)
    check.run_id, check.status, check.seen, check.checked_at = (
        run_id, str(result.status), result.seen, utcnow())

    existing = {f.kind: f for f in session.scalars(
        select(FlagRow).where(FlagRow.settlement_id == s.settlement_id))}
    new_kinds = set()
    for flag in result.flags:
        kind = str(flag.kind)
        new_kinds.add(kind)
        evidence = {"items": [e.to_json() for e in flag.evidence]}
        row_flag = existing.get(kind)
        if row_flag is None:
            session.add(FlagRow(settlement_id=s.settlement_id, kind=kind, score=flag.score,
                                reason=flag.reason, evidence=evidence))
        else:
            row_flag.score, row_flag.reason, row_flag.evidence = flag.score, flag.reason, evidence
            row_flag.updated_at = utcnow()
    for kind, row_flag in existing.items():
        if kind not in new_kinds and row_flag.review_status == ReviewStatus.OPEN:
            session.delete(row_flag)

    signature = session.get(FaceSignature, s.settlement_id)
    if result.identity is not None and keep_faces:
        data = np.asarray(result.identity, dtype=np.float32).tobytes()
        if signature is None:
            session.add(FaceSignature(settlement_id=s.settlement_id, pharmacy_id=s.pharmacy_id,
                                      card_hash=s.card_hash, settled_at=s.settled_at, encoding=data))
        else:
            signature.encoding, signature.card_hash = data, s.card_hash
    elif signature is not None:
        session.delete(signature)


def identity_history(session: Session, *, start: datetime, end: datetime,
                     exclude: set[str]) -> list[IdentityRecord]:
    rows = session.scalars(select(FaceSignature).where(
        FaceSignature.settled_at >= start, FaceSignature.settled_at <= end))
    return [
        IdentityRecord(r.settlement_id, r.pharmacy_id, r.card_hash, r.settled_at,
                       np.frombuffer(r.encoding, dtype=np.float32).copy())
        for r in rows if r.settlement_id not in exclude
    ]


def purge_face_signatures(session: Session, *, retention_days: int, now: datetime | None = None) -> int:
    """Delete face encodings older than the retention period; returns how many went."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    result = session.execute(delete(FaceSignature).where(FaceSignature.created_at < cutoff))
    return result.rowcount or 0


def flag_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(FlagRow.kind, func.count()).group_by(FlagRow.kind)).all())
