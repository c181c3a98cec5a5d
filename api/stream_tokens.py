"""Short-lived signed tokens for browsers that cannot send an API key: ``EventSource`` (no custom
headers) and ``<img>`` / ``<video>`` on another origin.

``POST /api/v1/stream-tokens`` gives the caller (API key or signed-in session) a token scoped like
itself: it names the caller's credential (the API key's id, or the session's token digest), its
districts and an expiry (at most ``MAX_TTL_S``). It is ``<payload>.<signature>``, both base64url;
the signature is HMAC-SHA256 under a key derived from ``card_hash_key`` (domain-separated, so the
card hashes and the tokens never share a key). A token proves nothing on its own: every use
re-checks the credential it names (a revoked key or a signed-out session voids its tokens at once)
and the caller's districts now, narrowed to those signed into the token. Tokens are read-only: the
principal they give has no CSRF token, so no form accepts them.

The expiry bounds when a token may *open* a stream or fetch a file: an open stream goes on (up to
its ``max_s``) while the credential behind it lives, and ends with ``event: end`` when it goes. A
browser whose ``EventSource`` fails to reconnect after the expiry asks for a new token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from database.accounts import user_principal
from database.models import ApiKey, LoginSession, User, utcnow
from rxaudit.errors import AuthError
from rxaudit.security import Principal
from rxaudit.settings import Settings

MAX_TTL_S = 300
TOKEN_MAX = 2048  # characters: a query parameter bound


class BadToken(AuthError):
    """A stream token that is malformed, forged, expired, or whose credential is gone."""


@dataclass(frozen=True)
class TokenClaims:
    kind: str  # "apikey" | "session"
    ref: str  # the key id, or the login session's token digest
    principal_id: int
    districts: tuple[str, ...] | None  # None: every district
    expires: int  # epoch seconds


def _key(settings: Settings) -> bytes:
    return hmac.new(settings.require_card_key(), b"rxaudit stream tokens v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(settings: Settings, principal: Principal, *, kind: str, ref: str, ttl_s: int,
          now: float | None = None) -> tuple[str, int]:
    """(token, expiry in epoch seconds) for ``principal`` behind credential ``(kind, ref)``."""
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s: 1 to {MAX_TTL_S} seconds")
    expires = int((time.time() if now is None else now) + ttl_s)
    districts = None if principal.districts is None else sorted(principal.districts)
    payload = json.dumps({"k": kind, "r": ref, "p": principal.id, "d": districts, "x": expires},
                         separators=(",", ":")).encode()
    body = _b64(payload)
    sig = _b64(hmac.new(_key(settings), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}", expires


def verify(settings: Settings, token: str, *, now: float | None = None) -> TokenClaims:
    """The claims of a well-signed, unexpired token (BadToken otherwise). Does not look at the database."""
    body, dot, sig = token.partition(".")
    if not dot or len(token) > TOKEN_MAX:
        raise BadToken("malformed stream token")
    want = _b64(hmac.new(_key(settings), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(want.encode(), sig.encode()):
        raise BadToken("stream token signature does not match")
    try:
        data = json.loads(_unb64(body))
        claims = TokenClaims(str(data["k"]), str(data["r"]), int(data["p"]),
                             None if data["d"] is None else tuple(map(str, data["d"])), int(data["x"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise BadToken("malformed stream token") from exc
    if claims.kind not in ("apikey", "session"):
        raise BadToken("malformed stream token")
    if claims.expires <= (time.time() if now is None else now):
        raise BadToken("stream token expired; ask for a new one")
    return claims


def principal_for(session: Session, claims: TokenClaims) -> Principal:
    """The live principal behind a token: its credential must still be valid and belong to the
    same principal; districts are the intersection of the token's and the credential's now."""
    principal: Principal | None = None
    if claims.kind == "apikey" and claims.ref.isdigit():
        row = session.get(ApiKey, int(claims.ref))
        if row is not None and row.revoked_at is None and row.id == claims.principal_id:
            districts = row.districts.get("districts", [])
            principal = Principal("apikey", row.id, row.name, None, frozenset(districts) if districts else None)
    elif claims.kind == "session":
        found = session.execute(select(LoginSession, User).join(User, User.id == LoginSession.user_id)
                                .where(LoginSession.token_hash == claims.ref)).first()
        if found is not None:
            login, user = found
            if login.expires_at >= utcnow() and user.active and user.id == claims.principal_id:
                principal = user_principal(user)  # no CSRF token: read-only
    if principal is None:
        raise BadToken("the API key or session behind this stream token is revoked or signed out")
    if claims.districts is not None:
        narrowed = frozenset(claims.districts)
        districts = narrowed if principal.districts is None else principal.districts & narrowed
        principal = replace(principal, districts=districts)
    return principal
