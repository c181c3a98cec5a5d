"""Keyword-only functions over a Session. Idempotent on settlement_id (+ kind for flags)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from reconcile.context import IdentityRecord
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


def _settlement_values(s: Settlement) -> dict[str, Any]:
    return {
        "pharmacy_id": s.pharmacy_id,
        "counter_id": s.counter_id,
        "settled_at": s.settled_at,
        "card_hash": s.card_hash,
        "amount": s.amount,
        "items": {"lines": [{"item_code": i.item_code, "item_name": i.item_name,
                             "quantity": str(i.quantity), "unit_price": str(i.unit_price),
                             "category": str(i.category)}
                            for i in s.items]},
        "extra": dict(s.extra),
    }


def _upsert(session: Session, table, keys: Sequence[str], columns: Sequence[str]):
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET columns = excluded.columns (SQLite, PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(index_elements=list(keys),
                                      set_={name: stmt.excluded[name] for name in columns})


def chunks(values: Sequence, size: int = IN_CHUNK):
    """``values`` in slices of ``size`` (one IN (...) list each)."""
    for i in range(0, len(values), size):
        yield values[i:i + size]


def save_results(session: Session, *, run_id: int, results: Sequence[CheckResult],
                 keep_faces: bool = True) -> None:
    """Upsert many settlements, their checks and flags with a few bulk statements. A flag already
    reviewed keeps its verdict; an open flag that the new audit no longer raises is removed."""
    if not results:
        return
    session.flush()  # pending ORM changes first: what follows are Core statements
    now = utcnow()
    # keyed, so that a settlement (or a settlement and kind) given twice is written once, the last
    settlements: dict[str, dict] = {}
    checks: dict[str, dict] = {}
    flags: dict[tuple[str, str], dict] = {}
    faces: dict[str, dict] = {}
    new_kinds: dict[str, set[str]] = {}
    for result in results:
        s = result.settlement
        sid = s.settlement_id
        settlements[sid] = {"settlement_id": sid, **_settlement_values(s)}
        checks[sid] = {"settlement_id": sid, "run_id": run_id, "status": str(result.status),
                       "seen": result.seen, "checked_at": now, "pharmacy_id": s.pharmacy_id,
                       "settled_at": s.settled_at, "visit_key": visit_key(s.counter_id, result.seen)}
        for kind in new_kinds.get(sid, ()):  # given again: the later result replaces the earlier
            flags.pop((sid, kind), None)
        kinds = new_kinds[sid] = set()
        for flag in result.flags:
            kinds.add(str(flag.kind))
            flags[(sid, str(flag.kind))] = {
                "settlement_id": sid, "kind": str(flag.kind), "score": flag.score, "reason": flag.reason,
                "evidence": {"items": [e.to_json() for e in flag.evidence]},
                "review_status": str(ReviewStatus.OPEN), "created_at": now, "updated_at": now,
                "pharmacy_id": s.pharmacy_id, "settled_at": s.settled_at}
        faces.pop(sid, None)
        if result.identity is not None and keep_faces:
            faces[sid] = {"settlement_id": sid, "pharmacy_id": s.pharmacy_id, "card_hash": s.card_hash,
                          "settled_at": s.settled_at, "created_at": now,
                          "encoding": np.asarray(result.identity, dtype=np.float32).tobytes()}
    ids = list(new_kinds)
    settlement_cols = [c for c in next(iter(settlements.values())) if c != "settlement_id"]
    session.execute(_upsert(session, SettlementRow.__table__, ["settlement_id"], settlement_cols),
                    list(settlements.values()))
    session.execute(_upsert(session, CheckRow.__table__, ["settlement_id"],
                            ["run_id", "status", "seen", "checked_at", "pharmacy_id", "settled_at",
                             "visit_key"]), list(checks.values()))
    stale: list[int] = []
    moved: list[dict[str, Any]] = []  # reviewed flags kept: their copy of the settlement follows it
    for chunk in chunks(ids):
        # (no review_status condition here: the planner must take the settlement_id index)
        rows = session.execute(select(FlagRow.id, FlagRow.settlement_id, FlagRow.kind, FlagRow.review_status,
                                      FlagRow.pharmacy_id, FlagRow.settled_at)
                               .where(FlagRow.settlement_id.in_(chunk)))
        for fid, sid, kind, status, pharmacy_id, settled_at in rows:
            if kind in new_kinds[sid]:
                continue
            if status == ReviewStatus.OPEN:
                stale.append(fid)
            elif (pharmacy_id, settled_at) != (settlements[sid]["pharmacy_id"], settlements[sid]["settled_at"]):
                moved.append({"fid": fid, "p": settlements[sid]["pharmacy_id"],
                              "t": settlements[sid]["settled_at"]})
    for chunk in chunks(stale):
        session.execute(delete(FlagRow).where(FlagRow.id.in_(chunk)))
    if moved:
        table = FlagRow.__table__
        session.execute(update(table).where(table.c.id == bindparam("fid")).values(
            pharmacy_id=bindparam("p"), settled_at=bindparam("t")), moved)
    if flags:
        session.execute(_upsert(session, FlagRow.__table__, ["settlement_id", "kind"],
                                ["score", "reason", "evidence", "updated_at", "pharmacy_id", "settled_at"]),
                        list(flags.values()))
    without = [sid for sid in ids if sid not in faces]
    for chunk in chunks(without):
        session.execute(delete(FaceSignature).where(FaceSignature.settlement_id.in_(chunk)))
    if faces:
        session.execute(_upsert(session, FaceSignature.__table__, ["settlement_id"],
                                ["pharmacy_id", "card_hash", "settled_at", "encoding"]), list(faces.values()))


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
