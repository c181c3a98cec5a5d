"""Users, API keys, login sessions and pharmacies: keyword-only functions over a Session."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ingest.csv_reader import CsvReject, open_csv
from ingest.header_map import builtin_aliases
from ingest.records import location
from ingest.reasons import RowError
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
    """The active account ``name`` if ``password`` is its own. An unknown or disabled name still
    runs one password check (against a dummy hash): refusing it takes as long as a wrong password."""
    user = session.scalar(select(User).where(User.name == name, User.active.is_(True)))
    ok = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not ok:
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


def load_pharmacies(session: Session, *, path: Path, encoding: str = "auto") -> tuple[int, list[str]]:
    """Upsert ``pharmacy_id, name, district`` rows; returns (loaded, problems with line numbers).
    Read by the shared CSV reader: UTF-8 or GB18030 (or ``encoding``), bad rows rejected."""
    columns = Pharmacy.__table__.c
    limits = {name: columns[name].type.length for name in ("pharmacy_id", "name", "district")}
    loaded, problems = 0, []
    with open_csv(path, required=("pharmacy_id", "name", "district"), encoding=encoding,
                  aliases=builtin_aliases()) as rows:  # Chinese headers too (机构名称, 所属区县, 纬度, 经度)
        for row in rows:
            if isinstance(row, CsvReject):
                problems.append(f"line {row.line}: {row.reason}")
                continue
            values = {k: (row.values.get(k) or "").strip() for k in limits}
            try:
                if not values["pharmacy_id"] or not values["district"]:
                    raise RowError(None, "pharmacy_id and district are required")
                for name, limit in limits.items():
                    if len(values[name]) > limit:
                        raise RowError(name, f"is longer than {limit} characters")
                where = location(row.values)  # optional lat,lon (card_conflict)
            except RowError as exc:
                problems.append(f"line {row.line}: {exc}")
                continue
            existing = session.get(Pharmacy, values["pharmacy_id"])
            coordinates = {"lat": None, "lon": None} if where is None else {"lat": where.lat, "lon": where.lon}
            if existing is None:
                session.add(Pharmacy(**values, **coordinates))
                session.flush()  # a pharmacy_id repeated later in the file updates this row
            else:
                existing.name, existing.district = values["name"], values["district"]
                existing.lat, existing.lon = coordinates["lat"], coordinates["lon"]
            loaded += 1
    return loaded, problems
