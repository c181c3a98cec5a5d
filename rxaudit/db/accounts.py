"""Users, API keys, login sessions and pharmacies: keyword-only functions over a Session."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rxaudit.db.models import ApiKey, LoginSession, Pharmacy, User, utcnow
from rxaudit.errors import AuthError, InputError
from rxaudit.security import (KEY_PREFIX, Principal, Role, digest, hash_password, new_secret,
                              verify_password)


def _districts(values: list[str] | None) -> dict:
    return {"districts": sorted(set(values or []))}


def add_user(session: Session, *, name: str, role: Role, password: str, districts: list[str]) -> User:
    if role == Role.INSPECTOR and not districts:
        raise InputError("an inspector needs at least one --district")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise InputError(f"user {name!r} exists already")
    user = User(name=name, role=str(role), password_hash=hash_password(password),
                districts=_districts(districts if role == Role.INSPECTOR else []))
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, name: str, password: str) -> None:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise InputError(f"no user {name!r}")
    user.password_hash = hash_password(password)


def user_principal(user: User, csrf_token: str | None = None) -> Principal:
    role = Role(user.role)
    districts = frozenset(user.districts.get("districts", [])) if role == Role.INSPECTOR else None
    return Principal("user", user.id, user.name, role, districts, csrf_token)


def authenticate(session: Session, *, name: str, password: str) -> User:
    user = session.scalar(select(User).where(User.name == name, User.active.is_(True)))
    if user is None or not verify_password(user.password_hash, password):
        raise AuthError("wrong name or password")
    return user


def open_session(session: Session, *, user: User, hours: float) -> tuple[str, str]:
    """A new login session: returns (cookie token, csrf token). Expired sessions are removed."""
    session.execute(delete(LoginSession).where(LoginSession.expires_at < utcnow()))
    token, csrf = new_secret(), new_secret()
    session.add(LoginSession(token_hash=digest(token), user_id=user.id, csrf_token=csrf,
                             expires_at=utcnow() + timedelta(hours=hours)))
    return token, csrf


def session_principal(session: Session, *, token: str) -> Principal | None:
    row = session.get(LoginSession, digest(token))
    if row is None or row.expires_at < utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user_principal(user, row.csrf_token)


def close_session(session: Session, *, token: str) -> None:
    row = session.get(LoginSession, digest(token))
    if row is not None:
        session.delete(row)


def create_api_key(session: Session, *, name: str, districts: list[str]) -> tuple[ApiKey, str]:
    key = new_secret(KEY_PREFIX)
    row = ApiKey(name=name, key_hash=digest(key), districts=_districts(districts))
    session.add(row)
    session.flush()
    return row, key


def revoke_api_key(session: Session, *, key_id: int) -> None:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise InputError(f"no API key with id {key_id}")
    row.revoked_at = utcnow()


def api_key_principal(session: Session, *, key: str) -> Principal | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(key)))
    if row is None or row.revoked_at is not None:
        return None
    districts = row.districts.get("districts", [])
    return Principal("apikey", row.id, row.name, None, frozenset(districts) if districts else None)


def load_pharmacies(session: Session, *, path: Path) -> tuple[int, list[str]]:
    """Upsert ``pharmacy_id, name, district`` rows; returns (loaded, problems with line numbers)."""
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    loaded, problems = 0, []
    with fh:
        reader = csv.DictReader(fh)
        missing = {"pharmacy_id", "name", "district"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{path}: header lacks column(s) {', '.join(sorted(missing))}")
        for row in reader:
            pid, district = (row.get("pharmacy_id") or "").strip(), (row.get("district") or "").strip()
            if not pid or not district:
                problems.append(f"line {reader.line_num}: pharmacy_id and district are required")
                continue
            existing = session.get(Pharmacy, pid)
            name = (row.get("name") or "").strip()
            if existing is None:
                session.add(Pharmacy(pharmacy_id=pid, name=name, district=district))
            else:
                existing.name, existing.district = name, district
            loaded += 1
    return loaded, problems
