"""Users, API keys, login sessions and pharmacies: keyword-only functions over a Session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ingest.fields import IngestOptions
from ingest.records import read_pharmacies
from ingest.reasons import row_reason
from database.models import ApiKey, LoginSession, Pharmacy, User, utcnow
from rxaudit.domain import RejectedRow
from rxaudit.errors import AuthError, InputError
from rxaudit.records import PharmacyEntry
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


IDENTITY_MAX = {"full_name": 64, "badge_no": 32}


def set_identity(session: Session, *, name: str, full_name: str, badge_no: str) -> User:
    """Record who ``name`` is on a case file: full name and badge (执法证) number. Blank, over-long or
    control-character values are refused (they would be printed on a signed document)."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise InputError(f"no user {name!r}")
    values = {"full_name": full_name.strip(), "badge_no": badge_no.strip()}
    for field_name, value in values.items():
        if not value or len(value) > IDENTITY_MAX[field_name] or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise InputError(f"{field_name}: 1 to {IDENTITY_MAX[field_name]} printable characters")
    user.full_name, user.badge_no = values["full_name"], values["badge_no"]
    return user


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


KEY_SCOPES = ("read", "ingest")  # read: the wall and the API's reads; ingest: may only post settlements


def create_api_key(session: Session, *, name: str, districts: list[str],
                   scope: str = "read") -> tuple[ApiKey, str]:
    if scope not in KEY_SCOPES:
        raise InputError(f"--scope: one of {', '.join(KEY_SCOPES)}")
    key = new_secret(KEY_PREFIX)
    row = ApiKey(name=name, key_hash=digest(key), districts=_districts(districts), scope=scope)
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
    return Principal("apikey", row.id, row.name, None, frozenset(districts) if districts else None,
                     scope=row.scope)


def load_pharmacies(session: Session, *, path: Path, encoding: str = "auto") -> tuple[int, list[str]]:
    """``rxaudit pharmacies load``: upsert ``pharmacy_id, name, district`` (and optional ``lat,lon``,
    ``licensee``, ``address``)
    rows, the file's values replacing the registry's; returns (loaded, problems with line numbers).
    Read by the shared table reader: UTF-8 or GB18030 (or ``encoding``), bad rows rejected."""
    entries, rejected = read_pharmacies(path, IngestOptions(encoding=encoding))
    loaded, refused = register_pharmacies(session, entries=entries, source=path.name, overwrite=True)
    problems = sorted([*rejected, *refused], key=lambda r: r.line)
    return loaded, [f"line {r.line}: {r.reason}" for r in problems]


PHARMACY_FIELDS = ("name", "district", "lat", "lon", "operator", "address")


def register_pharmacies(session: Session, *, entries: Sequence[PharmacyEntry], source: str,
                        overwrite: bool = False) -> tuple[int, list[RejectedRow]]:
    """A pharmacies file's rows into the registry; returns (rows taken, rows refused).

    ``overwrite`` (``rxaudit pharmacies load``, the registry's own command): each row needs a
    district, and its name, district and place replace what the registry holds. Otherwise (the file
    beside an audit's log): a new pharmacy is added as the file has it and a blank in the registry
    is filled, but a district, name or place that differs from the registry's is kept as it is
    and the row is reported (with its line, naming the fields, never their values)."""
    taken, refused = 0, []
    for entry in entries:
        wanted = {"name": entry.name, "district": entry.district,
                  "lat": entry.location.lat if entry.location else None,
                  "lon": entry.location.lon if entry.location else None,
                  "operator": entry.licensee or None, "address": entry.address or None}
        if overwrite and not entry.district:
            refused.append(RejectedRow(source, entry.line or 0, row_reason("district", "is required")))
            continue
        stored = session.get(Pharmacy, entry.pharmacy_id)
        if stored is None:
            session.add(Pharmacy(pharmacy_id=entry.pharmacy_id, **wanted))
            session.flush()  # a pharmacy_id repeated later in the file finds this row
            taken += 1
            continue
        differing = [name for name in PHARMACY_FIELDS
                     if wanted[name] not in (None, "") and getattr(stored, name) not in (None, "")
                     and getattr(stored, name) != wanted[name]]
        for name in PHARMACY_FIELDS:
            if overwrite or (wanted[name] not in (None, "") and name not in differing):
                setattr(stored, name, wanted[name])
        if differing and not overwrite:
            refused.append(RejectedRow(source, entry.line or 0, row_reason(
                None, f"pharmacy {', '.join(differing)} differ from the registry's, which are kept "
                      "(rxaudit pharmacies load changes them)")))
        else:
            taken += 1
    return taken, refused


def pharmacy_districts(session: Session) -> dict[str, str]:
    """``pharmacy_id -> district`` of the registry's pharmacies that have one (what inspectors are
    scoped by)."""
    rows = session.execute(select(Pharmacy.pharmacy_id, Pharmacy.district).where(Pharmacy.district != ""))
    return {pharmacy_id: district for pharmacy_id, district in rows}


def districts_of(session: Session, *, pharmacy_ids: Sequence[str]) -> dict[str, str]:
    """``pharmacy_id -> district`` of those of ``pharmacy_ids`` the registry holds (one query)."""
    ids = sorted(set(pharmacy_ids))
    if not ids:
        return {}
    rows = session.execute(select(Pharmacy.pharmacy_id, Pharmacy.district).where(Pharmacy.pharmacy_id.in_(ids)))
    return {pharmacy_id: district for pharmacy_id, district in rows}


def inspected_districts(session: Session) -> set[str] | None:
    """The districts some active inspector covers; None when there is no inspector yet (a new
    installation: every district counts as covered until the first one is added)."""
    inspectors = list(session.scalars(select(User.districts).where(User.active.is_(True),
                                                                 User.role == str(Role.INSPECTOR))))
    if not inspectors:
        return None
    return {d for districts in inspectors for d in (districts or {}).get("districts", [])}
