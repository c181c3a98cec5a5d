"""Who is asking, and the secrets that prove it.

Passwords: argon2id (argon2-cffi). API keys and session tokens: 32 random bytes shown once; only their
SHA-256 is stored (they are high-entropy, so a fast hash is the right one). Scoping: a principal sees
the districts it lists, or every district when ``districts`` is None.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
KEY_PREFIX = "rxa_"


class Role(enum.StrEnum):
    INSPECTOR = "inspector"  # reviews flags in their own districts
    SUPERVISOR = "supervisor"  # every district; may reopen verdicts
    ADMIN = "admin"  # users, keys, settings; sees every district, gives no verdicts


class VerdictAction(enum.StrEnum):
    CONFIRM = "confirm"
    DISMISS = "dismiss"
    ESCALATE = "escalate"
    REOPEN = "reopen"


VERDICT_STATUS = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated", "reopen": "open"}


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise ValueError("passwords need at least 10 characters")
    return _hasher.hash(password)


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password, made once: unknown names are checked against it."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """``None`` (no such account) still runs one argon2 verification, against :func:`dummy_hash`, so
    that a wrong name takes as long to refuse as a wrong password."""
    try:
        return _hasher.verify(password_hash or dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


NAME_MAX = 64  # user and API key names, districts: String(64) columns


def check_name(value: str, what: str = "name") -> str:
    """A user or key name, or a district: 1 to 64 characters, no control characters (ValueError)."""
    if not 0 < len(value) <= NAME_MAX or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{what}: 1 to {NAME_MAX} characters, no control characters")
    return value


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" or "apikey"
    id: int
    name: str
    role: Role | None  # None for API keys: read-only
    districts: frozenset[str] | None  # None: every district
    csrf_token: str | None = None
    scope: str = "read"  # an API key's: "read" (the wall) or "ingest" (may only post settlements)

    @property
    def can_review(self) -> bool:
        return self.kind == "user" and self.role in (Role.INSPECTOR, Role.SUPERVISOR)

    def may(self, action: VerdictAction) -> bool:
        if not self.can_review:
            return False
        return action != VerdictAction.REOPEN or self.role == Role.SUPERVISOR

    def sees(self, district: str | None) -> bool:
        return self.districts is None or (district is not None and district in self.districts)
