"""Signing in: the rate limit, then the password check, which takes as long for a name that does not
exist (or is disabled) as for a wrong password, so that timing does not tell which names exist."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.ratelimit import LoginLimiter
from database import accounts
from database.models import User
from rxaudit.errors import AuthError


def sign_in(session: Session, limiter: LoginLimiter, *, name: str, password: str, address: str) -> User:
    """The account, or ``RateLimited`` / ``AuthError``; failures count against (name, address)."""
    limiter.check(name, address)
    try:
        user = accounts.authenticate(session, name=name, password=password)
    except AuthError:  # authenticate ran one password check either way: timing tells nothing
        limiter.failed(name, address)
        raise
    limiter.succeeded(name, address)
    return user
