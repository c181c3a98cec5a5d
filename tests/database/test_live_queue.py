"""The live inbox as a work queue (issue 28), on SQLite and PostgreSQL: due rows claimed with a lease,
an expired lease claimed again with its attempts counted, one worker per counter, the backlog's share
of each claim, rows given back wait; on PostgreSQL two workers claiming at once never share a row."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import insert, select

from database import live_queue
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import LiveSettlement, utcnow
from rxaudit.domain import ItemCategory, SettlementItem
from tests.factories import settlement


def _factory(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    return engine, session_factory(engine)


def put(factory, rows) -> None:
    """Inbox rows: (settlement, due_at)."""
    with transaction(factory) as session:
        session.execute(insert(LiveSettlement), [live_queue.row_values(s, source="api", due_at=due)
                                                 for s, due in rows])


def claim(factory, worker="w1", **kw):
    kw = {"limit": 1, "lease_s": 60, "live_lane_s": 120, **kw}
    with transaction(factory) as session:
        return live_queue.claim(session, worker=worker, **kw)


def test_claim_lease_expiry_attempts_and_done(db_url):
    engine, factory = _factory(db_url)
    now = utcnow()
    item = SettlementItem("X1", "drug", 2, 3, ItemCategory.COVERED, ("1" * 20, "2" * 20))
    s = settlement(1, items=(item,), extra={"k": "v"})
    put(factory, [(s, now - timedelta(seconds=5)), (settlement(2, counter="C2"), now + timedelta(hours=1))])
    got = claim(factory, now=now)
    assert [c.settlement for c in got] == [s] and got[0].attempts == 1  # the record comes back whole
    assert claim(factory, worker="w2", now=now) == []  # held; the other is not due
    again = claim(factory, worker="w2", now=now + timedelta(seconds=61))  # w1 died: its lease ran out
    assert [c.settlement.settlement_id for c in again] == ["S1"] and again[0].attempts == 2
    with transaction(factory) as session:
        assert live_queue.renew(session, worker="w1", settlement_ids=["S1"], lease_s=60) == 0  # w1 lost it
        live_queue.complete(session, settlement_id="S1", outcome="flagged")
    assert claim(factory, now=now + timedelta(hours=2))[0].settlement.settlement_id == "S2"
    with factory() as session:
        row = session.get(LiveSettlement, "S1")
        assert (row.state, row.outcome, row.attempts) == ("done", "flagged", 2) and row.done_at is not None
        assert live_queue.counts(session, now=now + timedelta(hours=2)) == {"done": 1, "claimed": 1, "due": 1}
    engine.dispose()


def test_one_worker_per_counter_and_given_back_rows_wait(db_url):
    engine, factory = _factory(db_url)
    now = utcnow()
    due = now - timedelta(seconds=10)
    put(factory, [(settlement(1, seconds=0), due), (settlement(2, seconds=30), due),
                  (settlement(3, counter="C2"), due)])
    first = claim(factory, limit=3, now=now)
    assert sorted(c.settlement.settlement_id for c in first) == ["S1", "S3"]  # one row per counter
    assert claim(factory, worker="w2", limit=3, now=now) == []  # C1 and C2 are held by w1
    with transaction(factory) as session:
        assert live_queue.give_back(session, worker="w1", settlement_id="S1",
                                    not_before=now + timedelta(seconds=30))
        live_queue.complete(session, settlement_id="S3", outcome="clean")
    got = claim(factory, worker="w2", limit=3, now=now + timedelta(seconds=1))
    assert [c.settlement.settlement_id for c in got] == ["S2"]  # S1 waits until its not-before time
    with transaction(factory) as session:
        live_queue.complete(session, settlement_id="S2", outcome="clean")
    back = claim(factory, limit=3, now=now + timedelta(seconds=31))
    assert [(c.settlement.settlement_id, c.attempts) for c in back] == [("S1", 1)]  # giving back costs no attempt
    engine.dispose()


def test_backlog_takes_its_share_and_the_live_lane_the_rest(db_url):
    """An hour's backlog (one row per counter) and 3 live rows: a claim of 4 with a backlog share of
    1 takes the oldest backlog row and the 3 live ones; with no live rows left the backlog takes all."""
    engine, factory = _factory(db_url)
    now = utcnow()
    old = [(settlement(i, counter=f"B{i}"), now - timedelta(minutes=60 - i)) for i in range(10)]
    fresh = [(settlement(100 + i, counter=f"L{i}"), now - timedelta(seconds=20 + i)) for i in range(3)]
    put(factory, old + fresh)
    got = [c.settlement.settlement_id for c in claim(factory, limit=4, backlog_n=1, now=now)]
    assert got == ["S0", "S102", "S101", "S100"]  # the oldest backlog row, then the live lane oldest first
    got = [c.settlement.settlement_id for c in claim(factory, worker="w2", limit=4, backlog_n=1, now=now)]
    assert got == ["S1", "S2", "S3", "S4"]  # the live lane is empty: its share goes to the backlog
    engine.dispose()


def test_two_workers_claiming_at_once_never_share_a_row(db_url):
    if not db_url.startswith("postgresql"):
        return  # SQLite runs one worker (the CLI refuses more)
    engine, factory = _factory(db_url)
    now = utcnow()
    put(factory, [(settlement(i, counter=f"C{i % 40}", seconds=i), now - timedelta(seconds=1)) for i in range(200)])
    claimed: dict[str, list[str]] = {"a": [], "b": []}

    def work(name: str) -> None:
        while True:
            with transaction(factory) as session:
                got = live_queue.claim(session, worker=name, limit=3, lease_s=60, live_lane_s=120)
                for c in got:
                    live_queue.complete(session, settlement_id=c.settlement.settlement_id, outcome="clean")
            if not got:
                with factory() as session:
                    if not session.scalar(select(LiveSettlement.settlement_id).where(LiveSettlement.state != "done").limit(1)):
                        return
            claimed[name].extend(c.settlement.settlement_id for c in got)

    threads = [threading.Thread(target=work, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    a, b = claimed["a"], claimed["b"]
    assert not set(a) & set(b) and len(a) + len(b) == 200 and len(set(a + b)) == 200
    assert a and b  # both took a share
    engine.dispose()
