"""Who is asking, where a browser may carry a stream token instead of a key or a cookie: the live
feed and the evidence files (``?token=``). Everything else takes only keys and sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from api.deps import COOKIE, SessionDep, optional_viewer, viewer
from api.stream_tokens import TOKEN_MAX, principal_for, verify
from rxaudit.security import Principal, digest

TokenParam = Annotated[str | None, Query(max_length=TOKEN_MAX, pattern=r"^[A-Za-z0-9_\-.]*$",
                                         description="a stream token (POST /api/v1/stream-tokens)")]


def credential_of(request: Request, principal: Principal) -> tuple[str, str]:
    """(kind, ref) of the credential a request authenticated with: an API key's id, or the digest
    of the session cookie."""
    if principal.kind == "apikey":
        return "apikey", str(principal.id)
    return "session", digest(request.cookies.get(COOKIE, ""))


def reader(request: Request, session: SessionDep, token: TokenParam = None) -> Principal:
    """A stream token when one is given (and valid), else an API key or a session."""
    if token:
        return principal_for(session, verify(request.app.state.settings, token))
    return viewer(optional_viewer(request, session))


Reader = Annotated[Principal, Depends(reader)]
