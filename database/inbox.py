"""The live inbox (``live_settlements``): settlements pushed or pulled, stored before they are
acknowledged, then claimed by the live workers (``database.live_queue``) once their footage is due.

:func:`accept` is idempotent on ``settlement_id``, against both the audited ``settlements`` and the
inbox (and earlier records of the same batch): the same record again changes nothing; a different
record under a known id is never stored over it but kept in ``settlement_conflicts`` (which fields
differ, never a value) — compared exactly as the batch audit compares a re-exported log
(:func:`reconcile.conflicts.differing`, ``database.conflicts.stored``). The caller commits: one
transaction per request or message, acknowledged only after the commit.

A row written here holds what a worker needs: the record's columns (card id as its keyed hash),
``items`` as ``{"lines": [{item_code, item_name, quantity, unit_price, category, trace_codes}]}``
(numbers as text, as ``settlements.items`` holds them, plus the line's traceability codes; the
category is ``unknown`` until the worker applies the item catalogue), ``extra``, ``source``
(api|nats), ``received_at``, ``due_at`` (settled_at + ``window_after_s`` + ``live_segment_s``: when the
footage through the audit window should be in the store), ``state='pending'``, ``attempts=0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from database import bulk, conflicts as stored_conflicts, live_queue
from database.models import AuditRun, LiveSettlement, utcnow
from database.repository import IN_CHUNK, among, chunks, start_run
from reconcile.conflicts import Conflict, Stored, differing
from rxaudit.domain import Settlement

_LIVE = LiveSettlement.__table__
SOURCES = ("api", "nats")
LIVE_RUN_VIDEOS = "live inbox"  # audit_runs.videos of the runs live conflicts are kept under


class Outcome(StrEnum):
    STORED = "stored"  # new: written to the inbox
    DUPLICATE = "duplicate"  # the same record is known already: nothing changed
    CONFLICT = "conflict"  # a different record is known under its id: kept aside, nothing overwritten


@dataclass(frozen=True, slots=True)
class Accepted:
    """What became of each settlement given, in the order given; ``conflicts`` name the fields."""

    outcomes: tuple[Outcome, ...]
    conflicts: tuple[Conflict, ...]

    def count(self, outcome: Outcome) -> int:
        return sum(o == outcome for o in self.outcomes)


def accept(session: Session, *, settlements: Sequence[Settlement], source: str, settings: Any,
           origin: str | None = None, now: datetime | None = None) -> Accepted:
    """Put ``settlements`` into the inbox within the caller's transaction. ``source``: api|nats;
    ``origin``: where they came from, as the conflicts list shows it (default: ``source``); each
    settlement's ``line`` is its position in that request or message."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    now = now or utcnow()
    known = _known(session, [s.settlement_id for s in settlements])
    outcomes: list[Outcome] = []
    conflicts: list[Conflict] = []
    new: dict[str, Settlement] = {}
    for s in settlements:
        outcome = _compare(s, known, conflicts, origin or source)
        if outcome is Outcome.STORED:
            known[s.settlement_id] = Stored.of(s)
            new[s.settlement_id] = s
        outcomes.append(outcome)
    raced = _insert(session, list(new.values()), source=source, settings=settings, now=now)
    if raced:  # stored by a concurrent request meanwhile: compared with what it stored instead
        again = _known(session, sorted(raced))
        for position, s in enumerate(settlements):
            if outcomes[position] is Outcome.STORED and s.settlement_id in raced:
                outcomes[position] = _compare(s, again, conflicts, origin or source)
    if conflicts:
        _keep_conflicts(session, conflicts, source=source, now=now)
    return Accepted(tuple(outcomes), tuple(conflicts))


def _compare(s: Settlement, known: dict[str, Stored], conflicts: list[Conflict], origin: str) -> Outcome:
    stored = known.get(s.settlement_id)
    if stored is None:
        return Outcome.STORED
    fields = differing(s, stored)
    if not fields:
        return Outcome.DUPLICATE
    conflicts.append(Conflict(s.settlement_id, origin, s.line or 0, None, fields))
    return Outcome.CONFLICT


def _known(session: Session, ids: Sequence[str]) -> dict[str, Stored]:
    """The stored content of those of ``ids`` that are audited (``settlements``, first) or in the inbox."""
    ids = sorted(set(ids))
    known: dict[str, Stored] = {}
    for chunk in chunks(ids, IN_CHUNK):
        known.update(stored_conflicts.stored(session, ids=chunk))
        rest = [sid for sid in chunk if sid not in known]
        if rest:
            rows = session.execute(select(_LIVE.c.settlement_id, _LIVE.c.pharmacy_id, _LIVE.c.counter_id,
                                          _LIVE.c.settled_at, _LIVE.c.card_hash, _LIVE.c.amount, _LIVE.c["items"])
                                   .where(among(session, _LIVE.c.settlement_id, rest))).all()
            known.update((sid, Stored.from_row(*content)) for sid, *content in rows)
    return known


def inbox_row(s: Settlement, *, source: str, settings: Any, now: datetime) -> dict[str, Any]:
    """``s`` as its inbox row (pending, due once its footage should be recorded): the worker's own row
    (``live_queue.row_values``) with every column named, as the bulk path's COPY needs."""
    due = s.settled_at + timedelta(seconds=settings.window_after_s + settings.live_segment_s)
    return {**live_queue.row_values(s, source=source, due_at=due, received_at=now),
            "claimed_by": None, "lease_until": None, "done_at": None, "outcome": None}


def _insert(session: Session, settlements: Sequence[Settlement], *, source: str, settings: Any,
            now: datetime) -> set[str]:
    """Insert the rows, skipping ids stored meanwhile by a concurrent writer; returns those ids."""
    if not settlements:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    written: set[str] = set()
    for chunk in chunks(list(settlements), IN_CHUNK):
        rows = [inbox_row(s, source=source, settings=settings, now=now) for s in chunk]
        statement = insert(_LIVE)
        if bulk.wanted(session, len(rows)):  # PostgreSQL: one COPY into a staging table, one INSERT
            columns = list(rows[0])
            statement = statement.from_select(columns, bulk.source(bulk.stage(session, _LIVE, columns, rows),
                                                                   _LIVE, columns))
            rows = None
        statement = statement.on_conflict_do_nothing(index_elements=["settlement_id"])
        result = session.execute(statement.returning(_LIVE.c.settlement_id), rows)
        written.update(result.scalars().all())
    return {s.settlement_id for s in settlements} - written


def _keep_conflicts(session: Session, conflicts: Sequence[Conflict], *, source: str, now: datetime) -> None:
    """Into ``settlement_conflicts``, under the day's live run of ``source`` (made on its first
    conflict; ``audit_runs.settlements_file`` says ``live <source> <UTC day>``), each naming the run
    that last audited the stored settlement (None: only in the inbox so far)."""
    label = f"live {source} {now:%Y-%m-%d}"
    run_id = session.scalar(select(AuditRun.id).where(AuditRun.settlements_file == label)
                            .order_by(AuditRun.id).limit(1))
    if run_id is None:
        run_id = start_run(session, settlements_file=label, videos=LIVE_RUN_VIDEOS)
    runs: dict[str, int] = {}
    for chunk in chunks(sorted({c.settlement_id for c in conflicts}), IN_CHUNK):
        runs.update(stored_conflicts.last_runs(session, ids=chunk))
    stored_conflicts.record(session, run_id=run_id,
                            conflicts=[replace(c, stored_run_id=runs.get(c.settlement_id)) for c in conflicts])
