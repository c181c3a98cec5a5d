"""FastAPI dependencies: the database session, who is asking, and CSRF for cookie-authenticated
forms. ``SessionDep``, ``Viewer`` (user or read API key), ``CurrentUser`` (a signed-in person),
``IngestKey`` (an ingest API key: it posts settlements and reads nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from database.accounts import api_key_principal, session_principal
from rxaudit.errors import AuthError, Forbidden
from rxaudit.security import Principal, same

COOKIE = "rxaudit_session"


def get_session(request: Request) -> Iterator[Session]:
    """One session per request. Its final commit may run after the response is sent, so routes
    whose response leads the client to read what they wrote commit explicitly first."""
    factory = request.app.state.sessions
    with factory() as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session)]


class NotSignedIn(AuthError):
    """No valid session cookie: pages redirect to the sign-in form, the API answers 401."""


def bearer_key(request: Request, session: Session) -> Principal | None:
    """The API key of ``Authorization: Bearer KEY`` (None: no such header)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    principal = api_key_principal(session, key=header[7:].strip())
    if principal is None:
        raise AuthError("invalid or revoked API key")
    return principal


def optional_viewer(request: Request, session: SessionDep) -> Principal | None:
    """Who reads: a read key or a signed-in user. Every read route comes through here (pages, the
    API, the event stream, stream tokens), so an ingest key is refused on all of them at once."""
    principal = bearer_key(request, session)
    if principal is not None:
        if principal.scope != "read":
            raise Forbidden("this API key may only post settlements (POST /api/v1/settlements)")
        return principal
    token = request.cookies.get(COOKIE)
    if token:
        return session_principal(session, token=token)
    return None


def viewer(principal: Annotated[Principal | None, Depends(optional_viewer)]) -> Principal:
    if principal is None:
        raise NotSignedIn("sign in or send Authorization: Bearer KEY")
    return principal


def current_user(principal: Annotated[Principal, Depends(viewer)]) -> Principal:
    if principal.kind != "user":
        raise Forbidden("API keys are read-only")
    return principal


def ingest_key(request: Request, session: SessionDep) -> Principal:
    """An ingest key (``rxaudit apikey create --scope ingest``): read keys and signed-in users may not
    post settlements."""
    principal = bearer_key(request, session)
    if principal is None and request.cookies.get(COOKIE):
        raise Forbidden("only ingest API keys may post settlements, not signed-in users")
    if principal is None:
        raise AuthError("send Authorization: Bearer KEY (an ingest key)")
    if principal.scope != "ingest":
        raise Forbidden("only ingest API keys may post settlements (rxaudit apikey create --scope ingest)")
    return principal


Viewer = Annotated[Principal, Depends(viewer)]
IngestKey = Annotated[Principal, Depends(ingest_key)]
CurrentUser = Annotated[Principal, Depends(current_user)]


def check_csrf(principal: Principal, token: str | None) -> None:
    if not token or principal.csrf_token is None or not same(token, principal.csrf_token):
        raise Forbidden("missing or wrong CSRF token; reload the page")
