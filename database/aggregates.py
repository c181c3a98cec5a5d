"""Counts kept on write (migration 0005's triggers): flags per pharmacy, local day, kind and review
status; audited settlements and distinct visits per pharmacy and local day.

The local day is that of the time zone named in ``aggregate_meta`` (PostgreSQL converts by name;
SQLite, which has no time-zone database, by the zone's fixed UTC offset). A reader may use the counts
only for that zone (:func:`counts_usable`); otherwise it counts the rows themselves, slower but exact.
:func:`rebuild_counts` recomputes everything for another zone (the audit does it when the setting
``display_timezone`` changed).

:func:`pharmacy_board` reads them for the wall: open flags per pharmacy, swipes per visitor over a
window of local days, and the pharmacies ranked by each (grouped sums, bounded answers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, func, select, text
from sqlalchemy.orm import Session

from database.models import AggregateMeta, CheckRow, FlagCount, FlagRow, FootfallDay, FootfallVisit, Pharmacy
from rxaudit.security import Principal


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


# -- the wall's pharmacy board: open flags and swipes per visitor, per pharmacy -------------------
WINDOW_DAYS_MAX = 92  # days of footfall one board reads
TOP_MAX = 50  # rows of a ranking
MAP_MAX = 3000  # pharmacies placed on the map (most open flags first)
UNLOCATED_MAX = 100  # pharmacies without a place listed beside it


@dataclass(frozen=True)
class PharmacyTally:
    """One pharmacy on the wall: its open and all flags (all days), and in the board's window its
    audited settlements whose footage could be judged and the distinct visitors seen (per local day,
    summed over the days, as ``/footfall`` counts them)."""

    pharmacy_id: str
    name: str | None = None
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    open_flags: int = 0
    flags: int = 0
    verified_settlements: int = 0
    visitors: int = 0

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def swipes_per_visitor(self) -> float | None:
        return round(self.verified_settlements / self.visitors, 2) if self.visitors else None


@dataclass(frozen=True)
class PharmacyBoard:
    day_from: date
    day_to: date
    min_swipes: int
    pharmacies: int  # pharmacies the principal sees (registered in its districts, or with flags or checks)
    located: list[PharmacyTally]  # on the map, at most MAP_MAX, most open flags first
    unlocated: list[PharmacyTally]  # no lat/lon, at most UNLOCATED_MAX, most open flags first
    unlocated_total: int
    by_open_flags: list[PharmacyTally]  # the top ones with open flags
    by_swipes_per_visitor: list[PharmacyTally]  # the top ones with at least min_swipes judged swipes


def _scope(column, principal: Principal) -> list:
    """``column`` (a pharmacy id) within the principal's districts: the registry decides."""
    if principal.districts is None:
        return []
    return [column.in_(select(Pharmacy.pharmacy_id).where(Pharmacy.district.in_(sorted(principal.districts))))]


def _flag_tallies(session: Session, principal: Principal, kept: bool) -> dict[str, tuple[int, int]]:
    """{pharmacy: (open flags, all flags)}, all days, grouped by the database."""
    if kept:
        n, table = FlagCount.n, FlagCount
        q = select(FlagCount.pharmacy_id, func.sum(n), func.sum(case((FlagCount.review_status == "open", n), else_=0)))
    else:
        table = FlagRow
        q = select(FlagRow.pharmacy_id, func.count(), func.sum(case((FlagRow.review_status == "open", 1), else_=0)))
    q = q.where(*_scope(table.pharmacy_id, principal)).group_by(table.pharmacy_id)
    return {p: (int(o or 0), int(a or 0)) for p, a, o in session.execute(q) if p and int(a or 0) > 0}


def _footfall_tallies(session: Session, principal: Principal, tz: ZoneInfo, day_from: date, day_to: date,
                      kept: bool) -> dict[str, tuple[int, int]]:
    """{pharmacy: (judged settlements, visitors)} over the local days ``day_from``..``day_to``."""
    out: dict[str, list[int]] = {}
    if kept:
        first, last = day_from.isoformat(), day_to.isoformat()
        days = select(FootfallDay.pharmacy_id, func.sum(FootfallDay.verified)).where(
            *_scope(FootfallDay.pharmacy_id, principal), FootfallDay.day >= first, FootfallDay.day <= last,
            FootfallDay.settlements > 0).group_by(FootfallDay.pharmacy_id)
        for p, verified in session.execute(days):
            out.setdefault(p, [0, 0])[0] = int(verified or 0)
        visits = select(FootfallVisit.pharmacy_id, func.count()).where(
            *_scope(FootfallVisit.pharmacy_id, principal), FootfallVisit.day >= first,
            FootfallVisit.day <= last, FootfallVisit.n > 0).group_by(FootfallVisit.pharmacy_id)
        for p, n in session.execute(visits):
            out.setdefault(p, [0, 0])[1] = int(n)
    else:  # the checks themselves, in the window only: one visit counted once per local day
        start = datetime.combine(day_from, time(0), tzinfo=tz)
        end = datetime.combine(day_to + timedelta(days=1), time(0), tzinfo=tz)
        seen: set[tuple[str, date, str]] = set()
        q = select(CheckRow.pharmacy_id, CheckRow.settled_at, CheckRow.status, CheckRow.visit_key).where(
            *_scope(CheckRow.pharmacy_id, principal), CheckRow.settled_at >= start, CheckRow.settled_at < end)
        for p, settled_at, status, visit in session.execute(q.execution_options(yield_per=5000)):
            tally = out.setdefault(p or "", [0, 0])
            tally[0] += status != "unverifiable"
            if visit and (key := (p or "", settled_at.astimezone(tz).date(), visit)) not in seen:
                seen.add(key)
                tally[1] += 1
    return {p: (v, n) for p, (v, n) in out.items() if p}


def pharmacy_board(session: Session, principal: Principal, tz: ZoneInfo, *, day_to: date, days: int,
                   top: int, min_swipes: int) -> PharmacyBoard:
    """The wall's pharmacies: where they are, their open flags, and the two rankings, for what
    ``principal`` sees. Bounded work: grouped sums over the counts kept on write (the flags and the
    window's checks themselves when the counts are kept for another zone) and the registry's rows."""
    days, top = max(1, min(days, WINDOW_DAYS_MAX)), max(1, min(top, TOP_MAX))
    day_from = day_to - timedelta(days=days - 1)
    kept = counts_usable(session, tz)
    flags = _flag_tallies(session, principal, kept)
    footfall = _footfall_tallies(session, principal, tz, day_from, day_to, kept)
    registry = session.execute(select(Pharmacy.pharmacy_id, Pharmacy.name, Pharmacy.district, Pharmacy.lat,
                                      Pharmacy.lon).where(*_scope(Pharmacy.pharmacy_id, principal)))
    places = {p: (name, district or None, lat, lon) for p, name, district, lat, lon in registry}
    tallies = []
    for p in sorted(set(places) | set(flags) | set(footfall)):
        name, district, lat, lon = places.get(p, (None, None, None, None))
        (open_n, all_n), (verified, visitors) = flags.get(p, (0, 0)), footfall.get(p, (0, 0))
        tallies.append(PharmacyTally(p, name, district, lat, lon, open_n, all_n, verified, visitors))
    by_open = sorted(tallies, key=lambda t: (-t.open_flags, -t.flags, t.pharmacy_id))
    located = [t for t in by_open if t.located]
    unlocated = [t for t in by_open if not t.located]
    judged = [t for t in tallies if t.verified_settlements >= min_swipes and t.verified_settlements > 0]
    judged.sort(key=lambda t: (t.visitors > 0, -(t.verified_settlements / t.visitors if t.visitors else 0),
                               -t.verified_settlements, t.pharmacy_id))
    return PharmacyBoard(day_from, day_to, min_swipes, len(tallies), located[:MAP_MAX],
                         unlocated[:UNLOCATED_MAX], len(unlocated),
                         [t for t in by_open if t.open_flags > 0][:top], judged[:top])
