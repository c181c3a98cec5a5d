"""Counts kept on write (migration 0005's triggers) answer exactly what counting the rows answers,
whoever writes: bulk saves, re-audits, verdicts, writers that leave the copied columns out."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from database import aggregates, queries, repository
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import CheckRow, FlagCount, FlagRow, Pharmacy
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind
from rxaudit.security import Principal
from tests.factories import T0, settlement

TZ = ZoneInfo("Asia/Shanghai")
EVERYONE = Principal("user", 1, "sup", None, None)
IN_D1 = Principal("user", 2, "insp", None, frozenset({"D1"}))


def result(s, *kinds, status=None, visit=None):
    flags = tuple(Flag(s.settlement_id, k, 0.5 + 0.1 * n, f"because {k}") for n, k in enumerate(kinds))
    status = status or (CheckStatus.FLAGGED if flags else CheckStatus.CLEAN)
    seen = {"frames_checked": 3, **({"visit": visit} if visit else {})}
    return CheckResult(s, status, flags, seen)


def city(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        session.add_all([Pharmacy(pharmacy_id="PA", name="A", district="D1"),
                         Pharmacy(pharmacy_id="PB", name="B", district="D2")])
        run = repository.start_run(session, settlements_file="x", videos="v")
        rows = []
        for n in range(12):
            # T0 is 10:00 +08:00; n * 2 h 10 min spreads them over two local days (and across midnight)
            s = settlement(n, pharmacy="PA" if n % 3 else "PB", counter=f"C{n % 2}",
                           seconds=n * 7800)
            kinds = [FlagKind.BURST] if n % 2 else []
            if n % 4 == 0:
                kinds.append(FlagKind.OFF_HOURS)
            visit = {"track_id": n % 3, "start": f"t{n % 3}"} if n % 5 else None
            unverifiable = n % 7 == 3
            rows.append(result(s, *kinds, *( [FlagKind.UNVERIFIABLE] if unverifiable else []),
                               status=CheckStatus.UNVERIFIABLE if unverifiable else None, visit=visit))
        repository.save_results(session, run_id=run, results=rows)
    return engine, factory, run


FILTERS = [
    queries.FlagFilters(),
    queries.FlagFilters(districts=("D1",)),
    queries.FlagFilters(pharmacies=("PB",), kinds=("burst",)),
    queries.FlagFilters(statuses=("confirmed",)),
    queries.FlagFilters(date_from=date(2026, 11, 21), date_to=date(2026, 11, 21)),
    queries.FlagFilters(kinds=("off_hours", "burst"), date_to=date(2026, 11, 20)),
]


def assert_counts_agree(factory, monkeypatch):
    """Kept counts (the fast path) against the rows themselves (the exact path)."""
    with factory() as session:
        assert aggregates.counts_usable(session, TZ)
        for principal in (EVERYONE, IN_D1):
            for f in FILTERS:
                exact = replace(f, min_score=0.0)  # a score bound: counted from the flags themselves
                assert queries.stats(session, principal, f, TZ) == queries.stats(session, principal, exact, TZ)
                assert (queries.list_flags(session, principal, f, TZ).total
                        == queries.list_flags(session, principal, exact, TZ).total)
                kept = queries.footfall(session, principal, f, TZ, alert_ratio=2.0, alert_min_swipes=1)
                with monkeypatch.context() as m:
                    m.setattr(aggregates, "counts_usable", lambda *_: False)
                    rows = queries.footfall(session, principal, f, TZ, alert_ratio=2.0, alert_min_swipes=1)
                assert kept == rows


def test_kept_counts_follow_every_kind_of_write(db_url, monkeypatch):
    engine, factory, run = city(db_url)
    with factory() as session:
        before = queries.stats(session, EVERYONE, queries.FlagFilters(), TZ)
    assert before["total"] > 10 and len(before["by_day"]) == 2
    assert_counts_agree(factory, monkeypatch)

    with transaction(factory) as session:  # verdicts change a status through the ORM
        for flag in session.scalars(select(FlagRow).where(FlagRow.kind == "burst").limit(2)):
            flag.review_status = "confirmed"
    with transaction(factory) as session:  # a re-audit: S1 raises nothing now, S2 given with another
        # pharmacy and day (it stays as stored: so do its check's and flags' copies)
        repository.save_results(session, run_id=run, results=[
            result(settlement(1, pharmacy="PA", counter="C1", seconds=7800)),
            result(settlement(2, pharmacy="PB", counter="C0", seconds=2 * 7800 + 86400),
                   FlagKind.OFF_HOURS, visit={"track_id": 9, "start": "t9"})])
    with transaction(factory) as session:  # a writer that leaves the copied columns out
        session.add(FlagRow(settlement_id="S4", kind="trace_code_reuse", score=0.9, reason="r",
                            evidence={}, review_status="open"))
    with transaction(factory) as session:
        session.execute(delete(FlagRow).where(FlagRow.settlement_id == "S8", FlagRow.kind == "off_hours"))
        session.get(CheckRow, "S5").status = "unverifiable"
    with factory() as session:
        added = session.scalar(select(FlagRow).where(FlagRow.kind == "trace_code_reuse"))
        assert added.pharmacy_id == "PA" and added.settled_at == settlement(4, seconds=4 * 7800).settled_at
        assert queries.stats(session, EVERYONE, queries.FlagFilters(), TZ)["by_status"]["confirmed"] >= 1
    assert_counts_agree(factory, monkeypatch)
    engine.dispose()


def test_counts_rebuild_for_another_time_zone(db_url, monkeypatch):
    engine, factory, _ = city(db_url)
    utc = ZoneInfo("UTC")
    with factory() as session:
        assert not aggregates.counts_usable(session, utc)  # kept in Shanghai days: the exact path
        exact = queries.stats(session, EVERYONE, queries.FlagFilters(), utc)
    with transaction(factory) as session:
        assert aggregates.ensure_timezone(session, "UTC")
        assert not aggregates.ensure_timezone(session, "UTC")
    with factory() as session:
        assert aggregates.counts_usable(session, utc)
        assert queries.stats(session, EVERYONE, queries.FlagFilters(), utc) == exact
        assert sum(session.scalars(select(FlagCount.n))) == exact["total"]
    engine.dispose()


@pytest.mark.parametrize("tz, fixed", [("Asia/Shanghai", 480), ("UTC", 0), ("Asia/Kolkata", 330),
                                       ("Europe/Berlin", None), ("America/New_York", None)])
def test_fixed_offsets(tz, fixed):
    assert aggregates.fixed_offset_minutes(tz) == fixed


def test_a_zone_with_summer_time_is_never_counted_by_offset_on_sqlite(tmp_path):
    engine, factory, _ = city(f"sqlite:///{tmp_path}/rx.db")
    berlin = ZoneInfo("Europe/Berlin")
    with transaction(factory) as session:
        aggregates.ensure_timezone(session, "Europe/Berlin")
    with factory() as session:
        assert not aggregates.counts_usable(session, berlin)
        stats = queries.stats(session, EVERYONE, queries.FlagFilters(), berlin)  # exact, by the rows
    assert sum(stats["by_day"].values()) == stats["total"]
    first = min(stats["by_day"])
    assert first == (T0.astimezone(berlin)).date().isoformat()
    engine.dispose()


def test_upgrade_copies_and_counts_the_rows_already_there(db_url):
    """A database audited before migration 0005: its flags and checks get their copies of the
    settlement and the counts are built from them."""
    from alembic import command
    from sqlalchemy import text

    from database.engine import alembic_config

    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0004")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_runs (id, started_at, settlements_file, videos, summary) "
                          "VALUES (1, :t, 'x', 'v', '{}')"), {"t": T0})
        for n, (pharmacy, hours) in enumerate((("PA", 0), ("PA", 15), ("PB", 1)), start=1):
            conn.execute(text("INSERT INTO settlements (settlement_id, pharmacy_id, counter_id, settled_at, "
                              "card_hash, amount, items, extra) VALUES (:sid, :p, 'C1', :t, 'h', 1, '{}', '{}')"),
                         {"sid": f"S{n}", "p": pharmacy, "t": T0 + timedelta(hours=hours)})
            seen = '{"visit": {"track_id": 1, "start": "t1"}}' if n != 3 else "{}"
            conn.execute(text("INSERT INTO checks (settlement_id, run_id, status, seen, checked_at) "
                              "VALUES (:sid, 1, 'flagged', :seen, :t)"), {"sid": f"S{n}", "seen": seen, "t": T0})
            conn.execute(text("INSERT INTO flags (settlement_id, kind, score, reason, evidence, review_status, "
                              "created_at, updated_at) VALUES (:sid, 'burst', 0.5, 'r', '{}', 'open', :t, :t)"),
                         {"sid": f"S{n}", "t": T0})
    migrate(engine)
    factory = session_factory(engine)
    with factory() as session:
        assert {f.settlement_id: f.pharmacy_id for f in session.scalars(select(FlagRow))} == \
            {"S1": "PA", "S2": "PA", "S3": "PB"}
        assert session.get(CheckRow, "S1").visit_key == "C1|1|t1" and session.get(CheckRow, "S3").visit_key is None
        stats = queries.stats(session, EVERYONE, queries.FlagFilters(), TZ)
        assert stats["by_day"] == {"2026-11-20": 2, "2026-11-21": 1}  # 15 h after 10:00 is the next day
        rows = queries.footfall(session, EVERYONE, queries.FlagFilters(), TZ, alert_ratio=2.0, alert_min_swipes=1)
        assert [(r["pharmacy_id"], r["day"], r["settlements"], r["visitors"]) for r in rows] == [
            ("PA", "2026-11-20", 1, 1), ("PA", "2026-11-21", 1, 1), ("PB", "2026-11-20", 1, 0)]
    engine.dispose()
