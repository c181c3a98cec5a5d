"""Verdicts: append-only rows; a flag's review status follows its latest verdict."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from rxaudit.db.models import FlagRow, Verdict, utcnow
from rxaudit.db.queries import get_flag
from rxaudit.errors import Forbidden, InputError
from rxaudit.security import VERDICT_STATUS, Principal, VerdictAction

MAX_BOXES = 100
DISMISS_REASONS = ("wrong_detection", "customer_off_camera", "clock_offset", "other")


def parse_boxes(text: str) -> list[dict[str, Any]] | None:
    """Corrected detector boxes from a reviewer: a JSON list of {"cls": str, "box": [x1, y1, x2, y2]}
    in keyframe pixels. Empty text: no correction. ``[]``: the keyframe shows none of the classes."""
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"boxes: not JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(data, list) or len(data) > MAX_BOXES:
        raise InputError(f"boxes: expected a list of at most {MAX_BOXES} boxes")
    out = []
    for k, item in enumerate(data):
        cls = item.get("cls") if isinstance(item, dict) else None
        box = item.get("box") if isinstance(item, dict) else None
        if not isinstance(cls, str) or not cls.isidentifier() or len(cls) > 32:
            raise InputError(f"boxes[{k}].cls: a class name like 'non_covered' is required")
        if (not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, int | float) for v in box)
                or not (0 <= box[0] < box[2] and 0 <= box[1] < box[3])):
            raise InputError(f"boxes[{k}].box: [x1, y1, x2, y2] with x1 < x2 and y1 < y2, in pixels")
        out.append({"cls": cls, "box": [float(v) for v in box]})
    return out


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
