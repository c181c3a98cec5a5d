from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import func, select, text

from database import repository
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import CheckRow, FaceSignature, FlagRow, SettlementRow
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind
from tests.factories import settlement


def result(s, *kinds, identity=None):
    flags = tuple(Flag(s.settlement_id, k, 0.9, f"because {k}") for k in kinds)
    return CheckResult(s, CheckStatus.FLAGGED if flags else CheckStatus.CLEAN, flags, {"frames_checked": 3},
                       identity=identity)


def setup(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    return engine, session_factory(engine)


def save(factory, *results):
    with transaction(factory) as session:
        run = repository.start_run(session, settlements_file="x.csv", videos="v")
        for r in results:
            repository.save_result(session, run_id=run, result=r)


def test_migrations_match_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from database.models import Base

    engine, _ = setup(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_save_is_idempotent_on_settlement_and_kind(db_url):
    engine, factory = setup(db_url)
    s = settlement(1)
    for _ in range(3):
        save(factory, result(s, FlagKind.NO_CUSTOMER, FlagKind.BURST))
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(FlagRow)) == 2
        assert session.scalar(select(func.count()).select_from(SettlementRow)) == 1
        assert session.get(CheckRow, "S1").status == "flagged"


def test_reaudit_keeps_reviewed_flags_and_drops_stale_open_ones(db_url):
    engine, factory = setup(db_url)
    s = settlement(1)
    save(factory, result(s, FlagKind.NO_CUSTOMER, FlagKind.BURST))
    with transaction(factory) as session:
        session.scalars(select(FlagRow).where(FlagRow.kind == "burst")).one().review_status = "confirmed"
    save(factory, result(s))  # the new audit raises nothing
    with factory() as session:
        assert [f.kind for f in session.scalars(select(FlagRow))] == ["burst"]
        assert session.get(CheckRow, "S1").status == "clean"


def test_card_ids_are_never_stored_in_clear(db_url):
    engine, factory = setup(db_url)
    save(factory, result(settlement(1, card="110101199001011234")))
    with engine.connect() as conn:
        dump = " ".join(str(row) for table in ("settlements", "checks", "flags")
                        for row in conn.execute(text(f"SELECT * FROM {table}")))
    assert "110101199001011234" not in dump and "S1" in dump


def test_face_signatures_round_trip_and_are_purged(db_url):
    engine, factory = setup(db_url)
    face = np.arange(128, dtype=np.float32) / 128
    s = settlement(1)
    save(factory, result(s, identity=face))
    with factory() as session:
        (record,) = repository.identity_history(session, start=s.settled_at - timedelta(days=1),
                                                end=s.settled_at + timedelta(days=1), exclude=set())
        assert np.allclose(record.identity, face) and record.card_hash == s.card_hash
        assert repository.identity_history(session, start=s.settled_at - timedelta(days=1),
                                           end=s.settled_at, exclude={"S1"}) == []
    with transaction(factory) as session:
        later = s.settled_at + timedelta(days=400)
        assert repository.purge_face_signatures(session, retention_days=30, now=later) == 1
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(FaceSignature)) == 0


def test_times_come_back_aware_and_equal(db_url):
    engine, factory = setup(db_url)
    s = settlement(1)
    save(factory, result(s))
    with factory() as session:
        row = session.get(SettlementRow, "S1")
        assert row.settled_at == s.settled_at and row.settled_at.tzinfo is not None
