"""Bulk writes: PostgreSQL's COPY path stores exactly what the statement path stores (rows, ids,
JSON text, kept counts), refuses a bad row as the statement path does, and on both paths and both
databases a stored settlement is never overwritten and a flag with a verdict keeps its settlement."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import JSON, String, cast, select, text
from sqlalchemy.exc import DataError, IntegrityError

from ingest.cameras import CamerasConfig
from audit import persist
from database import bulk, repository
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import Base, CheckRow, FlagRow, SettlementRow
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind, RejectedRow, SettlementItem
from audit.pipeline import reconcile_and_save
from rxaudit.records import Purchase, Records, StockCount
from tests.factories import T0, settlement

VOLATILE = {"checked_at", "created_at", "updated_at", "started_at", "finished_at"}  # the clock's
WRITTEN = ("settlements", "checks", "flags", "face_signatures", "sold_trace_codes", "purchases", "stock_counts",
           "flag_counts", "footfall_days", "footfall_visits", "audit_runs", "rejected_rows")


@pytest.fixture(params=["statements", "copy"])
def write_path(request, monkeypatch):
    """Every write through plain statements, or every one (however small) through COPY where it can."""
    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 10**9 if request.param == "statements" else 0)
    return request.param


def setup(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    return engine, session_factory(engine)


def result(s, *kinds, reason="because", seen=None, identity=None):
    flags = tuple(Flag(s.settlement_id, k, 0.9, f"{reason} {k}") for k in kinds)
    return CheckResult(s, CheckStatus.FLAGGED if flags else CheckStatus.CLEAN, flags,
                       seen if seen is not None else {"frames_checked": 3}, identity=identity)


def save(factory, *results):
    with transaction(factory) as session:
        run = repository.start_run(session, settlements_file="x.csv", videos="v")
        repository.save_results(session, run_id=run, results=list(results))


def test_a_stored_settlement_is_never_overwritten_and_a_reviewed_flag_keeps_its_settlement(db_url, write_path):
    engine, factory = setup(db_url)
    first = [settlement(n, pharmacy="PHX", seconds=60 * n) for n in (1, 2, 3)]
    save(factory, *(result(s, FlagKind.BURST) for s in first))
    with transaction(factory) as session:
        session.scalar(select(FlagRow).where(FlagRow.settlement_id == "S2")).review_status = "confirmed"
    # the same ids again with other content: another pharmacy, counter, time, card and amount
    other = [replace(s, pharmacy_id="PHY", counter_id="C9", amount=Decimal("2.00"), card_hash="f" * 64,
                     settled_at=s.settled_at + timedelta(days=3)) for s in first]
    save(factory, *(result(s, FlagKind.BURST, reason="again") for s in other))
    with factory() as session:
        content = lambda s: (s.pharmacy_id, s.counter_id, s.amount, s.card_hash, s.settled_at)  # noqa: E731
        assert {r.settlement_id: content(r) for r in session.scalars(select(SettlementRow))} == {
            s.settlement_id: content(s) for s in first}
        flags = {f.settlement_id: f for f in session.scalars(select(FlagRow))}
        assert flags["S2"].review_status == "confirmed"
        assert flags["S1"].reason == "again burst" and flags["S1"].review_status == "open"  # open ones update
        where = {s.settlement_id: ("PHX", s.settled_at) for s in first}  # the copies follow the stored settlement
        assert {f.settlement_id: (f.pharmacy_id, f.settled_at) for f in flags.values()} == where
        assert {c.settlement_id: (c.pharmacy_id, c.settled_at) for c in session.scalars(select(CheckRow))} == where
        assert {c.run_id for c in session.scalars(select(CheckRow))} == {2}  # the checks are the new audit's
    engine.dispose()


def test_a_row_the_schema_refuses_is_rejected_alone_on_either_path(db_url, write_path):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite keeps strings of any length")
    engine, factory = setup(db_url)
    results = [result(settlement(n, counter="C" * (65 if n == 2 else 1), line=n + 1), FlagKind.BURST)
               for n in (1, 2, 3)]
    with factory() as session, session.begin():
        run = repository.start_run(session, settlements_file="x.csv", videos="v")
        saved, rejected, _ = persist.save_chunk(session, run_id=run, results=results, keep_faces=True, source="s.csv")
    assert [r.settlement.settlement_id for r in saved] == ["S1", "S3"]
    assert [(r.source, r.line) for r in rejected] == [("s.csv", 3)] and "DataError" in rejected[0].reason
    with factory() as session:
        assert sorted(session.scalars(select(SettlementRow.settlement_id))) == ["S1", "S3"]
    engine.dispose()


def test_a_value_copy_itself_refuses_is_raised_as_the_statement_path_raises_it(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("COPY is PostgreSQL's")
    engine, factory = setup(db_url)
    table = SettlementRow.__table__
    with factory() as session, session.begin(), pytest.raises(DataError):
        bulk.copy_rows(session, table, [table.c.settlement_id], [("S\x001",)])
    engine.dispose()


# -- the COPY path against the statement path, on PostgreSQL: the same database, byte for byte ---------

def sale(n, *, days=0.0, codes=(), pharmacy="PH1", **kw):
    item = SettlementItem("D1", "药品 “一”", Decimal(len(codes) or 1), Decimal("5.50"), trace_codes=tuple(codes))
    return settlement(n, seconds=days * 86400 + 97 * n, pharmacy=pharmacy, items=(item,), **kw)


def two_audits():
    """A first audit, then a second one that sees some settlements again, sells a code again,
    corrects a stock count and repeats a delivery."""
    code = lambda k: f"{k:020d}"  # noqa: E731
    first = [sale(n, codes=[code(2 * n), code(2 * n + 1)], pharmacy=f"PH{n % 3}") for n in range(1, 40)]
    first += [sale(40 + n, card=f"CARD{n}", extra={"operator": "张三", "n": n}) for n in range(5)]
    records = Records(
        purchases=tuple(Purchase(f"PH{k % 3}", "D1", Decimal(k), T0 - timedelta(hours=k), "国药", f"I{k}")
                        for k in range(1, 30)) * 2,  # each line twice: stored once
        stock_counts=tuple(StockCount(f"PH{k}", "D1", Decimal(k), T0 - timedelta(days=1)) for k in range(3)))
    second = first[30:] + [sale(100 + n, days=0.5, codes=[code(n)], pharmacy="PH2") for n in range(1, 6)]
    later = Records(purchases=records.purchases[:5] + (Purchase("PH1", "D1", Decimal(9), T0, "国药", "NEW"),),
                    stock_counts=(StockCount("PH0", "D1", Decimal(7), T0 - timedelta(days=1)),
                                  StockCount("PH1", "D1", Decimal(1), T0 - timedelta(days=1))))
    return [(first, records), (second, later)]


def dump(factory) -> dict[str, list[tuple]]:
    """Every row written, JSON as its stored text, in id order where rows have one."""
    out = {}
    with factory() as session:
        for name in WRITTEN:
            table = Base.metadata.tables[name]
            columns = [cast(c, String) if isinstance(c.type, JSON) else c
                       for c in table.columns if c.name not in VOLATILE]
            order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
            out[name] = [tuple(r) for r in session.execute(select(*columns).order_by(*order))]
    return out


def test_copy_stores_exactly_what_statements_store(db_url, make_settings, monkeypatch):
    if db_url.startswith("sqlite"):
        pytest.skip("COPY is PostgreSQL's")
    engine, factory = setup(db_url)
    settings = make_settings(db_url=db_url)
    dumps = {}
    for path, minimum in (("statements", 10**9), ("copy", 0)):
        monkeypatch.setattr(bulk, "COPY_MIN_ROWS", minimum)
        with transaction(factory) as session:
            session.execute(text(f"TRUNCATE {', '.join(WRITTEN)} RESTART IDENTITY CASCADE"))
        for settlements, records in two_audits():
            reconcile_and_save(settings, factory, settlements=settlements, footage={}, cameras=CamerasConfig(),
                               rejected=[RejectedRow("s.csv", 7, "bad")], rows_read=len(settlements), settlements_file="s.csv", videos="v",
                               records=records)
        with transaction(factory) as session:  # faces, and a re-audit that drops and keeps flags
            run = repository.start_run(session, settlements_file="x.csv", videos="v")
            repository.save_results(session, run_id=run, results=[
                result(sale(n), *((FlagKind.BURST,) if n % 2 else ()), seen={"visit": {"track_id": n % 3, "start": "t"}, "名": [n, 1.5]},
                       identity=np.full(4, n / 3, dtype=np.float32)) for n in range(1, 8)])
        dumps[path] = dump(factory)
    assert dumps["copy"] == dumps["statements"]
    assert all(dumps["copy"][name] for name in WRITTEN)
    engine.dispose()


def raw_dump(factory) -> dict[str, list[tuple]]:
    """Every row written as the database holds it (SQLite: times and JSON as their stored text)."""
    out = {}
    with factory() as session:
        for name in WRITTEN:
            table = Base.metadata.tables[name]
            columns = ", ".join(c.name for c in table.columns if c.name not in VOLATILE)
            order = "id" if "id" in table.c else ", ".join(c.name for c in table.primary_key.columns)
            out[name] = [tuple(r) for r in session.connection().exec_driver_sql(
                f"SELECT {columns} FROM {name} ORDER BY {order}")]
    return out


def test_sqlite_driver_inserts_store_exactly_what_statements_store(tmp_path, make_settings, monkeypatch):
    """A chunk of new settlements goes to SQLite's driver (bulk.insert_many): the same bytes as
    SQLAlchemy's statements, ids included."""
    dumps = {}
    for path, minimum in (("statements", 10**9), ("driver", 0)):
        monkeypatch.setattr(bulk, "COPY_MIN_ROWS", minimum)
        url = f"sqlite:///{tmp_path}/{path}.db"
        engine, factory = setup(url)
        settings = make_settings(db_url=url)
        for settlements, records in two_audits():
            reconcile_and_save(settings, factory, settlements=settlements, footage={}, cameras=CamerasConfig(),
                               rejected=[RejectedRow("s.csv", 7, "bad")], rows_read=len(settlements),
                               settlements_file="s.csv", videos="v", records=records)
        with transaction(factory) as session:
            run = repository.start_run(session, settlements_file="x.csv", videos="v")
            repository.save_results(session, run_id=run, results=[
                result(sale(200 + n, extra={"操作员": "李四"}), *((FlagKind.BURST,) if n % 2 else ()),
                       seen={"visit": {"track_id": n % 3}, "名": [n, 1.5]},
                       identity=np.full(4, n / 3, dtype=np.float32)) for n in range(1, 8)])
        dumps[path] = raw_dump(factory)
        engine.dispose()
    assert dumps["driver"] == dumps["statements"]
    assert all(dumps["driver"][name] for name in WRITTEN if name not in ("footfall_visits",)), {
        name: len(rows) for name, rows in dumps["driver"].items()}


def test_sqlite_driver_insert_refuses_a_naive_time_and_a_duplicate(tmp_path):
    engine, factory = setup(f"sqlite:///{tmp_path}/rx.db")
    table = SettlementRow.__table__
    row = {"settlement_id": "S1", "pharmacy_id": "P", "counter_id": "C", "settled_at": T0, "card_hash": "h",
           "amount": Decimal("1.50"), "items": {"lines": []}, "extra": {}}
    with factory() as session, session.begin():
        with pytest.raises(ValueError):
            bulk.insert_many(session, table, [{**row, "settled_at": T0.replace(tzinfo=None)}])
        bulk.insert_many(session, table, [row])
        with pytest.raises(IntegrityError):
            bulk.insert_many(session, table, [row])
    engine.dispose()
