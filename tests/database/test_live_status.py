"""database.live_status: the live inbox's backlog (rows not done, the oldest due, each counter's delay,
the p50 delay of the last hour's done rows), district-scoped, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from database.engine import make_engine, migrate, session_factory, transaction
from database.live_status import live_status, median
from database.models import LiveSettlement, Pharmacy
from rxaudit.security import Principal

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)


def row(sid: str, pharmacy: str, counter: str, *, due_s: float, state: str = "pending",
        done_s: float | None = None) -> LiveSettlement:
    """``due_s``: due_at relative to NOW; ``done_s``: done_at relative to NOW."""
    due = NOW + timedelta(seconds=due_s)
    return LiveSettlement(settlement_id=sid, pharmacy_id=pharmacy, counter_id=counter, settled_at=due - timedelta(seconds=16),
                          card_hash="h" * 16, amount=Decimal("9.50"), items={}, extra={}, source="api",
                          received_at=due - timedelta(seconds=15), due_at=due, state=state, attempts=0,
                          done_at=None if done_s is None else NOW + timedelta(seconds=done_s),
                          outcome="clean" if state == "done" else None)


def test_backlog_delays_and_p50(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        s.add_all([Pharmacy(pharmacy_id="PA", name="A1", district="A"), Pharmacy(pharmacy_id="PB", name="B1", district="B")])
        s.add_all([
            row("a1", "PA", "C1", due_s=-90), row("a2", "PA", "C1", due_s=-30, state="claimed"),
            row("a3", "PA", "C2", due_s=+20),  # not due yet: no delay
            row("b1", "PB", "C1", due_s=-300),
            row("n1", "PN", "C1", due_s=-1000),  # a pharmacy without a district: only unscoped readers
            # done in the last hour: delays 4, 10, 30 s (median 10); one done 2 h ago is not counted
            row("d1", "PA", "C1", due_s=-600, state="done", done_s=-596),
            row("d2", "PA", "C1", due_s=-500, state="done", done_s=-490),
            row("d3", "PB", "C1", due_s=-400, state="done", done_s=-370),
            row("d4", "PA", "C1", due_s=-7300, state="done", done_s=-7200),
        ])
    everyone = Principal("user", 1, "sup", None, None)
    only_a = Principal("user", 2, "insp_a", None, frozenset({"A"}))
    with factory() as s:
        st = live_status(s, principal=everyone, now=NOW)
        assert (st.pending, st.claimed) == (4, 1)
        assert st.oldest_due_at == NOW - timedelta(seconds=1000) and st.oldest_delay_s == 1000
        assert [(c.pharmacy_id, c.counter_id, c.not_done, c.delay_s) for c in st.counters] == [
            ("PN", "C1", 1, 1000), ("PB", "C1", 1, 300), ("PA", "C1", 2, 90), ("PA", "C2", 1, 0)]
        assert st.counters_total == 4
        assert st.done_last_hour == 3 and st.p50_delay_s == 10

        a = live_status(s, principal=only_a, now=NOW)
        assert (a.pending, a.claimed, a.oldest_delay_s) == (2, 1, 90)
        assert [(c.pharmacy_id, c.counter_id) for c in a.counters] == [("PA", "C1"), ("PA", "C2")]
        assert a.done_last_hour == 2 and a.p50_delay_s == 7  # (4 + 10) / 2

        top = live_status(s, principal=everyone, now=NOW, max_counters=2)
        assert len(top.counters) == 2 and top.counters_total == 4
    engine.dispose()


def test_empty_inbox(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    with session_factory(engine)() as s:
        st = live_status(s, now=NOW)
    assert (st.pending, st.claimed, st.oldest_due_at, st.p50_delay_s, st.counters) == (0, 0, None, None, ())
    engine.dispose()


def test_median():
    assert median([]) is None and median([3.0]) == 3.0 and median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
