"""The inspectors' review UI: server-rendered pages, no external assets."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from api import i18n, review_nav
from api.corrections import frame_size
from api.deps import COOKIE, CurrentUser, SessionDep, check_csrf
from api.ratelimit import client_address
from api.reasons import DISMISS_REASONS
from api.schemas import DB_INT_MAX, BoxesText, FlagId, FlagQuery, Note, Password, QueryText, Token, UserName
from api.signin import sign_in
from database import accounts, audit_log, queries, verdicts
from rxaudit.boxes import parse_boxes
from database.verdicts import record_verdict
from rxaudit.domain import FlagKind, ReviewStatus
from rxaudit.errors import AuthError, InputError
from rxaudit.security import Principal, VerdictAction, new_secret, same

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "rxaudit_login_csrf"
BULK_LIMIT = 1000
FormFlagId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
DismissReason = Literal["wrong_detection", "customer_off_camera", "clock_offset", "other"]
# one list, three spellings: the form's type, the labels, what the database accepts
assert set(DismissReason.__args__) == set(DISMISS_REASONS) == set(verdicts.DISMISS_REASONS)  # noqa: S101


def query_from(items: list[tuple[str, str]]) -> FlagQuery:
    """Filters from an HTML form's query string: empty fields mean 'any'."""
    data: dict[str, list[str]] = {}
    for key, value in items:
        if value.strip():
            data.setdefault(key, []).append(value)
    data.pop("done", None)
    single = {k: v[0] for k, v in data.items() if k not in ("district", "pharmacy_id", "kind", "status")}
    multi = {k: v for k, v in data.items() if k in ("district", "pharmacy_id", "kind", "status")}
    try:
        return FlagQuery(**single, **multi)
    except ValidationError as exc:
        raise InputError("bad filter: " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from exc


def audit_verdict(session: Session, who: Principal, flag_ids: list[int], *, action: VerdictAction, reason: str, bulk: bool) -> None:
    """One audit-log entry per verdict request (a bulk verdict: one entry naming every flag)."""
    audit_log.record(session, principal=who, action="verdict",
                     subject="flags:" + ",".join(map(str, flag_ids)),
                     detail={"flag_ids": flag_ids, "action": str(action), "reason": reason or None, "bulk": bulk})


def render(request: Request, name: str, **context) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context)


@router.get("/login")
def login_form(request: Request, error: str | None = None) -> HTMLResponse:
    """``error`` picks one of the form's own messages ("expired", "wrong"); other values show none,
    so a link cannot put its words on this page."""
    token = new_secret()
    response = render(request, "login.html", csrf=token, error=error)
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict",
                        secure=request.app.state.settings.cookie_secure)
    return response


@router.post("/login")
def login(request: Request, session: SessionDep, name: Annotated[UserName, Form()],
          password: Annotated[Password, Form()], csrf: Annotated[Token, Form()]) -> RedirectResponse:
    cookie = request.cookies.get(LOGIN_CSRF, "")
    if not cookie or not same(cookie, csrf):
        return RedirectResponse("/login?error=expired", status_code=303)
    state = request.app.state
    address = client_address(request.client.host if request.client else None,
                             request.headers.get("x-forwarded-for"), state.trusted_proxies)
    try:
        user = sign_in(session, state.login_limiter, name=name, password=password, address=address)
    except AuthError:
        session.rollback()
        audit_log.record(session, principal=None, action="sign_in_failed", subject=f"user:{name}",
                         detail={"address": address})
        session.commit()
        return RedirectResponse("/login?error=wrong", status_code=303)
    token, _ = accounts.open_session(session, user=user, hours=request.app.state.settings.session_hours)
    audit_log.record(session, principal=accounts.user_principal(user), action="sign_in",
                     subject=f"user:{user.name}", detail={"address": address})
    session.commit()  # before the redirect: the browser's next request must find the session
    response = RedirectResponse("/flags", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=request.app.state.settings.cookie_secure,
                        max_age=int(request.app.state.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, who: CurrentUser,
           csrf: Annotated[Token, Form()]) -> RedirectResponse:
    check_csrf(who, csrf)
    accounts.close_session(session, token=request.cookies.get(COOKIE, ""))
    audit_log.record(session, principal=who, action="sign_out", subject=f"user:{who.name}")
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/flags", status_code=303)


@router.get("/lang/{code}")
def switch_language(code: Annotated[str, Path(max_length=8)],
                    next: Annotated[str, Query(max_length=2048)] = "/flags") -> RedirectResponse:  # noqa: A002
    """Remembers the chosen language (a year) and goes back; ``next`` must be a path on this site."""
    if code not in i18n.LANGS:
        code = i18n.DEFAULT
    target = next if next.startswith("/") and not next.startswith("//") and "\\" not in next else "/flags"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(i18n.COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


@router.get("/flags")
def queue(request: Request, session: SessionDep, who: CurrentUser) -> HTMLResponse:
    q = query_from(request.query_params.multi_items())
    page = queries.list_flags(session, who, q.filters(), request.app.state.tz)
    params = [(k, v) for k, v in request.query_params.multi_items()
              if k not in ("page", "done") and v.strip()]
    return render(request, "queue.html", who=who, page=page, q=q, query=urlencode(params),
                  kinds=[str(k) for k in FlagKind], statuses=[str(s) for s in ReviewStatus],
                  dismiss_reasons=DISMISS_REASONS,
                  pages=max(1, -(-page.total // page.page_size)),
                  without_district=queries.flags_without_district(session, who, request.app.state.tz))


@router.get("/flags/{flag_id}")
def flag_page(flag_id: FlagId, request: Request, session: SessionDep, who: CurrentUser) -> HTMLResponse:
    """One flag; the query string is the queue's filters, so previous/next follow the queue."""
    view = queries.get_flag(session, who, flag_id)
    settings = request.app.state.settings
    tz = request.app.state.tz
    q = query_from(request.query_params.multi_items())
    prev_id, next_id = review_nav.neighbours(session, who, view.flag, q.filters(), tz)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "done") and v.strip()]
    _, check, _, other_kinds = queries.get_settlement(session, who, view.settlement.settlement_id)
    items = (view.flag.evidence or {}).get("items") or []
    keyframe = next((k for k, e in enumerate(items) if e.get("keyframe")), None)
    return render(request, "flag.html", who=who, view=view, check=check, other_kinds=other_kinds,
                  history=queries.verdict_history(session, flag_id), query=urlencode(params),
                  prev_id=prev_id, next_id=next_id, keyframe=keyframe,
                  linked=review_nav.linked(session, who, view, burst_window_s=settings.burst_window_s),
                  related=queries.related(session, who, view, face_threshold=settings.face_distance_threshold),
                  tz=tz, actions=[a for a in VerdictAction if who.may(a)], dismiss_reasons=DISMISS_REASONS)


@router.post("/flags/{flag_id}/verdict")
def verdict(flag_id: FlagId, request: Request, session: SessionDep, who: CurrentUser,
            action: Annotated[VerdictAction, Form()], csrf: Annotated[Token, Form()],
            note: Annotated[Note, Form()] = "",
            boxes: Annotated[BoxesText, Form()] = "",
            reason: Annotated[DismissReason | Literal[""], Form()] = "",
            then: Annotated[FormFlagId | None, Form()] = None,
            query: Annotated[QueryText, Form()] = "") -> RedirectResponse:
    """``then``: the flag to open next (auto-advance), with the queue's filters in ``query``."""
    check_csrf(who, csrf)
    corrected = None
    if boxes.strip():  # in the pixels of the flag's frame (scoping first: 404 before 422)
        corrected = parse_boxes(boxes, frame_size(request.app.state.settings, queries.get_flag(session, who, flag_id)))
    record_verdict(session, who, flag_id=flag_id, action=action, note=note, boxes=corrected, reason=reason or None)
    audit_verdict(session, who, [flag_id], action=action, reason=reason, bulk=False)
    session.commit()  # before the redirect: the page it leads to shows this verdict
    if then is not None:
        kept = urlencode([(k, v) for k, v in QueryParams(query).multi_items() if k not in ("page", "done")])
        return RedirectResponse(f"/flags/{then}{'?' + kept if kept else ''}", status_code=303)
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
    bulk in the history, only when that page is submitted (``confirmed``)."""
    check_csrf(who, csrf)
    items = QueryParams(query).multi_items()
    query_from(items)  # the queue's filters, only to go back to them: refuse what the queue would
    if not ids:
        raise InputError("tick at least one flag for a bulk verdict")
    views = [queries.get_flag(session, who, i) for i in dict.fromkeys(ids)]
    chosen = [v for v in views if include_decided or v.flag.review_status == ReviewStatus.OPEN]
    skipped = len(views) - len(chosen)
    kept = [(k, v) for k, v in items if k != "done"]
    if not confirmed:
        return render(request, "bulk_confirm.html", who=who, action=str(action), note=note, reason=reason,
                      chosen=chosen, skipped=skipped, include_decided=include_decided, query=urlencode(kept))
    for v in chosen:
        record_verdict(session, who, flag_id=v.flag.id, action=action, note=note, reason=reason or None,
                       bulk=True)
    audit_verdict(session, who, [v.flag.id for v in chosen], action=action, reason=reason, bulk=True)
    session.commit()
    return RedirectResponse(f"/flags?{urlencode([*kept, ('done', len(chosen))])}", status_code=303)


@router.get("/wall")
def wall(request: Request, who: CurrentUser) -> HTMLResponse:
    return render(request, "wall.html", who=who, kinds=[str(k) for k in FlagKind],
                  statuses=[str(s) for s in ReviewStatus])
