"""The inspectors' review UI: server-rendered pages, no external assets."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import QueryParams

from api.deps import COOKIE, CurrentUser, SessionDep, check_csrf
from api.schemas import FlagQuery
from rxaudit.db import accounts, queries
from rxaudit.db.verdicts import parse_boxes, record_verdict
from rxaudit.domain import FlagKind, ReviewStatus
from rxaudit.errors import AuthError, InputError
from rxaudit.security import VerdictAction, new_secret, same

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "rxaudit_login_csrf"
BULK_LIMIT = 1000


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


def render(request: Request, name: str, **context) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context)


@router.get("/login")
def login_form(request: Request, error: str | None = None) -> HTMLResponse:
    token = new_secret()
    response = render(request, "login.html", csrf=token, error=error)
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict",
                        secure=request.app.state.settings.cookie_secure)
    return response


@router.post("/login")
def login(request: Request, session: SessionDep, name: Annotated[str, Form()],
          password: Annotated[str, Form()], csrf: Annotated[str, Form()]) -> RedirectResponse:
    cookie = request.cookies.get(LOGIN_CSRF, "")
    if not cookie or not same(cookie, csrf):
        return RedirectResponse("/login?error=Session+expired,+try+again", status_code=303)
    limiter = request.app.state.login_limiter
    keys = (f"name:{name}", f"ip:{request.client.host if request.client else '?'}")
    limiter.check(*keys)
    try:
        user = accounts.authenticate(session, name=name, password=password)
    except AuthError:
        limiter.failed(*keys)
        return RedirectResponse("/login?error=Wrong+name+or+password", status_code=303)
    limiter.succeeded(keys[0])
    token, _ = accounts.open_session(session, user=user, hours=request.app.state.settings.session_hours)
    session.commit()  # before the redirect: the browser's next request must find the session
    response = RedirectResponse("/flags", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=request.app.state.settings.cookie_secure,
                        max_age=int(request.app.state.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, who: CurrentUser,
           csrf: Annotated[str, Form()]) -> RedirectResponse:
    check_csrf(who, csrf)
    accounts.close_session(session, token=request.cookies.get(COOKIE, ""))
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/flags", status_code=303)


@router.get("/flags")
def queue(request: Request, session: SessionDep, who: CurrentUser) -> HTMLResponse:
    q = query_from(request.query_params.multi_items())
    page = queries.list_flags(session, who, q.filters(), request.app.state.tz)
    params = [(k, v) for k, v in request.query_params.multi_items()
              if k not in ("page", "done") and v.strip()]
    return render(request, "queue.html", who=who, page=page, q=q, query=urlencode(params),
                  kinds=[str(k) for k in FlagKind], statuses=[str(s) for s in ReviewStatus],
                  pages=max(1, -(-page.total // page.page_size)))


@router.get("/flags/{flag_id}")
def flag_page(flag_id: int, request: Request, session: SessionDep, who: CurrentUser) -> HTMLResponse:
    view = queries.get_flag(session, who, flag_id)
    settings = request.app.state.settings
    _, check, _, other_kinds = queries.get_settlement(session, who, view.settlement.settlement_id)
    return render(request, "flag.html", who=who, view=view, check=check, other_kinds=other_kinds,
                  history=queries.verdict_history(session, flag_id),
                  related=queries.related(session, who, view, face_threshold=settings.face_distance_threshold),
                  tz=request.app.state.tz, actions=[a for a in VerdictAction if who.may(a)])


@router.post("/flags/{flag_id}/verdict")
def verdict(flag_id: int, session: SessionDep, who: CurrentUser, action: Annotated[VerdictAction, Form()],
            csrf: Annotated[str, Form()], note: Annotated[str, Form()] = "",
            boxes: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(who, csrf)
    record_verdict(session, who, flag_id=flag_id, action=action, note=note, boxes=parse_boxes(boxes))
    session.commit()  # before the redirect: the page it leads to shows this verdict
    return RedirectResponse(f"/flags/{flag_id}#history", status_code=303)


@router.post("/flags/bulk-verdict")
def bulk_verdict(request: Request, session: SessionDep, who: CurrentUser,
                 action: Annotated[VerdictAction, Form()], csrf: Annotated[str, Form()],
                 query: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> RedirectResponse:
    """Applies one verdict to every flag the filters select (that the user may see)."""
    check_csrf(who, csrf)
    q = query_from(QueryParams(query).multi_items())
    ids = queries.all_flag_ids(session, who, q.filters(), request.app.state.tz, BULK_LIMIT)
    for flag_id in ids:
        record_verdict(session, who, flag_id=flag_id, action=action, note=note)
    session.commit()
    return RedirectResponse(f"/flags?{query}&done={len(ids)}", status_code=303)


@router.get("/wall")
def wall(request: Request, who: CurrentUser) -> HTMLResponse:
    return render(request, "wall.html", who=who)
