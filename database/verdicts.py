"""Verdicts: append-only rows; a flag's review status follows its latest verdict.

Verdicts given together (one flag, a cluster, a bulk selection) form a batch: they share the first
one's id (``batch_id``) and each keeps the flag's status before it (``prev_status``). Its author may
undo a batch for a while: each flag whose latest verdict is still the batch's gets one more row that
names the verdict it takes back (``undoes``, unique: a verdict is taken back once) and repeats the
verdict before it (or reopens the flag), so the status and what retraining reads are as they were.
Nothing is updated or deleted but the flags' status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rxaudit.boxes import parse_boxes  # noqa: F401 - where callers have found it
from database.models import FlagRow, Verdict, utcnow
from database.queries import get_flag
from rxaudit.errors import Forbidden, InputError, NotFound
from rxaudit.security import VERDICT_STATUS, Principal, VerdictAction

DISMISS_REASONS = ("wrong_detection", "customer_off_camera", "clock_offset", "other")
NOTE_MAX = 2000


def record_verdict(session: Session, principal: Principal, *, flag_id: int, action: VerdictAction,
                   note: str, boxes: list[dict[str, Any]] | None = None, reason: str | None = None,
                   bulk: bool = False, batch_id: int | None = None) -> Verdict:
    """Scoping first (404 for what the principal may not see), then the role (403). ``reason``: a
    dismissal's structured reason (``DISMISS_REASONS``); ``bulk``: one of many flags given at once;
    ``batch_id``: the batch it joins (None: it starts its own)."""
    view = get_flag(session, principal, flag_id)
    if reason is not None and reason not in DISMISS_REASONS:
        raise InputError(f"reason: one of {', '.join(DISMISS_REASONS)}")
    if not principal.may(action):
        raise Forbidden(f"a {principal.role or 'read-only key'} may not {action} flags")
    flag = session.get_one(FlagRow, view.flag.id)
    verdict = Verdict(flag_id=view.flag.id, user_id=principal.id, action=str(action), note=note[:NOTE_MAX],
                      boxes=boxes, reason=reason if action == VerdictAction.DISMISS else None, bulk=bulk,
                      batch_id=batch_id, prev_status=flag.review_status)
    session.add(verdict)
    flag.review_status = VERDICT_STATUS[str(action)]
    flag.updated_at = utcnow()
    session.flush()
    if batch_id is None:
        verdict.batch_id = verdict.id
        session.flush()
    return verdict


def give(session: Session, principal: Principal, *, flag_ids: Sequence[int], action: VerdictAction,
         note: str = "", boxes: list[dict[str, Any]] | None = None, reason: str | None = None,
         bulk: bool = False) -> list[Verdict]:
    """One verdict on each flag (the first is the batch's id), each checked as ``record_verdict``."""
    out: list[Verdict] = []
    for flag_id in dict.fromkeys(flag_ids):
        out.append(record_verdict(session, principal, flag_id=flag_id, action=action, note=note,
                                  boxes=boxes if not out else None, reason=reason, bulk=bulk,
                                  batch_id=out[0].id if out else None))
    return out


@dataclass
class Batch:
    """Verdicts given together, and what became of them."""

    id: int
    user_id: int
    action: str
    reason: str | None
    bulk: bool
    at: datetime
    flag_ids: list[int]
    undone_at: datetime | None = None  # when its author took it back
    restored: list[int] = field(default_factory=list)  # flags an undo set back

    def window_s(self, *, verdict_undo_s: float, bulk_undo_s: float) -> float:
        return bulk_undo_s if self.bulk else verdict_undo_s

    def undo_until(self, *, verdict_undo_s: float, bulk_undo_s: float) -> datetime:
        return self.at + timedelta(seconds=self.window_s(verdict_undo_s=verdict_undo_s, bulk_undo_s=bulk_undo_s))


def batch(session: Session, batch_id: int) -> Batch:
    rows = list(session.scalars(select(Verdict).where(Verdict.batch_id == batch_id, Verdict.undoes.is_(None))
                                .order_by(Verdict.id)))
    if not rows or rows[0].id != batch_id:
        raise NotFound(f"verdict batch {batch_id}")
    first = rows[0]
    undos = list(session.scalars(select(Verdict).where(Verdict.undoes.in_([v.id for v in rows]))
                                 .order_by(Verdict.id)))
    restored = [u.flag_id for u in undos]
    return Batch(first.id, first.user_id, first.action, first.reason, first.bulk, first.created_at,
                 [v.flag_id for v in rows], undos[0].created_at if undos else None, restored)


def latest_batch(session: Session, principal: Principal, *, since: datetime) -> Batch | None:
    """The batch of the principal's latest verdict (or undo), when given at or after ``since`` (the
    undo notice): an older one never shows again once a newer verdict is given."""
    last = session.scalars(select(Verdict).where(Verdict.user_id == principal.id)
                           .order_by(Verdict.id.desc()).limit(1)).first()
    if last is None or last.created_at < since:
        return None
    if last.undoes is not None:
        last = session.get_one(Verdict, last.undoes)
    return batch(session, last.batch_id) if last.batch_id is not None else None  # None: before batches


def open_bulk_batches(session: Session, principal: Principal, *, since: datetime, limit: int = 5) -> list[Batch]:
    """The principal's bulk batches given at or after ``since`` and not undone, newest first."""
    ids = session.scalars(select(Verdict.batch_id).where(
        Verdict.user_id == principal.id, Verdict.bulk.is_(True), Verdict.created_at >= since,
        Verdict.id == Verdict.batch_id, Verdict.undoes.is_(None)).order_by(Verdict.id.desc()).limit(limit * 4))
    out = [b for b in (batch(session, i) for i in ids) if b.undone_at is None]
    return out[:limit]


class UndoRefused(InputError):
    """Too late to undo, or undone already (``twice``)."""

    def __init__(self, message: str, *, twice: bool) -> None:
        super().__init__(message)
        self.twice = twice


@dataclass
class UndoResult:
    restored: list[int]  # flags set back to their status before the batch
    kept: list[int]  # flags given a newer verdict since (or no longer visible): left as they are


def undo(session: Session, principal: Principal, *, batch_id: int, verdict_undo_s: float, bulk_undo_s: float,
         now: datetime | None = None) -> UndoResult:
    """Take back a batch: only its author, only within its window, only once; a flag given a newer
    verdict since keeps it."""
    b = batch(session, batch_id)
    if b.user_id != principal.id or principal.kind != "user":
        raise NotFound(f"verdict batch {batch_id}")  # another's batch is not there for this principal
    now = now or utcnow()
    if b.undone_at is not None:
        raise UndoRefused("this verdict has already been undone", twice=True)
    if now > b.undo_until(verdict_undo_s=verdict_undo_s, bulk_undo_s=bulk_undo_s):
        raise UndoRefused("the time to undo this verdict has passed; give a new verdict instead", twice=False)
    given = {v.flag_id: v for v in session.scalars(
        select(Verdict).where(Verdict.batch_id == batch_id, Verdict.undoes.is_(None)))}
    restored, kept = [], []
    for flag_id, v in sorted(given.items()):
        try:
            get_flag(session, principal, flag_id)
        except NotFound:
            kept.append(flag_id)
            continue
        flag = session.scalars(select(FlagRow).where(FlagRow.id == flag_id).with_for_update()
                               .execution_options(populate_existing=True)).one()  # then read its latest
        if session.scalar(select(func.max(Verdict.id)).where(Verdict.flag_id == flag_id)) != v.id:
            kept.append(flag_id)
            continue
        before = session.scalars(select(Verdict).where(Verdict.flag_id == flag_id, Verdict.id < v.id)
                                 .order_by(Verdict.id.desc()).limit(1)).first()
        session.add(Verdict(flag_id=flag_id, user_id=principal.id,
                            action=before.action if before else str(VerdictAction.REOPEN),
                            note=before.note if before else "", boxes=before.boxes if before else None,
                            reason=before.reason if before else None, bulk=v.bulk, batch_id=None,
                            undoes=v.id, prev_status=flag.review_status))
        flag.review_status = v.prev_status or (VERDICT_STATUS[before.action] if before else "open")
        flag.updated_at = utcnow()
        restored.append(flag_id)
    session.flush()
    return UndoResult(restored, kept)
