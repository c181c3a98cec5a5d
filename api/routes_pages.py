"""The inspectors' review UI: server-rendered pages, no external assets."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api import review_flow
from api.review_nav import query_from  # noqa: F401 - the queue's filters, where callers have found them
from api import flag_context, i18n, review_nav
from api.deps import COOKIE, CurrentUser, SessionDep, check_csrf
from api.ratelimit import client_address
from api.reasons import DISMISS_REASONS
from api.schemas import FlagId, Password, Token, UserName
from api.signin import sign_in
from database import accounts, audit_log, queries
from rxaudit.domain import FlagKind, ReviewStatus
from rxaudit.errors import AuthError
from rxaudit.security import VerdictAction, new_secret, same

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "rxaudit_login_csrf"
# the queue, verdicts, bulk verdicts and undo: api.routes_queue


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
    return render(request, "flag.html", **review_flow.flag_page_extras(session, request, who, view),
                  who=who, view=view, check=check, other_kinds=other_kinds,
                  history=queries.verdict_history(session, flag_id), query=urlencode(params),
                  prev_id=prev_id, next_id=next_id, keyframe=keyframe,
                  linked=review_nav.linked(session, who, view, burst_window_s=settings.burst_window_s),
                  related=queries.related(session, who, view, face_threshold=settings.face_distance_threshold),
                  tz=tz, actions=[a for a in VerdictAction if who.may(a)], dismiss_reasons=DISMISS_REASONS,
                  **flag_context.facts(session, who, view, check, settings))


@router.get("/wall")
def wall(request: Request, who: CurrentUser) -> HTMLResponse:
    return render(request, "wall.html", who=who, kinds=[str(k) for k in FlagKind],
                  statuses=[str(s) for s in ReviewStatus])
