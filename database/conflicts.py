"""Stored settlements looked up by id before an audit, and the conflicts kept for admins.

One ``IN`` query per ``IN_CHUNK`` ids (a million-row log: 200 queries, none when nothing is stored
yet); the comparison itself is :mod:`reconcile.conflicts`. Keyword-only functions over a Session.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from reconcile.conflicts import Conflict, Stored, screen
from database.models import AuditRun, CheckRow, LiveSettlement, Pharmacy, SettlementConflictRow, SettlementRow
from database.repository import IN_CHUNK, among, chunks
from rxaudit.domain import Settlement

_SETTLEMENTS = SettlementRow.__table__
_CHECKS = CheckRow.__table__
_CONFLICTS = SettlementConflictRow.__table__
_COMPARED = (_SETTLEMENTS.c.settlement_id, _SETTLEMENTS.c.pharmacy_id, _SETTLEMENTS.c.counter_id,
             _SETTLEMENTS.c.settled_at, _SETTLEMENTS.c.card_hash, _SETTLEMENTS.c.amount, _SETTLEMENTS.c["items"])


def stored(session: Session, *, ids: Sequence[str]) -> dict[str, Stored]:
    """The stored content of those of ``ids`` that are stored: one query, so at most ``IN_CHUNK`` ids."""
    rows = session.execute(select(*_COMPARED).where(among(session, _SETTLEMENTS.c.settlement_id, ids))).all()
    return {sid: Stored.from_row(*content) for sid, *content in rows}


def last_runs(session: Session, *, ids: Sequence[str]) -> dict[str, int]:
    """The run that last audited each of ``ids`` (at most ``IN_CHUNK``) that has a check."""
    rows = session.execute(select(_CHECKS.c.settlement_id, _CHECKS.c.run_id)
                           .where(among(session, _CHECKS.c.settlement_id, ids)))
    return {sid: run_id for sid, run_id in rows}


def find(session: Session, *, settlements: Sequence[Settlement], source: str,
         seen: dict[str, tuple[str, datetime]] | None = None) -> tuple[list[Settlement], list[Conflict]]:
    """:func:`reconcile.conflicts.screen` against what is stored, ``IN_CHUNK`` settlements at a time
    (a million-row log holds one chunk's stored contents at once): (to audit, conflicts, each
    naming the run that last audited the stored settlement). ``seen``: filled with the pharmacy
    and time of those to audit that are stored (what :func:`database.repository.save_results`
    would look up again)."""
    if not settlements or session.scalar(select(_SETTLEMENTS.c.settlement_id).limit(1)) is None:
        return list(settlements), []
    kept: list[Settlement] = []
    conflicts: list[Conflict] = []
    for chunk in chunks(settlements, IN_CHUNK):
        found = stored(session, ids=[s.settlement_id for s in chunk])
        audited, rejected = screen(chunk, found, source=source)
        if seen is not None:
            seen.update((s.settlement_id, (found[s.settlement_id].pharmacy_id, found[s.settlement_id].settled_at))
                        for s in audited if s.settlement_id in found)
        kept.extend(audited)
        if rejected:
            runs = last_runs(session, ids=[c.settlement_id for c in rejected])
            conflicts.extend(replace(c, stored_run_id=runs.get(c.settlement_id)) for c in rejected)
    return kept, conflicts


def record(session: Session, *, run_id: int, conflicts: Sequence[Conflict]) -> None:
    """Keep ``conflicts`` (rejected by run ``run_id``) for the admins' list, in bulk."""
    rows = [{"run_id": run_id, "settlement_id": c.settlement_id, "source": c.source[:255], "line": c.line,
             "stored_run_id": c.stored_run_id, "fields": ",".join(c.fields)} for c in conflicts]
    for chunk in chunks(rows, IN_CHUNK):
        session.execute(insert(_CONFLICTS), list(chunk))


@dataclass(frozen=True, slots=True)
class ListedConflict:
    """One row of the admins' list: the run that rejected it (when, from which file), where, and
    against what (the stored settlement's pharmacy, the run that stored it)."""

    run_id: int
    at: datetime
    settlements_file: str
    source: str
    line: int
    settlement_id: str
    stored_pharmacy_id: str | None
    stored_run_id: int | None
    fields: tuple[str, ...]


def listing(session: Session, *, districts: Collection[str] | None = None, limit: int = 100,
            offset: int = 0) -> list[ListedConflict]:
    """Newest first; with ``districts``, only conflicts whose STORED settlement's pharmacy is in one
    of them (``None``: every conflict). The stored settlement is the audited one, else the live inbox's
    (a record posted again with other content before its first was audited)."""
    live = LiveSettlement.__table__
    pharmacy = func.coalesce(_SETTLEMENTS.c.pharmacy_id, live.c.pharmacy_id)
    query = (select(_CONFLICTS.c.run_id, AuditRun.started_at, AuditRun.settlements_file, _CONFLICTS.c.source,
                    _CONFLICTS.c.line, _CONFLICTS.c.settlement_id, pharmacy,
                    _CONFLICTS.c.stored_run_id, _CONFLICTS.c.fields)
             .join(AuditRun, AuditRun.id == _CONFLICTS.c.run_id)
             .outerjoin(_SETTLEMENTS, _SETTLEMENTS.c.settlement_id == _CONFLICTS.c.settlement_id)
             .outerjoin(live, live.c.settlement_id == _CONFLICTS.c.settlement_id))
    if districts is not None:
        query = query.where(pharmacy.in_(
            select(Pharmacy.pharmacy_id).where(Pharmacy.district.in_(sorted(districts)))))
    rows = session.execute(query.order_by(_CONFLICTS.c.id.desc()).offset(offset).limit(limit))
    return [ListedConflict(run_id, at, path, source, line, sid, pharmacy, stored_run,
                           tuple(filter(None, names.split(","))))
            for run_id, at, path, source, line, sid, pharmacy, stored_run, names in rows]
