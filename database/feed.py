"""Reads for the live flag feed (``/api/v1/events``): flags strictly by id, and which of the
credentials behind open streams are still valid. Keyword-only functions over a Session."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from database.models import ApiKey, FlagRow, LoginSession, User, utcnow
from database.queries import FlagView, _base, _scoped
from rxaudit.security import Principal

_EVERY_DISTRICT = Principal("feed", 0, "feed", None, None)


def newest_flag_id(session: Session) -> int:
    return session.scalar(select(func.max(FlagRow.id))) or 0


def flags_after(session: Session, *, after_id: int, limit: int, upto: int | None = None,
                principal: Principal | None = None) -> list[FlagView]:
    """Flags with ``after_id < id [<= upto]``, ascending by id, at most ``limit``; scoped to
    ``principal``'s districts when one is given, else every flag."""
    q = _scoped(_base(), principal or _EVERY_DISTRICT).where(FlagRow.id > after_id)
    if upto is not None:
        q = q.where(FlagRow.id <= upto)
    return [FlagView(*row) for row in session.execute(q.order_by(FlagRow.id).limit(limit))]


def live_credentials(session: Session, *, key_ids: Collection[int],
                     session_hashes: Collection[str]) -> tuple[set[int], set[str]]:
    """Of the given API key ids and login-session token digests, those still valid: keys not
    revoked; sessions not signed out or expired, of active users. Two indexed queries at most."""
    keys: set[int] = set()
    sessions: set[str] = set()
    if key_ids:
        keys = set(session.scalars(select(ApiKey.id).where(
            ApiKey.id.in_(sorted(set(key_ids))), ApiKey.revoked_at.is_(None))))
    if session_hashes:
        sessions = set(session.scalars(
            select(LoginSession.token_hash).join(User, User.id == LoginSession.user_id).where(
                LoginSession.token_hash.in_(sorted(set(session_hashes))),
                LoginSession.expires_at >= utcnow(), User.active.is_(True))))
    return keys, sessions
