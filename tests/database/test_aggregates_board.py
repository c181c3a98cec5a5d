"""The wall's pharmacy board (``aggregates.pharmacy_board``): open flags and swipes per visitor per
pharmacy, the two rankings in the right order, district scope, places, the footfall window, and the
same answer from the counts kept on write as from the rows themselves."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from database import aggregates, repository
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import FlagRow, Pharmacy
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind
from rxaudit.security import Principal
from tests.factories import settlement

TZ = ZoneInfo("Asia/Shanghai")
EVERYONE = Principal("user", 1, "sup", None, None)
IN_D1 = Principal("user", 2, "insp", None, frozenset({"D1"}))
IN_D9 = Principal("apikey", 3, "wall-9", None, frozenset({"D9"}))
DAY = date(2026, 11, 20)  # T0's local day


def check(n: int, pharmacy: str, *, flagged: bool = False, unverifiable: bool = False, visit: int | None = None,
          days_before: int = 0) -> CheckResult:
    s = settlement(n, pharmacy=pharmacy, seconds=n - days_before * 86_400)
    flags = (Flag(s.settlement_id, FlagKind.UNVERIFIABLE if unverifiable else FlagKind.BURST, 0.7, "why"),) \
        if flagged or unverifiable else ()
    status = (CheckStatus.UNVERIFIABLE if unverifiable else CheckStatus.FLAGGED if flagged else CheckStatus.CLEAN)
    seen = {"visit": {"track_id": visit, "start": f"v{visit}"}} if visit is not None else {}
    return CheckResult(s, status, flags, seen)


def build(db_url):
    """PA (D1, placed): 3 open flags, 6 judged swipes by 3 visitors (2.0). PB (D1, placed): 5 flags,
    2 of them confirmed (3 open), 5 swipes by 5 visitors (1.0), and 30 swipes 40 days ago that no one
    made. PC (D2, no place): 1 flag, 2 swipes, no visitor. PZ (not registered): 2 unverifiable flags."""
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        session.add_all([Pharmacy(pharmacy_id="PA", name="东方药房", district="D1", lat=36.06, lon=103.83),
                         Pharmacy(pharmacy_id="PB", name="西关药店", district="D1", lat=36.05, lon=103.79),
                         Pharmacy(pharmacy_id="PC", name="南门药店", district="D2")])
        run = repository.start_run(session, settlements_file="x", videos="v")
        rows, n = [], 0

        def add(pharmacy: str, **kw) -> None:
            nonlocal n
            n += 1
            rows.append(check(n, pharmacy, **kw))

        for k in range(6):
            add("PA", flagged=k < 3, visit=k // 2)
        for k in range(5):
            add("PB", flagged=True, visit=10 + k)
        for _ in range(30):
            add("PB", days_before=40)
        add("PC", flagged=True)
        add("PC")
        add("PZ", unverifiable=True)
        add("PZ", unverifiable=True)
        repository.save_results(session, run_id=run, results=rows)
    with transaction(factory) as session:
        for flag in session.scalars(select(FlagRow).where(FlagRow.pharmacy_id == "PB").order_by(FlagRow.id).limit(2)):
            flag.review_status = "confirmed"
    return engine, factory


def board(factory, principal=EVERYONE, **kw):
    args = {"day_to": DAY, "days": 30, "top": 10, "min_swipes": 2, **kw}
    with factory() as session:
        return aggregates.pharmacy_board(session, principal, TZ, **args)


def ids(tallies) -> list[str]:
    return [t.pharmacy_id for t in tallies]


def test_rankings_places_and_window(db_url):
    engine, factory = build(db_url)
    b = board(factory)
    assert (b.day_from, b.day_to, b.pharmacies) == (date(2026, 10, 22), DAY, 4)
    assert ids(b.by_open_flags) == ["PB", "PA", "PZ", "PC"]  # 3 open of 5, 3 of 3, 2, 1
    tally = {t.pharmacy_id: t for t in [*b.located, *b.unlocated]}
    assert (tally["PB"].open_flags, tally["PB"].flags) == (3, 5)
    # the 30 swipes 40 days ago lie outside the window; PC's swipes had no visitor at all: first
    assert [(t.pharmacy_id, t.swipes_per_visitor) for t in b.by_swipes_per_visitor] == [
        ("PC", None), ("PA", 2.0), ("PB", 1.0)]
    assert ids(b.located) == ["PB", "PA"] and tally["PA"].lat == pytest.approx(36.06)
    assert ids(b.unlocated) == ["PZ", "PC"] and b.unlocated_total == 2
    assert tally["PZ"].name is None and tally["PZ"].district is None
    wider = board(factory, days=60)  # now PB's unwitnessed swipes count: 35 by 5 visitors
    assert [(t.pharmacy_id, t.swipes_per_visitor) for t in wider.by_swipes_per_visitor] == [
        ("PC", None), ("PB", 7.0), ("PA", 2.0)]
    assert ids(board(factory, min_swipes=3).by_swipes_per_visitor) == ["PA", "PB"]  # PC has 2 only
    assert ids(board(factory, top=1).by_open_flags) == ["PB"]
    engine.dispose()


def test_district_scope(db_url):
    engine, factory = build(db_url)
    mine = board(factory, IN_D1)
    assert mine.pharmacies == 2 and ids(mine.by_open_flags) == ["PB", "PA"]
    assert ids(mine.by_swipes_per_visitor) == ["PA", "PB"] and mine.unlocated == []
    nobody = board(factory, IN_D9)
    assert (nobody.pharmacies, nobody.located, nobody.unlocated, nobody.by_open_flags) == (0, [], [], [])
    engine.dispose()


def test_kept_counts_answer_what_the_rows_answer(db_url, monkeypatch):
    engine, factory = build(db_url)
    for principal in (EVERYONE, IN_D1):
        for days in (1, 30, 60):
            kept = board(factory, principal, days=days)
            with monkeypatch.context() as m:
                m.setattr(aggregates, "counts_usable", lambda *_: False)
                assert board(factory, principal, days=days) == kept
    engine.dispose()


def test_empty_database(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    b = board(session_factory(engine))
    assert (b.pharmacies, b.located, b.unlocated, b.unlocated_total, b.by_open_flags,
            b.by_swipes_per_visitor) == (0, [], [], 0, [], [])
    engine.dispose()


def test_bounds(db_url, monkeypatch):
    engine, factory = build(db_url)
    b = board(factory, days=10_000, top=10_000)
    assert b.day_from == DAY - timedelta(days=aggregates.WINDOW_DAYS_MAX - 1)
    with factory() as session:
        session.add_all([Pharmacy(pharmacy_id=f"Q{k:03d}", name="q", district="D3") for k in range(60)])
        session.commit()
    assert len(board(factory, top=10_000).by_open_flags) == 4
    assert board(factory).unlocated_total == 62 and len(board(factory).unlocated) == 62
    monkeypatch.setattr(aggregates, "UNLOCATED_MAX", 5)
    cut = board(factory)
    assert len(cut.unlocated) == 5 and cut.unlocated_total == 62 and ids(cut.unlocated)[:2] == ["PZ", "PC"]
    engine.dispose()
