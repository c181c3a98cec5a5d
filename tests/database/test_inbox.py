"""The live inbox on SQLite and PostgreSQL: rows a worker can use, idempotent on settlement_id, a
different record under a known id kept as a conflict and never written over."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

import database.inbox as inbox
from database.engine import make_engine, migrate, session_factory, transaction
from database.inbox import Outcome, accept
from database.models import AuditRun, LiveSettlement, SettlementConflictRow
from database.repository import save_results, start_run
from rxaudit.domain import CheckResult, CheckStatus, Settlement, SettlementItem

T = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
CODE = "8" * 20


def settlement(sid="S1", **changes) -> Settlement:
    base = Settlement(settlement_id=sid, pharmacy_id="P1", counter_id="C1", settled_at=T, card_hash="h" * 64,
                      amount=Decimal("12.50"), extra={"operator": "w"}, line=0,
                      items=(SettlementItem("I1", "药", Decimal("2"), Decimal("6.25"), trace_codes=(CODE,)),
                             SettlementItem("I2", "纸巾", Decimal("1"), Decimal("0"))))
    return replace(base, **changes)


@pytest.fixture
def db(db_url, make_settings):
    engine = make_engine(db_url)
    migrate(engine)
    yield session_factory(engine), make_settings(db_url=db_url)
    engine.dispose()


def put(db, settlements, source="api"):
    factory, settings = db
    with transaction(factory) as session:
        return accept(session, settlements=settlements, source=source, settings=settings, origin="test")


def rows(db, model):
    with db[0]() as session:
        return list(session.scalars(select(model)))


def test_a_new_settlement_is_a_pending_row_a_worker_can_use(db):
    settings = db[1]
    assert put(db, [settlement()]).outcomes == (Outcome.STORED,)
    (row,) = rows(db, LiveSettlement)
    assert (row.settlement_id, row.pharmacy_id, row.counter_id, row.settled_at) == ("S1", "P1", "C1", T)
    assert (row.card_hash, row.amount, row.extra, row.source) == ("h" * 64, Decimal("12.50"), {"operator": "w"}, "api")
    assert row.items == {"lines": [
        {"item_code": "I1", "item_name": "药", "quantity": "2", "unit_price": "6.25", "category": "unknown",
         "trace_codes": [CODE]},
        {"item_code": "I2", "item_name": "纸巾", "quantity": "1", "unit_price": "0", "category": "unknown",
         "trace_codes": []}]}
    assert row.due_at == T + timedelta(seconds=settings.window_after_s + settings.live_segment_s)
    assert (row.state, row.attempts, row.claimed_by, row.lease_until, row.done_at, row.outcome) == (
        "pending", 0, None, None, None, None)
    assert abs((row.received_at - datetime.now(UTC)).total_seconds()) < 60


SAME = {
    "identical": {},
    "amount at another scale": {"amount": Decimal("12.5")},
    "time at another offset": {"settled_at": T.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))},
    "lines in another order": {"items": tuple(reversed(settlement().items))},
    "other extra fields": {"extra": {"operator": "x", "remark": "late"}},
    "another position": {"line": 7},
}


@pytest.mark.parametrize("changes", SAME.values(), ids=SAME.keys())
def test_the_same_record_again_changes_nothing(db, changes):
    put(db, [settlement()])
    before = [(r.settlement_id, r.received_at, r.items, r.extra, r.source) for r in rows(db, LiveSettlement)]
    accepted = put(db, [settlement(**changes)], source="nats")
    assert accepted.outcomes == (Outcome.DUPLICATE,) and accepted.conflicts == ()
    assert [(r.settlement_id, r.received_at, r.items, r.extra, r.source) for r in rows(db, LiveSettlement)] == before
    assert rows(db, SettlementConflictRow) == []


DIFFERENT = {
    "amount": ({"amount": Decimal("13")}, ("amount",)),
    "pharmacy and counter": ({"pharmacy_id": "P2", "counter_id": "C2"}, ("pharmacy_id", "counter_id")),
    "time": ({"settled_at": T + timedelta(seconds=1)}, ("settled_at",)),
    "card": ({"card_hash": "g" * 64}, ("card_hash",)),
    "a line fewer": ({"items": settlement().items[:1]}, ("items",)),
}


@pytest.mark.parametrize("changes, fields", DIFFERENT.values(), ids=DIFFERENT.keys())
def test_a_different_record_under_a_known_id_is_a_conflict_never_written_over(db, changes, fields):
    put(db, [settlement()])
    accepted = put(db, [settlement("S2"), settlement(**changes, line=1)])
    assert accepted.outcomes == (Outcome.STORED, Outcome.CONFLICT)
    (conflict,) = accepted.conflicts
    assert (conflict.settlement_id, conflict.line, conflict.fields, conflict.source) == ("S1", 1, fields, "test")
    stored = {r.settlement_id: r for r in rows(db, LiveSettlement)}
    assert set(stored) == {"S1", "S2"} and stored["S1"].amount == Decimal("12.50") and stored["S1"].pharmacy_id == "P1"
    (kept,) = rows(db, SettlementConflictRow)
    assert (kept.settlement_id, kept.line, kept.fields, kept.stored_run_id) == ("S1", 1, ",".join(fields), None)
    with db[0]() as session:
        run = session.get(AuditRun, kept.run_id)
        assert run.settlements_file.startswith("live api ") and run.videos == inbox.LIVE_RUN_VIDEOS


def test_ids_audited_already_are_known_too(db):
    factory, _ = db
    with transaction(factory) as session:
        run_id = start_run(session, settlements_file="log.csv", videos="v")
        save_results(session, run_id=run_id, results=[CheckResult(settlement=settlement("A1"),
                                                                  status=CheckStatus.CLEAN, flags=(), seen={})])
    accepted = put(db, [settlement("A1"), settlement("A1", amount=Decimal("1"), line=1)])
    assert accepted.outcomes == (Outcome.DUPLICATE, Outcome.CONFLICT)
    assert accepted.conflicts[0].fields == ("amount",)
    assert rows(db, LiveSettlement) == []  # the audited one is not queued again
    (kept,) = rows(db, SettlementConflictRow)
    assert kept.stored_run_id == run_id


def test_an_inbox_only_conflict_is_listed_for_its_districts_inspectors(db):
    """The stored settlement is only in the inbox (not audited yet): the conflicts list finds its
    pharmacy there, so its district's inspectors see it and others do not."""
    from database.conflicts import listing
    from database.models import Pharmacy

    factory, _ = db
    with transaction(factory) as session:
        session.add_all([Pharmacy(pharmacy_id="P1", name="一", district="D1"),
                         Pharmacy(pharmacy_id="P2", name="二", district="D2")])
    put(db, [settlement()])
    put(db, [settlement(pharmacy_id="P2", line=4)])  # another pharmacy's record under the same id
    with factory() as session:
        [listed] = listing(session, districts={"D1"})
        assert (listed.settlement_id, listed.stored_pharmacy_id, listed.line) == ("S1", "P1", 4)
        assert listing(session, districts={"D2"}) == []  # the posting pharmacy's district sees nothing of P1's
        assert [c.settlement_id for c in listing(session)] == ["S1"]


def test_one_batch_repeating_an_id(db):
    accepted = put(db, [settlement(), settlement(line=1), settlement(amount=Decimal("2"), line=2)])
    assert accepted.outcomes == (Outcome.STORED, Outcome.DUPLICATE, Outcome.CONFLICT)
    assert len(rows(db, LiveSettlement)) == 1 and rows(db, LiveSettlement)[0].amount == Decimal("12.50")


def test_conflicts_of_a_day_share_one_live_run(db):
    put(db, [settlement()])
    put(db, [settlement(amount=Decimal("1"))])
    put(db, [settlement(amount=Decimal("2"))], source="nats")
    put(db, [settlement(amount=Decimal("3"))])
    runs = {r.run_id for r in rows(db, SettlementConflictRow)}
    assert len(rows(db, SettlementConflictRow)) == 3 and len(runs) == 2  # api's and nats's


@pytest.mark.parametrize("n", [2, 250], ids=["statements", "bulk"])  # 250: COPY on PostgreSQL
def test_an_id_stored_by_a_concurrent_writer_meanwhile_is_compared_again(db, monkeypatch, n):
    """Two requests racing for one id: the later insert skips it (ON CONFLICT DO NOTHING) and the
    record is compared with what the other stored: a conflict, not a silent loss."""
    put(db, [settlement()])
    real = inbox._known
    calls = []

    def blind_once(session, ids):  # the first look-up misses the row (as a concurrent writer's would)
        calls.append(ids)
        return {} if len(calls) == 1 else real(session, ids)

    monkeypatch.setattr(inbox, "_known", blind_once)
    others = [settlement(f"S{k}", line=k) for k in range(2, n + 1)]
    accepted = put(db, [settlement(amount=Decimal("9")), *others])
    assert accepted.outcomes == (Outcome.CONFLICT, *[Outcome.STORED] * len(others)) and len(calls) == 2
    stored = {r.settlement_id: r.amount for r in rows(db, LiveSettlement)}
    assert len(stored) == n and stored["S1"] == Decimal("12.50")


def test_a_large_batch_writes_the_same_rows(db):
    """250 settlements (PostgreSQL: through COPY) give the rows one settlement gives."""
    put(db, [settlement("S0")])
    put(db, [settlement(f"S{k}", line=k) for k in range(1, 251)])
    by_id = {r.settlement_id: r for r in rows(db, LiveSettlement)}
    assert len(by_id) == 251
    small, large = by_id["S0"], by_id["S250"]
    for name in ("pharmacy_id", "counter_id", "settled_at", "card_hash", "amount", "items", "extra", "source",
                 "due_at", "state", "attempts", "claimed_by", "lease_until", "done_at", "outcome"):
        assert getattr(small, name) == getattr(large, name), name


def test_source_must_be_known(db):
    with pytest.raises(ValueError):
        put(db, [settlement()], source="csv")
