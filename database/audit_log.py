"""The audit log (``audit_log``): append-only records of who did what and when. Keyword-only
functions over a Session; callers commit with their own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from database.models import AuditLogEntry
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
