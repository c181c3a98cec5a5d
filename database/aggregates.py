"""Counts kept on write (migration 0005's triggers): flags per pharmacy, local day, kind and review
status; audited settlements and distinct visits per pharmacy and local day.

The local day is that of the time zone named in ``aggregate_meta`` (PostgreSQL converts by name;
SQLite, which has no time-zone database, by the zone's fixed UTC offset). A reader may use the counts
only for that zone (:func:`counts_usable`); otherwise it counts the rows themselves, slower but exact.
:func:`rebuild_counts` recomputes everything for another zone (the audit does it when the setting
``display_timezone`` changed).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from database.models import AggregateMeta


def visit_key(counter_id: str | None, seen: dict[str, Any] | str | None) -> str | None:
    """``counter|track|start`` of the visit a check saw: what footfall counts as one visitor."""
    if isinstance(seen, str):
        seen = json.loads(seen)
    visit = (seen or {}).get("visit")
    if not visit:
        return None
    return f"{counter_id}|{visit.get('track_id')}|{visit.get('start')}"[:255]


@lru_cache(maxsize=32)
def fixed_offset_minutes(tz_name: str) -> int | None:
    """The zone's UTC offset in minutes when it has had one offset since 1992 (else None)."""
    zone = ZoneInfo(tz_name)
    offsets = {int(datetime(year, month, 15, tzinfo=zone).utcoffset().total_seconds() // 60)
               for year in range(1992, 2101) for month in (1, 4, 7, 10)}
    return offsets.pop() if len(offsets) == 1 else None


def _day(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"coalesce(to_char({column} AT TIME ZONE :tz, 'YYYY-MM-DD'), '')"
    return f"coalesce(date({column}, :offset || ' minutes'), '')"


def rebuild_counts(conn: Connection | Session, tz_name: str) -> None:
    """All counts from the rows, in ``tz_name``'s local days (one transaction of the caller's)."""
    dialect = conn.get_bind().dialect.name if isinstance(conn, Session) else conn.dialect.name
    offset = fixed_offset_minutes(tz_name)
    if dialect != "postgresql" and offset is None:
        offset = 0  # counts by UTC day; readers will not use them for this zone
    params = {"tz": tz_name, "offset": offset or 0}
    conn.execute(text("UPDATE aggregate_meta SET timezone = :tz, utc_offset_min = :offset WHERE id = 1"), params)
    for table in ("flag_counts", "footfall_days", "footfall_visits"):
        conn.execute(text(f"DELETE FROM {table}"))
    day = _day(dialect, "settled_at")
    conn.execute(text(
        f"INSERT INTO flag_counts (pharmacy_id, day, kind, review_status, n) "
        f"SELECT coalesce(pharmacy_id, ''), {day}, kind, review_status, count(*) FROM flags "
        f"GROUP BY coalesce(pharmacy_id, ''), {day}, kind, review_status"), params)
    verified = "CASE WHEN status <> 'unverifiable' THEN 1 ELSE 0 END"
    conn.execute(text(
        f"INSERT INTO footfall_days (pharmacy_id, day, settlements, verified) "
        f"SELECT coalesce(pharmacy_id, ''), {day}, count(*), sum({verified}) FROM checks "
        f"GROUP BY coalesce(pharmacy_id, ''), {day}"), params)
    conn.execute(text(
        f"INSERT INTO footfall_visits (pharmacy_id, day, visit_key, n) "
        f"SELECT coalesce(pharmacy_id, ''), {day}, visit_key, count(*) FROM checks "
        f"WHERE visit_key IS NOT NULL GROUP BY coalesce(pharmacy_id, ''), {day}, visit_key"), params)


def counts_usable(session: Session, tz: ZoneInfo) -> bool:
    """Whether the kept counts are in ``tz``'s local days."""
    meta = session.get(AggregateMeta, 1)
    if meta is None or meta.timezone != tz.key:
        return False
    if session.get_bind().dialect.name == "postgresql":
        return True
    return fixed_offset_minutes(tz.key) == meta.utc_offset_min


def ensure_timezone(session: Session, tz_name: str) -> bool:
    """Rebuild the counts when they are kept in another zone than ``tz_name``; True if it did."""
    meta = session.get(AggregateMeta, 1)
    if meta is not None and meta.timezone == tz_name and (
            session.get_bind().dialect.name == "postgresql"
            or (fixed_offset_minutes(tz_name) or 0) == meta.utc_offset_min):
        return False
    if meta is None:
        session.add(AggregateMeta(id=1, timezone=tz_name, utc_offset_min=0))
        session.flush()
    rebuild_counts(session, tz_name)
    session.expire_all()
    return True


# -- a big write on SQLite: counts rebuilt in bulk instead of a trigger at every row ------------------
COUNT_TRIGGERS = tuple(f"trg_{name}_{op}" for name in ("flag_counts", "footfall")
                       for op in ("insert", "update", "delete"))


def kept_rows(session: Session) -> int:
    """Checks in the database, read from the kept counts (no scan of the checks)."""
    return int(session.execute(text("SELECT coalesce(sum(settlements), 0) FROM footfall_days")).scalar_one())


class BulkCounts:
    """SQLite's row triggers (migration 0005) cost a statement or two at every flag and check
    written: for a city's month, about as much as writing the flags themselves. Within one write
    transaction, :meth:`suspend` drops them and :meth:`restore` rebuilds every count from the rows
    (:func:`rebuild_counts`, a few GROUP BY scans) and creates them again from the very statements
    it dropped. Both happen in the same transaction, so no other connection ever sees the tables
    without their triggers or counts out of step (a rollback brings the triggers back).
    PostgreSQL's triggers are per statement already: nothing is done there."""

    def __init__(self, session: Session, tz_name: str, *, enabled: bool) -> None:
        self.session, self.tz_name = session, tz_name
        self.enabled = enabled and session.get_bind().dialect.name == "sqlite"
        self.dropped: list[str] = []

    def suspend(self) -> None:
        if not self.enabled or self.dropped:
            return
        names = ", ".join(f"'{name}'" for name in COUNT_TRIGGERS)
        rows = self.session.execute(text(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({names}) ORDER BY name")).all()
        for name, _sql in rows:
            self.session.connection().exec_driver_sql(f'DROP TRIGGER "{name}"')
        self.dropped = [sql for _name, sql in rows]

    def restore(self) -> None:
        if not self.dropped:
            return
        rebuild_counts(self.session, self.tz_name)
        for sql in self.dropped:  # (as the driver's text: no bind parameters parsed in it)
            self.session.connection().exec_driver_sql(sql)
        self.dropped = []
