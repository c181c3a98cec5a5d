"""``POST /api/v1/stream-tokens``: a short-lived token for a browser's ``EventSource`` and
``<img>`` / ``<video>`` on another origin (see ``api.stream_tokens``)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request

from api.deps import SessionDep, Viewer, check_csrf
from api.schemas import StreamTokenIn, StreamTokenOut
from api.stream_tokens import issue
from api.token_deps import credential_of

router = APIRouter(prefix="/api/v1", tags=["wall"])


@router.post("/stream-tokens", response_model=StreamTokenOut, status_code=201,
             summary="A short-lived token for the event stream and evidence files")
def stream_token(request: Request, session: SessionDep, who: Viewer,
                 body: StreamTokenIn | None = None) -> StreamTokenOut:
    """Scoped like the caller (its districts, its key or session) and valid at most 5 minutes;
    revoking the key or signing out voids it. A session caller sends its page's CSRF token in
    ``X-CSRF-Token`` (a cross-site form cannot)."""
    if who.kind == "user":
        check_csrf(who, request.headers.get("x-csrf-token"))
    settings = request.app.state.settings
    ttl = min(body.ttl_s if body and body.ttl_s else settings.stream_token_ttl_s, settings.stream_token_ttl_s)
    kind, ref = credential_of(request, who)
    token, expires = issue(settings, who, kind=kind, ref=ref, ttl_s=ttl)
    when = datetime.fromtimestamp(expires, UTC).astimezone(request.app.state.tz)
    return StreamTokenOut(token=token, expires_at=when, expires_in=ttl,
                          districts=None if who.districts is None else sorted(who.districts))
