"""The supervisors' audit log page: who signed in, judged, exported, made users and keys, and when;
and ``/audit/conflicts``: log rows rejected because their settlement id is stored with other content.

Supervisors and admins only (an inspector gets 403). Filters: action, actor name, local days.
Entries come from ``database.audit_log`` and ``database.conflicts``; every value is shown as text.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import CurrentUser, SessionDep
from api.i18n import N_
from api.reasons import AUDIT_ACTIONS
from api.schemas import DATE_MAX, DATE_MIN
from database import audit_log
from database import conflicts as conflicts_db
from rxaudit.errors import Forbidden
from rxaudit.security import Role

router = APIRouter(include_in_schema=False)
PAGE = 100
ACTIONS = tuple(AUDIT_ACTIONS)  # the filter offers every action the page has a label for
ACTOR_KINDS = {"user": N_("user"), "apikey": N_("API key"), "system": N_("system")}
SUBJECT_KINDS = {"flags": N_("flags"), "flag": N_("flag"), "user": N_("user"), "key": N_("API key"),
                 "settlement": N_("settlement")}
DETAIL_LABELS = {  # the keys audit-log entries carry in their detail, as the page names them
    "flag_ids": N_("flags"), "action": N_("verdict"), "reason": N_("reason"), "bulk": N_("bulk"),
    "address": N_("address"), "manifest_sha256": N_("manifest SHA-256"), "count": N_("count"),
    "batch_id": N_("batch"), "restored": N_("restored"), "kept": N_("kept"), "role": N_("role"),
    "districts": N_("districts"), "name": N_("name"), "key_id": N_("key"), "case_number": N_("case number"),
    "what": N_("what"), "settlement_id": N_("settlement"), "kind": N_("kind"),
}
CONFLICT_FIELDS = {  # reconcile.conflicts.FIELDS -> what the page calls them
    "pharmacy_id": N_("pharmacy"), "counter_id": N_("counter"), "settled_at": N_("time"),
    "card_hash": N_("card"), "amount": N_("amount"), "items": N_("item lines"),
}


def _supervisors_only(who) -> None:
    if who.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("the audit log is for supervisors and admins")


@router.get("/audit")
def audit_page(request: Request, session: SessionDep, who: CurrentUser,
               action: Annotated[str, Query(max_length=32, pattern=r"^[a-z_]*$")] = "",
               actor: Annotated[str, Query(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")] = "",
               date_from: Annotated[date | None, Query(ge=DATE_MIN, le=DATE_MAX)] = None,
               date_to: Annotated[date | None, Query(ge=DATE_MIN, le=DATE_MAX)] = None,
               page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
    _supervisors_only(who)
    tz = request.app.state.tz
    since = datetime.combine(date_from, time(0), tzinfo=tz) if date_from else None
    until = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=tz) if date_to else None
    rows = audit_log.entries(session, actions=(action,) if action else (), actor_name=actor.strip() or None,
                             since=since, until=until, limit=PAGE + 1, offset=(page - 1) * PAGE)
    params = [(k, v) for k, v in (("action", action), ("actor", actor),
                                  ("date_from", str(date_from or "")), ("date_to", str(date_to or ""))) if v]
    return request.app.state.templates.TemplateResponse(request, "audit.html", {
        "who": who, "rows": rows[:PAGE], "more": len(rows) > PAGE, "page": page, "query": urlencode(params),
        "actions": ACTIONS, "actor_kinds": ACTOR_KINDS, "subject_kinds": SUBJECT_KINDS,
        "detail_labels": DETAIL_LABELS, "f": {"action": action, "actor": actor, "date_from": date_from or "",
                                  "date_to": date_to or ""}})


@router.get("/audit/conflicts")
def conflicts_page(request: Request, session: SessionDep, who: CurrentUser,
                   page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
    """Rows whose settlement id was stored with other content, newest first: rejected, never audited.
    Scoped like every page: a conflict shows when the stored settlement's pharmacy is in the
    caller's districts (an unscoped caller sees all)."""
    _supervisors_only(who)
    rows = conflicts_db.listing(session, districts=who.districts, limit=PAGE + 1, offset=(page - 1) * PAGE)
    return request.app.state.templates.TemplateResponse(request, "conflicts.html", {
        "who": who, "rows": rows[:PAGE], "more": len(rows) > PAGE, "page": page, "labels": CONFLICT_FIELDS})
