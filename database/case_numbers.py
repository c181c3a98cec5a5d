"""What a case file needs from the database beyond the flag: its case number and its reviewers.

A case number is ``<district>-<yyyy>-<seq>`` (``seq`` five digits, counted per district and year),
given at a flag's first export and kept: the same flag always carries the same number, and no number
is ever given twice (a unique constraint; two exports racing for the next number retry). It is written
in the export's own transaction: an export that fails leaves no number behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from database.models import CaseNumber, User, Verdict

NO_DISTRICT = "NA"  # the case-number prefix of a pharmacy without a district
RETRIES = 5


def case_number(session: Session, *, flag_id: int, district: str | None, year: int) -> str:
    """The flag's case number, given now if it has none."""
    stored = session.get(CaseNumber, flag_id)
    if stored is not None:
        return stored.case_no
    prefix = district or NO_DISTRICT
    for _ in range(RETRIES):
        seq = (session.scalar(select(func.max(CaseNumber.seq)).where(
            CaseNumber.district == prefix, CaseNumber.year == year)) or 0) + 1
        row = CaseNumber(flag_id=flag_id, case_no=f"{prefix}-{year:04d}-{seq:05d}", district=prefix,
                         year=year, seq=seq)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # another export took this number (or numbered this flag) meanwhile
            stored = session.get(CaseNumber, flag_id, populate_existing=True)
            if stored is not None:
                return stored.case_no
            continue
        return row.case_no
    raise RuntimeError(f"no case number for flag {flag_id} after {RETRIES} tries")


@dataclass(frozen=True)
class Reviewer:
    name: str  # the account
    full_name: str | None
    badge_no: str | None
    at: datetime  # when they confirmed


def confirming_reviewers(session: Session, *, flag_id: int) -> list[Reviewer]:
    """The distinct people whose confirmation stands, first first: given after the last reopen, not
    withdrawn by a later dismissal of theirs, not undone (an undo row and the verdict it takes back
    both drop out: what remains is the history as if neither had been given)."""
    rows = session.execute(select(Verdict.id, Verdict.undoes, Verdict.action, Verdict.created_at, User.name,
                                  User.full_name, User.badge_no)
                           .join(User, User.id == Verdict.user_id).where(Verdict.flag_id == flag_id)
                           .order_by(Verdict.created_at, Verdict.id)).all()
    undone = {row.undoes for row in rows if row.undoes is not None}
    found: dict[str, Reviewer] = {}
    for row in rows:
        if row.undoes is not None or row.id in undone:
            continue
        if row.action == "reopen":
            found.clear()
        elif row.action == "confirm" and row.name not in found:
            found[row.name] = Reviewer(row.name, row.full_name, row.badge_no, row.created_at)
        elif row.action == "dismiss":
            found.pop(row.name, None)
    return list(found.values())
