"""What the review pages add around a verdict: the undo notice that travels to the next page, the
flag's cluster offered for one verdict, and the record of who looked at a flag's evidence.

``undo_notice``: the reviewer's latest verdict batch while it is young (``verdict_undo_s``): what was
decided and a button to take it back, or that it was taken back. ``viewed``: one line in each
evidence route (page, keyframe, clip) records the look in the audit log before the evidence leaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from database import audit_log, clusters, verdicts
from database.models import utcnow
from database.queries import FlagView
from rxaudit.domain import ReviewStatus
from rxaudit.security import Principal


@dataclass
class UndoNotice:
    batch_id: int
    action: str
    reason: str | None
    count: int  # flags the batch decided
    bulk: bool
    undone: bool
    restored: int  # flags an undo set back (when undone)
    seconds_left: int  # to undo (0 once undone)
    first_flag: int


def undo_notice(session: Session, request: Request, who: Principal) -> UndoNotice | None:
    """The notice for ``who``'s latest batch given (or undone) within ``verdict_undo_s``."""
    if who.kind != "user":
        return None
    s = request.app.state.settings
    now = utcnow()
    b = verdicts.latest_batch(session, who, since=now - timedelta(seconds=s.verdict_undo_s))
    if b is None:
        return None
    until = b.undo_until(verdict_undo_s=s.verdict_undo_s, bulk_undo_s=s.bulk_undo_s)
    left = 0 if b.undone_at is not None else max(0, int((until - now).total_seconds()))
    if b.undone_at is None and left == 0:
        return None
    return UndoNotice(b.id, b.action, b.reason, len(b.flag_ids), b.bulk, b.undone_at is not None,
                      len(b.restored), left, b.flag_ids[0])


def viewed(session: Session, request: Request, who: Principal, flag_id: int, what: str,
           index: int | None = None) -> None:
    """Record that ``who`` looked at ``flag_id``'s ``what`` (after the scope check), committed before
    the evidence is sent: a look that cannot be recorded (a busy database) is not served."""
    if audit_log.record_view(session, principal=who, flag_id=flag_id, what=what, index=index,
                             within_s=request.app.state.settings.view_log_window_s) is not None:
        session.commit()


def cluster_open(session: Session, who: Principal, view: FlagView, request: Request) -> list[FlagView]:
    """The open flags of ``view``'s cluster the reviewer may see, this one excluded."""
    members = clusters.siblings(session, who, view, burst_window_s=request.app.state.settings.burst_window_s)
    return [m for m in members if m.flag.review_status == ReviewStatus.OPEN]


def flag_page_extras(session: Session, request: Request, who: Principal, view: FlagView) -> dict[str, Any]:
    """The flag page's undo notice and cluster offer; records that ``who`` viewed the flag."""
    viewed(session, request, who, view.flag.id, "page")
    siblings = cluster_open(session, who, view, request) if who.can_review else []
    return {"undo": undo_notice(session, request, who), "cluster": siblings}
