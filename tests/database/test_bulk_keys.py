"""A big write's foreign keys on PostgreSQL (database.bulk.foreign_keys_suspended): dropped for the
block and added again, validated, before it ends, inside the writer's transaction; other connections
wait rather than see the table without them; a row without its settlement still fails; locks held by
someone else are not waited for (the rows are written with the keys in place)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from database import bulk, records, repository
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import SoldTraceCode
from rxaudit.domain import CheckResult, CheckStatus, SettlementItem
from tests.factories import settlement

CODES = SoldTraceCode.__table__


def setup(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("foreign keys are suspended on PostgreSQL only")
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        run = repository.start_run(session, settlements_file="x.csv", videos="v")
        repository.save_results(session, run_id=run, results=[
            CheckResult(settlement(n), CheckStatus.CLEAN, (), {}) for n in (1, 2)])
    return engine, factory


def keys(connection) -> list[tuple[str, bool]]:
    return [tuple(r) for r in connection.execute(text(
        "SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid = 'sold_trace_codes'::regclass ORDER BY conname")).all()]


KEY = [("sold_trace_codes_settlement_id_fkey", True)]


def code_row(sid: str, n: int) -> dict:
    return {"code": f"{n:020d}", "settlement_id": sid, "line_no": 1, "item_code": "D1"}


def test_codes_written_without_the_key_row_by_row_keep_it_and_no_one_sees_it_missing(db_url):
    engine, factory = setup(db_url)
    with factory() as session, session.begin():
        with bulk.foreign_keys_suspended(session, CODES, enabled=True) as suspended:
            assert suspended and keys(session) == []
            session.execute(insert(CODES), [code_row("S1", 1), code_row("S2", 2)])
            with engine.connect() as other:  # sees the key, and waits for the table
                assert keys(other) == KEY
                other.execute(text("SET lock_timeout = '200ms'"))
                with pytest.raises(OperationalError):
                    other.execute(select(CODES.c.code)).all()
        assert keys(session) == KEY
    with engine.connect() as other:
        assert keys(other) == KEY
        assert other.execute(select(CODES.c.settlement_id).order_by(CODES.c.code)).scalars().all() == ["S1", "S2"]
    with pytest.raises(IntegrityError), transaction(factory) as session:  # the key works again
        session.execute(insert(CODES), [code_row("S9", 9)])
    engine.dispose()


def test_a_code_without_its_settlement_fails_at_the_end_and_the_rollback_keeps_the_key(db_url):
    engine, factory = setup(db_url)
    with pytest.raises(IntegrityError), transaction(factory) as session:
        with bulk.foreign_keys_suspended(session, CODES, enabled=True) as suspended:
            assert suspended
            session.execute(insert(CODES), [code_row("S1", 1), code_row("S9", 9)])
    with engine.connect() as other:
        assert keys(other) == KEY and other.execute(select(CODES.c.code)).all() == []
    engine.dispose()


def test_a_table_someone_reads_is_not_waited_for_the_keys_stay(db_url, monkeypatch):
    monkeypatch.setattr(bulk, "KEYS_LOCK_TIMEOUT", "200ms")
    engine, factory = setup(db_url)
    with engine.connect() as reader:
        reader.execute(select(CODES.c.code)).all()  # its transaction holds the table until it ends
        with factory() as session, session.begin():
            with bulk.foreign_keys_suspended(session, CODES, enabled=True) as suspended:
                assert not suspended and keys(session) == KEY
                session.execute(insert(CODES), [code_row("S1", 1)])
                with pytest.raises(IntegrityError), session.begin_nested():  # checked row by row
                    session.execute(insert(CODES), [code_row("S9", 9)])
            assert session.execute(text("SHOW lock_timeout")).scalar_one() == "0"
        reader.rollback()
    with engine.connect() as other:
        assert keys(other) == KEY and other.execute(select(CODES.c.settlement_id)).scalars().all() == ["S1"]
    engine.dispose()


def test_a_big_runs_trace_codes_are_stored_as_a_small_runs(db_url):
    engine, factory = setup(db_url)
    sales = [settlement(n, items=(SettlementItem("D1", "drug", Decimal(2), Decimal(1),
                                                 trace_codes=(f"{n:020d}", f"{n + 10:020d}")),)) for n in (1, 2)]
    stored = []
    for big in (False, True):
        with transaction(factory) as session:
            assert records.save_trace_codes(session, settlements=sales, big=big) == 4
        with engine.connect() as other:
            assert keys(other) == KEY
            stored.append(other.execute(select(CODES).order_by(CODES.c.code)).all())
    assert stored[0] == stored[1] and len(stored[1]) == 4
    engine.dispose()


def test_not_enabled_or_sqlite_nothing_is_suspended(db_url, tmp_path):
    engine = make_engine(db_url if db_url.startswith("postgresql") else f"sqlite:///{tmp_path}/k.db")
    migrate(engine)
    with session_factory(engine)() as session, session.begin():
        with bulk.foreign_keys_suspended(session, CODES, enabled=not db_url.startswith("postgresql")) as suspended:
            assert not suspended
    engine.dispose()
