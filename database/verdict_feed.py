"""Reads for the live feed's ``event: verdict`` messages: verdicts strictly by id, with their
flag's status, kind, pharmacy and district. Keyword-only functions over a Session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from database.models import FlagRow, Pharmacy, Verdict


@dataclass(frozen=True)
class VerdictChange:
    verdict_id: int
    flag_id: int
    action: str
    at: datetime
    review_status: str  # the flag's status now
    kind: str
    pharmacy_id: str | None
    district: str | None


def newest_verdict_id(session: Session) -> int:
    return session.scalar(select(func.max(Verdict.id))) or 0


def verdicts_after(session: Session, *, after_id: int, limit: int) -> list[VerdictChange]:
    rows = session.execute(
        select(Verdict.id, Verdict.flag_id, Verdict.action, Verdict.created_at, FlagRow.review_status,
               FlagRow.kind, FlagRow.pharmacy_id, Pharmacy.district)
        .join(FlagRow, FlagRow.id == Verdict.flag_id)
        .outerjoin(Pharmacy, Pharmacy.pharmacy_id == FlagRow.pharmacy_id)
        .where(Verdict.id > after_id).order_by(Verdict.id).limit(limit))
    return [VerdictChange(*row) for row in rows]
