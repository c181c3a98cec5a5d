"""``create_app(settings)``: the FastAPI application (review UI + monitoring-wall API).

Routes stay thin; errors from the exception tree map to HTTP status codes in one handler
(``rxaudit.errors.HTTP_STATUS``); a database held by another writer (``rxaudit.errors.database_busy``)
goes through the same handler as ``Busy``: 503 with ``Retry-After``, never a 500. Open without
credentials: ``/health``, the sign-in form and the static CSS/JS it needs; everything else needs a
session cookie or an API key. Every response gets the security headers of ``api.headers`` (no inline
script may run; pages and API answers are not cached).
"""

from __future__ import annotations

import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from api import (i18n, openapi_security, routes_api, routes_audit_page, routes_cameras, routes_cameras_page,
                 routes_events, routes_evidence, routes_ingest, routes_live, routes_pages, routes_queue,
                 routes_tokens)
from api.cors import add_cors
from api.deps import NotSignedIn
from api.headers import SecurityHeaders
from api.ratelimit import LoginLimiter, networks
from rxaudit import __version__
from database.engine import make_engine, migrate, session_factory
from rxaudit.errors import HTTP_STATUS, Busy, ExportsBusy, NotFound, RxauditError, database_busy, lookup
from rxaudit.security import dummy_hash
from rxaudit.settings import Settings

HERE = Path(__file__).resolve().parent
BUSY = i18n.N_("The database is busy with another job (an audit): nothing was saved. Try again in a few seconds.")
EXPORTS_BUSY = i18n.N_("Other case files are being built right now. Try again in a few seconds.")
PAGE_TEXT = {Busy: BUSY, ExportsBusy: EXPORTS_BUSY}  # errors whose page text is translated
LOCK_TIMEOUT_MS = 5_000  # PostgreSQL: a request waits this long for a held lock (SQLite's busy_timeout too)
EXPORTS_AT_ONCE = 2  # case files one server process builds at once (each may use a core for its PDF)


# pages posted only by the browser's own form (no script reads their answers): an error there is the
# error page whatever Accept says, never raw JSON in place of the form
PLAIN_FORMS = frozenset({"/login", "/logout"})


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "")
    if request.method == "POST" and request.url.path in PLAIN_FORMS:
        return "application/json" not in accept
    return "text/html" in accept


def _bound_lock_waits(engine: Engine) -> None:
    """PostgreSQL: the server's own connections give up on a held lock after ``LOCK_TIMEOUT_MS``
    (lock_not_available, answered as Busy: 503 + Retry-After) rather than waiting for a long audit's
    transaction to end. Added to the connection's startup ``options``, so a rollback keeps it; the
    audit job's engines are not the server's and keep waiting."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "do_connect")
    def _lock_timeout(_dialect, _record, _cargs, cparams: dict) -> None:
        cparams["options"] = f"{cparams.get('options', '')} -c lock_timeout={LOCK_TIMEOUT_MS}".strip()

    engine.dispose()  # connections pooled before (migrations) were opened without it


def create_app(settings: Settings, *, migrate_db: bool = True) -> FastAPI:
    # No public /docs or /openapi.json: every route but /health needs credentials, and Swagger UI
    # would load its scripts from a CDN that closed city networks cannot reach.
    app = FastAPI(title="rxaudit", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  description="Review UI and monitoring-wall API for rxaudit flags.")
    engine = make_engine(settings.db_url)
    if migrate_db:
        migrate(engine)
    _bound_lock_waits(engine)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.tz = ZoneInfo(settings.display_timezone)
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"), context_processors=[i18n.context])
    app.state.templates.env.autoescape = True  # stored text is never markup, whatever the template
    i18n.install(app.state.templates.env, app.state.tz)  # gettext catalogs + the one time format
    app.state.login_limiter = LoginLimiter(settings.login_max_failures,
                                           settings.login_max_failures_per_address, settings.login_window_s)
    app.state.trusted_proxies = networks(settings.trusted_proxies)
    app.state.export_slots = threading.BoundedSemaphore(EXPORTS_AT_ONCE)
    dummy_hash()  # made now, so that the first unknown name is not slower than the rest

    @app.exception_handler(RxauditError)
    async def _rxaudit_error(request: Request, exc: RxauditError) -> Response:
        if isinstance(exc, NotSignedIn) and not request.url.path.startswith("/api/"):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        status = lookup(HTTP_STATUS, exc, 500)
        detail = "not found" if isinstance(exc, NotFound) else str(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if _wants_html(request):
            if type(exc) in PAGE_TEXT:
                detail = i18n.gettext_for(i18n.request_lang(request))(PAGE_TEXT[type(exc)])
            return app.state.templates.TemplateResponse(
                request, "error.html", {"status": status, "detail": detail}, status_code=status, headers=headers)
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        if not database_busy(exc):
            raise exc  # a real fault: the server error it always was
        return await _rxaudit_error(request, Busy(BUSY))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        detail = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        if _wants_html(request):  # a form or a link: the error page, not raw JSON
            text = "; ".join(f"{'.'.join(map(str, d['loc'][1:])) or d['loc'][0]}: {d['msg']}" for d in detail)
            return app.state.templates.TemplateResponse(
                request, "error.html", {"status": 422, "detail": text}, status_code=422)
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(routes_api.router)
    app.include_router(routes_cameras.router)
    app.include_router(routes_tokens.router)
    app.include_router(routes_ingest.router)
    app.include_router(routes_events.router)
    app.include_router(routes_evidence.router)
    app.include_router(routes_queue.router)
    app.include_router(routes_pages.router)
    app.include_router(routes_audit_page.router)
    app.include_router(routes_cameras_page.router)
    app.include_router(routes_live.api)
    app.include_router(routes_live.pages)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    add_cors(app, settings)  # CORS (when cors_origins lists any) inside the security headers
    app.add_middleware(SecurityHeaders)
    openapi_security.install(app)
    return app
