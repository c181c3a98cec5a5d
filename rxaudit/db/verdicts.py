"""Verdicts: append-only rows; a flag's review status follows its latest verdict."""

from __future__ import annotations

from sqlalchemy.orm import Session

from rxaudit.db.models import FlagRow, Verdict, utcnow
from rxaudit.db.queries import get_flag
from rxaudit.errors import Forbidden
from rxaudit.security import VERDICT_STATUS, Principal, VerdictAction


def record_verdict(session: Session, principal: Principal, *, flag_id: int, action: VerdictAction,
                   note: str) -> Verdict:
    """Scoping first (404 for what the principal may not see), then the role (403)."""
    view = get_flag(session, principal, flag_id)
    if not principal.may(action):
        raise Forbidden(f"a {principal.role or 'read-only key'} may not {action} flags")
    verdict = Verdict(flag_id=view.flag.id, user_id=principal.id, action=str(action), note=note[:2000])
    session.add(verdict)
    flag = session.get_one(FlagRow, view.flag.id)
    flag.review_status = VERDICT_STATUS[str(action)]
    flag.updated_at = utcnow()
    session.flush()
    return verdict
