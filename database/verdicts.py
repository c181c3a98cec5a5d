"""Verdicts: append-only rows; a flag's review status follows its latest verdict."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from rxaudit.boxes import parse_boxes  # noqa: F401 - where callers have found it
from database.models import FlagRow, Verdict, utcnow
from database.queries import get_flag
from rxaudit.errors import Forbidden, InputError
from rxaudit.security import VERDICT_STATUS, Principal, VerdictAction

DISMISS_REASONS = ("wrong_detection", "customer_off_camera", "clock_offset", "other")


def record_verdict(session: Session, principal: Principal, *, flag_id: int, action: VerdictAction,
                   note: str, boxes: list[dict[str, Any]] | None = None, reason: str | None = None,
                   bulk: bool = False) -> Verdict:
    """Scoping first (404 for what the principal may not see), then the role (403). ``reason``: a
    dismissal's structured reason (``DISMISS_REASONS``); ``bulk``: one of many flags given at once."""
    view = get_flag(session, principal, flag_id)
    if reason is not None and reason not in DISMISS_REASONS:
        raise InputError(f"reason: one of {', '.join(DISMISS_REASONS)}")
    if not principal.may(action):
        raise Forbidden(f"a {principal.role or 'read-only key'} may not {action} flags")
    verdict = Verdict(flag_id=view.flag.id, user_id=principal.id, action=str(action), note=note[:2000],
                      boxes=boxes, reason=reason if action == VerdictAction.DISMISS else None, bulk=bulk)
    session.add(verdict)
    flag = session.get_one(FlagRow, view.flag.id)
    flag.review_status = VERDICT_STATUS[str(action)]
    flag.updated_at = utcnow()
    session.flush()
    return verdict
