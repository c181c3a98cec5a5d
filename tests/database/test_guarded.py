"""A settlement the database refuses is a rejected row; the others are saved, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from database import guarded, repository
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import SettlementRow
from rxaudit.domain import CheckResult, CheckStatus
from tests.factories import settlement

YEAR_ONE = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=8)))  # no UTC equivalent: overflows


def clean(s):
    return CheckResult(s, CheckStatus.CLEAN, (), {})


@pytest.mark.parametrize("chunk", [1, 2, 500])
def test_a_refused_settlement_is_rejected_and_the_rest_saved(db_url, chunk):
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    results = [clean(settlement(1, line=2)), clean(settlement(2, at=YEAR_ONE, line=3)),
               clean(settlement(3, line=4))]
    with transaction(factory) as session:
        run_id = repository.start_run(session, settlements_file="s.csv", videos="v")
        saved, refused = guarded.save_results(session, run_id=run_id, results=results, keep_faces=True,
                                              source="s.csv", chunk=chunk)
    assert [r.settlement.settlement_id for r in saved] == ["S1", "S3"]
    (bad,) = refused
    assert (bad.source, bad.line) == ("s.csv", 3) and "could not be saved" in bad.reason
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(SettlementRow)) == 2


def test_a_lost_database_is_not_blamed_on_a_row(tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    engine = make_engine(f"sqlite:///{tmp_path}/rx.db")
    migrate(engine)

    def broken(session, **kw):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(repository, "save_results", broken)
    with session_factory(engine)() as session, pytest.raises(OperationalError):
        guarded.save_results(session, run_id=1, results=[clean(settlement(1))], keep_faces=True,
                             source="s.csv")
