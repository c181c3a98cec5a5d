"""``/api/v1/events``: Server-Sent Events of new flags, for users and API keys, district-scoped.

The route is async and checks the credential in a worker thread with a session it closes at once:
an open stream holds no database connection and no thread (see ``api.events``)."""

from __future__ import annotations

import re
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import optional_viewer, viewer
from api.events import Broadcasters, Credential
from api.stream_tokens import principal_for, verify
from api.token_deps import TokenParam, credential_of
from rxaudit.security import Principal

router = APIRouter(prefix="/api/v1", tags=["wall"])
MAX_ID = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")


def _who(request: Request, token: str | None = None) -> tuple[Principal, Credential]:
    with request.app.state.sessions() as session:
        if token:  # a stream token: its credential is the key's or session's, so revoking ends it too
            claims = verify(request.app.state.settings, token)
            return principal_for(session, claims), Credential(claims.kind, claims.ref)
        principal = viewer(optional_viewer(request, session))
    return principal, Credential(*credential_of(request, principal))


def _broadcasters(request: Request) -> Broadcasters:
    state = request.app.state
    if getattr(state, "sse", None) is None:
        state.sse = Broadcasters(state.sessions, poll_s=state.settings.sse_poll_s, tz=state.tz)
    return state.sse


def _start(after_id: int | None, last_event_id: str | None) -> int | None:
    """Where a stream starts: after ``Last-Event-ID`` (an EventSource reconnecting: the last flag
    it got), else after ``after_id``, else after the newest flag."""
    if last_event_id and _ID.fullmatch(last_event_id.strip()) and int(last_event_id) <= MAX_ID:
        return int(last_event_id)
    return after_id


@router.get("/events", summary="Server-Sent Events: new flags as they are written",
            response_class=StreamingResponse)
async def events(request: Request, after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
                 max_s: Annotated[float, Query(gt=0, le=3600)] = 3600,
                 token: TokenParam = None) -> StreamingResponse:
    """Streams ``event: flag`` messages (``id:`` the flag id, ``data:`` the flag as JSON) for flags
    the caller may see, in id order, each once. Starts after ``Last-Event-ID`` or ``after_id``,
    else after the newest flag; ``event: verdict`` (live only, not replayed) when a flag's review
    status changes. Takes an API key, a session, or ``token`` (a stream token, for a browser
    ``EventSource`` on another origin). Ends after ``max_s`` seconds, or with ``event: end`` when
    the API key is revoked or the session signs out (also for streams opened with their tokens)."""
    principal, credential = await to_thread.run_sync(_who, request, token)
    hub = _broadcasters(request).current()
    start = _start(after_id, request.headers.get("last-event-id"))
    return StreamingResponse(hub.stream(principal, credential, start, max_s=max_s),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
