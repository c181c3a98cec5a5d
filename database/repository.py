"""Keyword-only functions over a Session. Idempotent on settlement_id (+ kind for flags); a stored
settlement is never overwritten."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ARRAY, Table, any_, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from reconcile.context import IdentityRecord
from database import bulk
from database.aggregates import visit_key
from database.models import (AuditRun, CheckRow, FaceSignature, FlagRow, RejectedRowRecord,
                               SettlementRow, utcnow)
from rxaudit.domain import CheckResult, RejectedRow, ReviewStatus, Settlement


IN_CHUNK = 5000  # values in one IN (...) list (SQLite allows 32766 parameters, PostgreSQL 65535)


def start_run(session: Session, *, settlements_file: str, videos: str) -> int:
    run = AuditRun(settlements_file=settlements_file, videos=videos, summary={})
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, *, run_id: int, summary: dict[str, Any]) -> None:
    run = session.get_one(AuditRun, run_id)
    run.finished_at = utcnow()
    run.summary = summary


def record_rejected(session: Session, *, run_id: int, rejected: Sequence[RejectedRow]) -> None:
    session.add_all(RejectedRowRecord(run_id=run_id, source=r.source, line=r.line, reason=r.reason)
                    for r in rejected)


def _settlement_values(s: Settlement, lines: dict[int, dict] | None = None) -> dict[str, Any]:
    """The settlement's row. ``lines``: each item's stored line, by ``id(item)``, filled as it goes
    (readers share one item object among the settlements that bill the same line)."""
    lines = {} if lines is None else lines
    return {
        "pharmacy_id": s.pharmacy_id,
        "counter_id": s.counter_id,
        "settled_at": s.settled_at,
        "card_hash": s.card_hash,
        "amount": s.amount,
        "items": {"lines": [lines.get(id(i)) or lines.setdefault(id(i), _line(i)) for i in s.items]},
        "extra": dict(s.extra),
    }


def _line(i) -> dict[str, str]:
    return {"item_code": i.item_code, "item_name": i.item_name, "quantity": str(i.quantity),
            "unit_price": str(i.unit_price), "category": str(i.category)}


def _insert(session: Session):
    """The dialect's INSERT (with ON CONFLICT): SQLite's or PostgreSQL's."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _write(session: Session, table: Table, rows: Sequence[dict[str, Any]], conflict: Callable[[Any], Any]) -> None:
    """``rows`` (dicts with the same keys) into ``table``, ``conflict`` adding the ON CONFLICT clause
    to the INSERT: many rows on PostgreSQL through COPY (:mod:`database.bulk`), else executemany."""
    insert = _insert(session)
    if not bulk.wanted(session, len(rows)):
        session.execute(conflict(insert(table)), list(rows))
        return
    columns = list(rows[0])
    staged = bulk.stage(session, table, columns, rows)
    session.execute(conflict(insert(table).from_select(columns, bulk.source(staged, table, columns))))


def _updating(keys: Sequence[str], columns: Sequence[str]) -> Callable[[Any], Any]:
    """ON CONFLICT (keys) DO UPDATE SET columns = excluded.columns (SQLite, PostgreSQL)."""
    return lambda stmt: stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: stmt.excluded[name] for name in columns})


def _plain(stmt: Any) -> Any:
    """No ON CONFLICT clause: a row whose key is stored fails (IntegrityError)."""
    return stmt


def chunks(values: Sequence, size: int = IN_CHUNK):
    """``values`` in slices of ``size`` (one IN (...) list each)."""
    for i in range(0, len(values), size):
        yield values[i:i + size]


def among(session: Session, column, values: Sequence[str]):
    """``column IN values``; on PostgreSQL ``column = ANY(array)``, one parameter however many."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


@dataclass
class _Rows:
    """One write's rows, keyed so that a settlement (or a settlement and kind) given twice is
    written once, the last."""

    settlements: dict[str, dict] = field(default_factory=dict)
    checks: dict[str, dict] = field(default_factory=dict)
    flags: dict[tuple[str, str], dict] = field(default_factory=dict)
    faces: dict[str, dict] = field(default_factory=dict)
    new_kinds: dict[str, set[str]] = field(default_factory=dict)
    lines: dict[int, dict] = field(default_factory=dict)  # item lines made, by id(item): see _settlement_values

    def add(self, result: CheckResult, run_id: int, now: datetime, keep_faces: bool) -> None:
        s = result.settlement
        sid = s.settlement_id
        self.settlements[sid] = {"settlement_id": sid, **_settlement_values(s, self.lines)}
        self.checks[sid] = {"settlement_id": sid, "run_id": run_id, "status": str(result.status),
                            "seen": result.seen, "checked_at": now, "pharmacy_id": s.pharmacy_id,
                            "settled_at": s.settled_at, "visit_key": visit_key(s.counter_id, result.seen)}
        for kind in self.new_kinds.get(sid, ()):  # given again: the later result replaces the earlier
            self.flags.pop((sid, kind), None)
        kinds = self.new_kinds[sid] = set()
        for flag in result.flags:
            kinds.add(str(flag.kind))
            self.flags[(sid, str(flag.kind))] = {
                "settlement_id": sid, "kind": str(flag.kind), "score": flag.score, "reason": flag.reason,
                "evidence": {"items": [e.to_json() for e in flag.evidence]},
                "review_status": str(ReviewStatus.OPEN), "created_at": now, "updated_at": now,
                "pharmacy_id": s.pharmacy_id, "settled_at": s.settled_at}
        self.faces.pop(sid, None)
        if result.identity is not None and keep_faces:
            self.faces[sid] = {"settlement_id": sid, "pharmacy_id": s.pharmacy_id, "card_hash": s.card_hash,
                               "settled_at": s.settled_at, "created_at": now,
                               "encoding": np.asarray(result.identity, dtype=np.float32).tobytes()}

    def follow(self, stored: dict[str, tuple[str, datetime]]) -> None:
        """Settlements already stored stay as stored: the copies of their pharmacy and time in checks,
        flags and faces are the stored ones (``stored``: id -> (pharmacy_id, settled_at)), and they are not
        written again."""
        for sid, (pharmacy_id, settled_at) in stored.items():
            del self.settlements[sid]
            copies = [self.checks[sid], self.faces.get(sid),
                      *(self.flags.get((sid, kind)) for kind in self.new_kinds[sid])]
            for row in filter(None, copies):
                row["pharmacy_id"], row["settled_at"] = pharmacy_id, settled_at


def _stored(session: Session, ids: Sequence[str]) -> dict[str, tuple[str, datetime]]:
    """Pharmacy and time of those of ``ids`` already stored."""
    found: dict[str, tuple[str, datetime]] = {}
    for chunk in chunks(ids):
        found.update((sid, (pharmacy_id, at)) for sid, pharmacy_id, at in session.execute(
            select(SettlementRow.settlement_id, SettlementRow.pharmacy_id, SettlementRow.settled_at)
            .where(among(session, SettlementRow.settlement_id, chunk))))
    return found


def save_results(session: Session, *, run_id: int, results: Sequence[CheckResult],
                 keep_faces: bool = True, stored: dict[str, tuple[str, datetime]] | None = None) -> None:
    """Write many settlements, their checks and flags with a few bulk statements. A settlement
    already stored keeps what is stored (never overwritten: its checks and flags keep its pharmacy
    and time too); its check is replaced. A flag already reviewed keeps its verdict; an open flag
    that the new audit no longer raises is removed. ``stored``: the pharmacy and time of those of
    them that are stored, looked up in this transaction already (by :func:`database.conflicts.find`);
    None: looked up here."""
    if not results:
        return
    session.flush()  # pending ORM changes first: what follows are Core statements
    rows, now = _Rows(), utcnow()
    for result in results:
        rows.add(result, run_id, now, keep_faces)
    ids = list(rows.new_kinds)
    stored = _stored(session, ids) if stored is None else {sid: stored[sid] for sid in ids if sid in stored}
    if stored:
        rows.follow(stored)
        _save_again(session, rows, ids)
    else:  # none stored before: nothing of theirs to keep, replace or remove
        _save_new(session, rows)


def _save_new(session: Session, rows: _Rows) -> None:
    """Settlements none of which is stored: every row appended (on PostgreSQL by COPY straight
    into the table, on SQLite through the driver: :func:`database.bulk.insert_many`)."""
    for table, values in ((SettlementRow.__table__, rows.settlements), (CheckRow.__table__, rows.checks),
                          (FlagRow.__table__, rows.flags), (FaceSignature.__table__, rows.faces)):
        if not values:
            continue
        if bulk.wanted(session, len(values)):
            bulk.append(session, table, list(values.values()))
        elif bulk.direct(session, len(values)):
            bulk.insert_many(session, table, list(values.values()))
        else:
            session.execute(insert(table), list(values.values()))


def _save_again(session: Session, rows: _Rows, ids: Sequence[str]) -> None:
    """Settlements some of which are stored: new ones inserted, stored ones kept; checks, open
    flags and faces replaced."""
    if rows.settlements:  # none of them was stored at the look: one stored meanwhile fails its row
        _write(session, SettlementRow.__table__, list(rows.settlements.values()), _plain)
    _write(session, CheckRow.__table__, list(rows.checks.values()), _updating(
        ["settlement_id"], ["run_id", "status", "seen", "checked_at", "pharmacy_id", "settled_at", "visit_key"]))
    stale: list[int] = []
    for chunk in chunks(ids):
        # (no review_status condition here: the planner must take the settlement_id index)
        found = session.execute(select(FlagRow.id, FlagRow.settlement_id, FlagRow.kind, FlagRow.review_status)
                                .where(among(session, FlagRow.settlement_id, chunk)))
        stale.extend(fid for fid, sid, kind, status in found
                     if kind not in rows.new_kinds[sid] and status == ReviewStatus.OPEN)
    for chunk in chunks(stale):
        session.execute(delete(FlagRow).where(FlagRow.id.in_(chunk)))
    if rows.flags:
        _write(session, FlagRow.__table__, list(rows.flags.values()), _updating(
            ["settlement_id", "kind"], ["score", "reason", "evidence", "updated_at", "pharmacy_id", "settled_at"]))
    without = [sid for sid in ids if sid not in rows.faces]
    for chunk in chunks(without):
        session.execute(delete(FaceSignature).where(among(session, FaceSignature.settlement_id, chunk)))
    if rows.faces:
        _write(session, FaceSignature.__table__, list(rows.faces.values()), _updating(
            ["settlement_id"], ["pharmacy_id", "card_hash", "settled_at", "encoding"]))


def save_result(session: Session, *, run_id: int, result: CheckResult,
                keep_faces: bool = True) -> None:
    """One settlement: :func:`save_results` of one."""
    save_results(session, run_id=run_id, results=[result], keep_faces=keep_faces)


def identity_history(session: Session, *, start: datetime, end: datetime,
                     exclude: set[str]) -> list[IdentityRecord]:
    rows = session.scalars(select(FaceSignature).where(
        FaceSignature.settled_at >= start, FaceSignature.settled_at <= end))
    return [
        IdentityRecord(r.settlement_id, r.pharmacy_id, r.card_hash, r.settled_at,
                       np.frombuffer(r.encoding, dtype=np.float32).copy())
        for r in rows if r.settlement_id not in exclude
    ]


def purge_face_signatures(session: Session, *, retention_days: int, now: datetime | None = None) -> int:
    """Delete face encodings older than the retention period; returns how many went."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    result = session.execute(delete(FaceSignature).where(FaceSignature.created_at < cutoff))
    return result.rowcount or 0


def flag_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(FlagRow.kind, func.count()).group_by(FlagRow.kind)).all())
