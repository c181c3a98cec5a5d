"""Phase 2 at city scale: outcomes made, written and reported a pharmacy chunk at a time.

A month of a city's log (a million settlements) must not sit in memory three times over (every
settlement's footage summary, every result with its evidence, every ORM object of one session).
So: footage summaries of counters the store does not have are made when asked for
(:class:`FootageIndex`), results come one at a time from :func:`reconcile.engine.iter_results` over
the settlements in (pharmacy, counter, time) order, and are cut into chunks at pharmacy boundaries
(every per-counter and per-pharmacy analysis sees all of its settlements in one chunk), written with
a few bulk statements per chunk and committed every ``COMMIT_EVERY`` settlements. ``flags.json`` is
written as the chunks go.
"""

from __future__ import annotations

import gc
import json
import os
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from audit.ahead import made_ahead
from reconcile.conflicts import Conflict
from database import aggregates, bulk, guarded, repository
from database import conflicts as conflicts_db
from rxaudit.domain import CheckResult, CheckStatus, FlagKind, RejectedRow, Settlement

CHUNK = 5_000  # settlements per bulk write (rounded up to a pharmacy boundary)
# settlements per transaction: each SQLite commit checkpoints every index page the transaction
# touched (random ones: a pharmacy's month spans every id and time), so fewer, bigger commits
COMMIT_EVERY = 250_000
KEEP_RESULTS_MAX = 20_000  # a report carries its per-settlement results up to this many settlements
ANALYZE_AFTER = 50_000  # settlements written: the planner's statistics are refreshed after a run this big


def audit_order(settlements: Iterable[Settlement]) -> list[Settlement]:
    """Pharmacy, counter, time (file order among equals): the order results are made and written."""
    return sorted(settlements, key=attrgetter("pharmacy_id", "counter_id", "settled_at"))


def pharmacy_chunks(results: Iterable[CheckResult], size: int | None = None, *,
                    ahead: bool = False) -> Iterator[list[CheckResult]]:
    """Consecutive results in chunks of at least ``size`` (``CHUNK``), cut only where the pharmacy
    changes; ``ahead``: the next one made (the rules run) while the last one is written
    (:mod:`audit.ahead`; see :func:`made_ahead_for`)."""
    chunks = _cut(results, size or CHUNK)
    return made_ahead(chunks) if ahead else chunks


def made_ahead_for(session: Session) -> bool:
    """Whether chunks are best made ahead while this session writes: where the database works in a
    process of its own (PostgreSQL). SQLite works in ours and lets the GIL go at every row, and each
    time it takes it back it waits out the other thread's switch interval: three times slower."""
    return session.get_bind().dialect.name != "sqlite"


def _cut(results: Iterable[CheckResult], size: int) -> Iterator[list[CheckResult]]:
    chunk: list[CheckResult] = []
    for result in results:
        if len(chunk) >= size and result.settlement.pharmacy_id != chunk[-1].settlement.pharmacy_id:
            yield chunk
            chunk = []
        chunk.append(result)
    if chunk:
        yield chunk


class Tally:
    """The run summary, counted as results go by."""

    def __init__(self) -> None:
        self.audited = 0
        self.statuses: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.earlier_conflicts: list[tuple[str, list[dict]]] = []  # card_conflict links to earlier audits
        self.flags_by_pharmacy: Counter[str] = Counter()

    def add(self, results: Iterable[CheckResult]) -> Tally:
        for r in results:
            self.audited += 1
            self.statuses[str(r.status)] += 1
            self.kinds.update(str(f.kind) for f in r.flags)
            if r.flags:
                self.flags_by_pharmacy[r.settlement.pharmacy_id] += len(r.flags)
            for f in r.flags:
                if f.kind == FlagKind.CARD_CONFLICT and f.evidence:
                    conflicts = f.evidence[0].seen.get("conflicts", [])
                    if any(c.get("earlier_audit") for c in conflicts):
                        self.earlier_conflicts.append((f.settlement_id, conflicts))
        return self

    def unseen_flags(self, districts: Mapping[str, str], inspected: Collection[str] | None) -> dict[str, Any]:
        """What of this run's flags no inspector sees: ``flags_without_district`` (at pharmacies the
        registry gives no district) and ``flags_in_uninspected_districts`` (district -> flags, in
        districts no active inspector covers; ``inspected`` None: not judged)."""
        without, uninspected = 0, Counter()
        for pharmacy_id, n in self.flags_by_pharmacy.items():
            district = districts.get(pharmacy_id)
            if not district:
                without += n
            elif inspected is not None and district not in inspected:
                uninspected[district] += n
        out: dict[str, Any] = {"flags_without_district": without} if without else {}
        if uninspected:
            out["flags_in_uninspected_districts"] = dict(sorted(uninspected.items()))
        return out

    def summary(self, rows_read: int, rejected: Sequence[RejectedRow], log_source: str | None = None
                ) -> dict[str, Any]:
        """``rejected``: the log's rows (source ``log_source``; every row when None), so that rows
        read = audited + rejected; the rows of the records beside it under ``rejected_records``."""
        side = Counter(r.source for r in rejected if log_source is not None and r.source != log_source)
        out = {
            "rows_read": rows_read,
            "rejected": len(rejected) - sum(side.values()),
            "audited": self.audited,
            "clean": self.statuses.get(CheckStatus.CLEAN, 0),
            "flagged": self.statuses.get(CheckStatus.FLAGGED, 0),
            "unverifiable": self.statuses.get(CheckStatus.UNVERIFIABLE, 0),
            "flags_by_kind": dict(sorted(self.kinds.items())),
        }
        if side:
            out["rejected_records"] = dict(sorted(side.items()))
        return out


def begin_sqlite_transaction(session: Session) -> None:
    """An explicit BEGIN on SQLite when none is open. Python's sqlite3 driver opens a transaction
    only before INSERT/UPDATE/DELETE, not before SAVEPOINT: a chunk's savepoint opened first would
    be the transaction itself, and releasing it would commit every chunk on its own (each commit
    writing all the random index pages the chunk touched), whatever ``COMMIT_EVERY`` says, and a
    rollback of the session would no longer undo them."""
    if session.get_bind().dialect.name != "sqlite":
        return
    driver = session.connection().connection.dbapi_connection
    if driver is not None and not driver.in_transaction:
        driver.execute("BEGIN")


def save_chunk(session: Session, *, run_id: int, results: Sequence[CheckResult], keep_faces: bool,
               source: str) -> tuple[list[CheckResult], list[RejectedRow], list[Conflict]]:
    """One chunk in bulk under a SAVEPOINT: (saved, rejected rows, conflicts among them).

    The chunk's ids are screened against what is stored again here, in the writing transaction: an
    audit that ran meanwhile may have stored one of them with other content since this run screened
    its log (:func:`audit.pipeline.screen_conflicts`); such a result is not written but rejected as
    a conflict. (Settlements not stored at this look are inserted without ON CONFLICT: one stored
    by another transaction in between fails its row rather than lose its checks to this one.)
    A chunk the database refuses for a row's values goes through
    :func:`database.guarded.save_results`, so one refused row never aborts the run."""
    begin_sqlite_transaction(session)
    stored: dict = {}  # (one look at the chunk's ids serves both)
    _, late = conflicts_db.find(session, settlements=[r.settlement for r in results], source=source, seen=stored)
    if late:
        gone = {c.settlement_id for c in late}
        results = [r for r in results if r.settlement.settlement_id not in gone]
    refused = [c.rejected() for c in late]
    try:
        with session.begin_nested():
            repository.save_results(session, run_id=run_id, results=results, keep_faces=keep_faces, stored=stored)
        return list(results), refused, late
    except Exception as exc:  # noqa: BLE001 - sorted by guarded's rule, re-raised otherwise
        if not guarded.row_fault(exc):
            raise
    saved, failed = guarded.save_results(session, run_id=run_id, results=results, keep_faces=keep_faces,
                                         source=source)
    return saved, refused + failed, late


class FlagsJson:
    """``flags.json`` written as chunks are saved: ``{"flags": [...], "summary": ..., "rejected": ...}``.
    It appears under its name only when complete."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.part = self.path.with_name(self.path.name + ".part")
        self.fh = self.part.open("w", encoding="utf-8")
        self.fh.write('{\n  "flags": [')
        self.first = True

    def add(self, results: Iterable[CheckResult]) -> None:
        for r in results:
            for f in r.flags:
                self.fh.write(("\n    " if self.first else ",\n    ") + json.dumps(f.to_json(), ensure_ascii=False))
                self.first = False

    def close(self, summary: dict[str, Any], rejected: Sequence[RejectedRow]) -> None:
        rows = [{"source": r.source, "line": r.line, "reason": r.reason} for r in rejected]
        self.fh.write(("\n  ],\n" if not self.first else "],\n")
                      + f'  "summary": {json.dumps(summary, ensure_ascii=False)},\n'
                      + f'  "rejected": {json.dumps(rows, ensure_ascii=False)}\n}}\n')
        self.fh.close()
        os.replace(self.part, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.part.unlink(missing_ok=True)


DEFER_COUNTS_MIN = 50_000  # settlements in a run from which SQLite's counts are rebuilt in bulk


class BulkWrite:
    """What a big run suspends in its write transaction and restores before each commit: the
    plain indexes (:class:`database.bulk.BulkIndexes`), then the kept counts (rebuilt from the rows, which the
    indexes serve) and their triggers (:class:`database.aggregates.BulkCounts`)."""

    def __init__(self, counts: aggregates.BulkCounts, indexes: bulk.BulkIndexes, *, big: bool = False) -> None:
        self.counts, self.indexes = counts, indexes
        self.big = big  # the run is big enough for bulk measures (whatever the database)

    @property
    def dropped(self) -> list[str]:
        """The statements of what is suspended now (triggers, indexes)."""
        return [*self.counts.dropped, *self.indexes.dropped]

    def suspend(self) -> None:
        self.counts.suspend()
        self.indexes.suspend()

    def restore(self) -> None:
        self.indexes.restore()
        self.counts.restore()


def bulk_counts(session: Session, tz_name: str, settlements: int) -> BulkWrite:
    """The kept counts' triggers and the plain indexes of the appended tables suspended for a big
    run (:class:`BulkWrite`), at least ``DEFER_COUNTS_MIN`` settlements and no fewer than the
    database holds already: a rebuild scans every row there, a trigger or an index entry costs only
    per row written. Call after ``begin``."""
    enabled = settlements >= DEFER_COUNTS_MIN and settlements >= aggregates.kept_rows(session)
    counts = BulkWrite(aggregates.BulkCounts(session, tz_name, enabled=enabled),
                       bulk.BulkIndexes(session, enabled=enabled), big=enabled)
    begin_sqlite_transaction(session)
    counts.suspend()
    return counts


def commit_and_begin(session: Session, counts: BulkWrite) -> None:
    """Commit with the indexes and counts rebuilt and the triggers back, and go on in a new transaction."""
    counts.restore()
    session.commit()
    session.begin()
    begin_sqlite_transaction(session)
    counts.suspend()


BULK_CACHE_KIB = 65536  # SQLite page cache of the writing connection (its default is 2 MiB)


def tune_for_bulk(session: Session) -> None:
    """A bigger page cache for the connection that writes a big run: the settlements arrive in
    pharmacy order, so their id index is written all over; with 2 MiB of cache every insert reads.
    And no fsync at each commit (``synchronous = NORMAL``; WAL mode, so a crash loses at most the
    last commits, never the database's consistency): a run commits every ``COMMIT_EVERY`` rows."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"PRAGMA cache_size = -{BULK_CACHE_KIB}"))
        session.execute(text("PRAGMA synchronous = NORMAL"))


def analyze(factory) -> None:
    """Fresh planner statistics after a big write (SQLite has none until asked: without them it
    may pick a low-selectivity index, e.g. review_status, for the wall's queries)."""
    with factory() as session, session.begin():
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("PRAGMA analysis_limit = 2000"))  # sampled: seconds, not minutes
        session.execute(text("ANALYZE"))


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a big batch is read: reading a month makes millions of
    objects that live on (and next to no cycles), and every full collection meanwhile walks them all."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Everything alive now (the batch read, a million settlements) left out of the collector's
    scans until the block ends (``gc.freeze``): writing the results allocates without end, and each
    full collection would walk the whole batch again. Unfrozen after, so it can be collected."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
