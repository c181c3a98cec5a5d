"""The audit log (``audit_log``): append-only records of who did what and when. Keyword-only
functions over a Session; callers commit with their own transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from database.models import AuditLogEntry, utcnow
from rxaudit.security import Principal

SUBJECT_MAX = 255


def record(session: Session, *, principal: Principal | None, action: str, subject: str = "",
           detail: dict[str, Any] | None = None) -> AuditLogEntry:
    """Add one entry (``principal`` None: the system itself). Long subjects are cut, with ``…``."""
    if len(subject) > SUBJECT_MAX:
        subject = subject[:SUBJECT_MAX - 1] + "…"
    row = AuditLogEntry(actor_kind=principal.kind if principal else "system",
                        actor_id=principal.id if principal else None,
                        actor_name=(principal.name if principal else "system")[:64],
                        action=action, subject=subject, detail=detail or {})
    session.add(row)
    session.flush()
    return row


VIEW = "view_evidence"
VIEWED = ("page", "keyframe", "clip", "crop")  # what of a flag's evidence was looked at


def record_view(session: Session, *, principal: Principal, flag_id: int, what: str, within_s: float,
                index: int | None = None, now: datetime | None = None) -> AuditLogEntry | None:
    """Someone looked at a flag's evidence (``what``: its page, a keyframe, its clip). A clip is read
    in many range requests and a page reloaded: one entry per principal, flag and item within
    ``within_s`` (0: every time); None when an entry already covers this look."""
    if what not in VIEWED:
        raise ValueError(f"what: one of {', '.join(VIEWED)}")
    subject = f"flag:{flag_id}:{what}" + (f":{index}" if index is not None else "")
    now = now or utcnow()
    if within_s > 0:
        seen = session.scalars(select(AuditLogEntry.id).where(
            AuditLogEntry.action == VIEW, AuditLogEntry.at >= now - timedelta(seconds=within_s),
            AuditLogEntry.subject == subject, AuditLogEntry.actor_kind == principal.kind,
            AuditLogEntry.actor_id == principal.id).limit(1)).first()
        if seen is not None:
            return None
    row = record(session, principal=principal, action=VIEW, subject=subject,
                 detail={"flag_id": flag_id, "what": what, **({"index": index} if index is not None else {})})
    row.at = now
    session.flush()
    return row


def entries(session: Session, *, actions: tuple[str, ...] = (), actor_name: str | None = None,
            since: datetime | None = None, until: datetime | None = None,
            limit: int = 200, offset: int = 0) -> list[AuditLogEntry]:
    """Newest first, filtered by action, actor and time."""
    q = select(AuditLogEntry)
    if actions:
        q = q.where(AuditLogEntry.action.in_(actions))
    if actor_name:
        q = q.where(AuditLogEntry.actor_name == actor_name)
    if since is not None:
        q = q.where(AuditLogEntry.at >= since)
    if until is not None:
        q = q.where(AuditLogEntry.at < until)
    return list(session.scalars(q.order_by(AuditLogEntry.at.desc(), AuditLogEntry.id.desc())
                                .offset(offset).limit(limit)))
