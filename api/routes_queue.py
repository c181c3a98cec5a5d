"""The queue and verdicts: the queue page (open flags first), one verdict (optionally for the flag's
whole cluster), bulk verdicts (a dismissal needs its reason), and undoing a batch by its author.

A verdict is saved at once; auto-advance leads to the next open flag in the queue's order and filters,
and that page carries the undo notice (``api.review_flow``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from api import i18n, review_flow, review_nav
from api.corrections import frame_size
from api.deps import CurrentUser, SessionDep, check_csrf
from api.reasons import DISMISS_REASONS
from api.schemas import DB_INT_MAX, BoxesText, FlagId, Note, QueryText, Token
from database import audit_log, queries, verdicts
from database.models import utcnow
from rxaudit.boxes import parse_boxes
from rxaudit.domain import FlagKind, ReviewStatus
from rxaudit.errors import InputError
from rxaudit.security import Principal, VerdictAction

router = APIRouter(include_in_schema=False)
BULK_LIMIT = 1000
FormFlagId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
BatchId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
DismissReason = Literal["wrong_detection", "customer_off_camera", "clock_offset", "other"]
# one list, three spellings: the form's type, the labels, what the database accepts
assert set(DismissReason.__args__) == set(DISMISS_REASONS) == set(verdicts.DISMISS_REASONS)  # noqa: S101
NEED_REASON = i18n.N_("A bulk dismissal needs a reason: pick why these flags are dismissed.")
UNDO_LATE = i18n.N_("The time to undo this verdict has passed; give a new verdict instead.")
UNDO_TWICE = i18n.N_("This verdict has already been undone.")


def audit_verdict(session: Session, who: Principal, flag_ids: list[int], *, action: VerdictAction, reason: str,
                  bulk: bool, batch_id: int, cluster: bool = False) -> None:
    """One audit-log entry per verdict request (a bulk or cluster verdict: one entry naming every flag)."""
    audit_log.record(session, principal=who, action="verdict", subject="flags:" + ",".join(map(str, flag_ids)),
                     detail={"flag_ids": flag_ids, "action": str(action), "reason": reason or None, "bulk": bulk,
                             "cluster": cluster, "batch_id": batch_id})


def render(request: Request, name: str, **context) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context)


def _kept(query: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in QueryParams(query).multi_items() if k not in ("page", "done") and v.strip()]


def _to_flag(flag_id: int, query: str) -> str:
    kept = urlencode(_kept(query))
    return f"/flags/{flag_id}{'?' + kept if kept else ''}"


@router.get("/flags")
def queue(request: Request, session: SessionDep, who: CurrentUser) -> HTMLResponse:
    q = review_nav.query_from(request.query_params.multi_items())
    page = queries.list_flags(session, who, q.filters(), request.app.state.tz)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "done") and v.strip()]
    shown = [(k, v) for k, v in params if k != "status"] + [("status", str(s)) for s in q.status]
    s = request.app.state.settings
    bulk_batches = verdicts.open_bulk_batches(session, who, since=utcnow() - timedelta(seconds=s.bulk_undo_s))
    return render(request, "queue.html", who=who, page=page, q=q, query=urlencode(params),
                  export_query=urlencode(shown), kinds=[str(k) for k in FlagKind],
                  statuses=[str(s) for s in ReviewStatus], any_status=review_nav.ANY_STATUS,
                  dismiss_reasons=DISMISS_REASONS, pages=max(1, -(-page.total // page.page_size)),
                  undo=review_flow.undo_notice(session, request, who), bulk_batches=bulk_batches,
                  without_district=queries.flags_without_district(session, who, request.app.state.tz),
                  districts=queries.district_choices(session, who))


@router.post("/flags/{flag_id}/verdict")
def verdict(flag_id: FlagId, request: Request, session: SessionDep, who: CurrentUser,
            action: Annotated[VerdictAction, Form()], csrf: Annotated[Token, Form()],
            note: Annotated[Note, Form()] = "",
            boxes: Annotated[BoxesText, Form()] = "",
            reason: Annotated[DismissReason | Literal[""], Form()] = "",
            then: Annotated[FormFlagId | None, Form()] = None,
            advance: Annotated[bool, Form()] = False,
            cluster: Annotated[bool, Form()] = False,
            query: Annotated[QueryText, Form()] = "") -> RedirectResponse:
    """Saved at once. ``advance`` (or the older ``then``): go on to the next open flag in the queue's
    order and filters (``query``), else back to this flag. ``cluster``: the same verdict on each open
    flag of its cluster the reviewer may see, one verdict row per flag."""
    check_csrf(who, csrf)
    view = queries.get_flag(session, who, flag_id)  # scoping first: 404 before 422
    q = review_nav.query_from(QueryParams(query).multi_items())
    corrected = None
    if boxes.strip():  # in the pixels of the flag's frame
        corrected = parse_boxes(boxes, frame_size(request.app.state.settings, view))
    siblings = review_flow.cluster_open(session, who, view, request) if cluster else []
    ids = [flag_id, *(v.flag.id for v in siblings)]
    given = verdicts.give(session, who, flag_ids=ids, action=action, note=note, boxes=corrected,
                          reason=reason or None)
    audit_verdict(session, who, ids, action=action, reason=reason, bulk=False, batch_id=given[0].id,
                  cluster=bool(siblings))
    session.commit()  # before the redirect: the page it leads to shows this verdict
    if advance or then is not None:
        nxt = review_nav.next_open(session, who, view.flag, q.filters(), request.app.state.tz, skip=tuple(ids))
        if nxt is None:
            kept = urlencode(_kept(query))
            return RedirectResponse(f"/flags{'?' + kept if kept else ''}", status_code=303)
        return RedirectResponse(_to_flag(nxt, query), status_code=303)
    return RedirectResponse(f"/flags/{flag_id}#history", status_code=303)


@router.post("/flags/bulk-verdict")
def bulk_verdict(request: Request, session: SessionDep, who: CurrentUser,
                 action: Annotated[VerdictAction, Form()], csrf: Annotated[Token, Form()],
                 ids: Annotated[list[FormFlagId], Form(max_length=BULK_LIMIT)] = [],  # noqa: B006
                 query: Annotated[QueryText, Form()] = "",
                 note: Annotated[Note, Form()] = "",
                 reason: Annotated[DismissReason | Literal[""], Form()] = "",
                 include_decided: Annotated[bool, Form()] = False,
                 confirmed: Annotated[bool, Form()] = False) -> Response:
    """One verdict for the flags ticked on the queue. First a confirmation page with the count (flags
    already decided are skipped unless ``include_decided``); the verdicts are written, each marked as
    bulk in the history, only when that page is submitted (``confirmed``). A dismissal needs its
    reason (422). The author may undo it for ``bulk_undo_s`` from the queue."""
    check_csrf(who, csrf)
    items = QueryParams(query).multi_items()
    review_nav.query_from(items)  # the queue's filters, only to go back to them: refuse what the queue would
    if not ids:
        raise InputError("tick at least one flag for a bulk verdict")
    views = [queries.get_flag(session, who, i) for i in dict.fromkeys(ids)]  # scoping first: 404 before 422
    if action == VerdictAction.DISMISS and not reason:
        raise InputError(i18n.gettext_for(i18n.request_lang(request))(NEED_REASON))
    chosen = [v for v in views if include_decided or v.flag.review_status == ReviewStatus.OPEN]
    skipped = len(views) - len(chosen)
    kept = [(k, v) for k, v in items if k != "done"]
    if not confirmed:
        return render(request, "bulk_confirm.html", who=who, action=str(action), note=note, reason=reason,
                      chosen=chosen, skipped=skipped, include_decided=include_decided, query=urlencode(kept),
                      undo_minutes=max(1, round(request.app.state.settings.bulk_undo_s / 60)))
    given = verdicts.give(session, who, flag_ids=[v.flag.id for v in chosen], action=action, note=note,
                          reason=reason or None, bulk=True)
    if given:
        audit_verdict(session, who, [v.flag.id for v in chosen], action=action, reason=reason, bulk=True,
                      batch_id=given[0].id)
    session.commit()
    return RedirectResponse(f"/flags?{urlencode([*kept, ('done', len(chosen))])}", status_code=303)


@router.post("/verdicts/{batch_id}/undo")
def undo(batch_id: BatchId, request: Request, session: SessionDep, who: CurrentUser,
         csrf: Annotated[Token, Form()], query: Annotated[QueryText, Form()] = "") -> RedirectResponse:
    """Take back a batch of verdicts (one flag, a cluster, a bulk selection): its author only, within
    ``verdict_undo_s`` (``bulk_undo_s`` for a bulk verdict). Back to the flag (the queue for a bulk one)."""
    check_csrf(who, csrf)
    review_nav.query_from(QueryParams(query).multi_items())
    s = request.app.state.settings
    _ = i18n.gettext_for(i18n.request_lang(request))
    b = verdicts.batch(session, batch_id)
    try:
        result = verdicts.undo(session, who, batch_id=batch_id, verdict_undo_s=s.verdict_undo_s,
                               bulk_undo_s=s.bulk_undo_s)
    except verdicts.UndoRefused as exc:
        raise InputError(_(UNDO_TWICE if exc.twice else UNDO_LATE)) from exc
    audit_log.record(session, principal=who, action="verdict_undo", subject="flags:" + ",".join(map(str, b.flag_ids)),
                     detail={"batch_id": batch_id, "restored": result.restored, "kept": result.kept,
                             "bulk": b.bulk})
    session.commit()
    if b.bulk:
        kept = urlencode(_kept(query))
        return RedirectResponse(f"/flags{'?' + kept if kept else ''}", status_code=303)
    return RedirectResponse(_to_flag(b.flag_ids[0], query), status_code=303)
