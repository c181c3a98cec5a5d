"""Signing in: the rate limit, then the password check, which takes as long for a name that does not
exist (or is disabled) as for a wrong password, so that timing does not tell which names exist."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.ratelimit import LoginLimiter
from rxaudit.db import accounts
from rxaudit.db.models import User
from rxaudit.errors import AuthError
from rxaudit.security import verify_password


def sign_in(session: Session, limiter: LoginLimiter, *, name: str, password: str, address: str) -> User:
    """The account, or ``RateLimited`` / ``AuthError``; failures count against (name, address)."""
    limiter.check(name, address)
    try:
        user = accounts.authenticate(session, name=name, password=password)
    except AuthError:
        known = session.scalar(select(User.id).where(User.name == name, User.active.is_(True)))
        if known is None:  # authenticate checked no hash: check one, as for a wrong password
            verify_password(None, password)
        limiter.failed(name, address)
        raise
    limiter.succeeded(name, address)
    return user
